"""``tserve``: predictions and model management from a shell, over ``client.Client``.

    tserve predict digits examples/seven.png
    tserve predict cancer --json examples/cancer_row.json
    tserve predict minilm --text "The striker scored twice." --label football --label cooking
    tserve models list
    tserve models scale digits --workers 2
    tserve models register build/v2/cancer.mar     # copied into the store as cancer-2.0.mar
    tserve models reload cancer                    # after `make archive`: serve the rebuilt one
    tserve --json models describe cancer --customized

Output is for people unless ``--json`` (before the verb, or after a ``models``/``metrics``
verb) asks for the server's JSON. On error: one line on stderr and an exit code that says
what kind of error it was (``EXIT_CODES``). URLs and tokens come from the environment
(``TSERVE_INFERENCE_URL``, ``TSERVE_TOKEN``, ... see ``client.api`` and ``client.tokens``).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from client import output
from client.api import Client
from client.errors import (
    AuthError,
    BadInputError,
    ClientError,
    NotFoundError,
    ServerFaultError,
    TransportError,
    TServeError,
)
from server.settings import (
    HOST,
    INFERENCE_PORT,
    INFERENCE_TOKEN_ENV,
    INFERENCE_URL_ENV,
    KEY_FILE,
    MANAGEMENT_PORT,
    MANAGEMENT_TOKEN_ENV,
    MANAGEMENT_URL_ENV,
    METRICS_PORT,
    METRICS_URL_ENV,
    MODEL_STORE,
    RUN_DIR_ENV,
)

# Exit status per error type (the nearest class in the error's MRO wins); 2 is argparse's
# usage error and also a local input problem (a missing file, unparsable JSON).
EXIT_USAGE = 2
EXIT_CODES: dict[type[TServeError], int] = {
    BadInputError: 3,
    NotFoundError: 4,
    AuthError: 5,
    ClientError: 6,  # other refusals: API off (405), default version, conflicts
    ServerFaultError: 7,
    TransportError: 8,
    TServeError: 1,
}


EPILOG = f"""\
environment: {INFERENCE_URL_ENV}, {MANAGEMENT_URL_ENV}, {METRICS_URL_ENV} (default
{HOST}:{INFERENCE_PORT}/{MANAGEMENT_PORT}/{METRICS_PORT}); {INFERENCE_TOKEN_ENV}, \
{MANAGEMENT_TOKEN_ENV}, else {KEY_FILE} in
{RUN_DIR_ENV} (default: this checkout's .run/, then the current folder).
exit codes: 0 ok, 1 other, 2 usage or local file, 3 bad input, 4 unknown model or version,
5 token, 6 refused (API off, default version, conflict), 7 server fault, 8 no connection."""


STORE_HELP = "the server's model store, where a local .mar is copied (default: this checkout's)"


def exit_code(error: TServeError) -> int:
    return next(EXIT_CODES[cls] for cls in type(error).__mro__ if cls in EXIT_CODES)


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tserve",
        description="Predictions and model management for this project's TorchServe.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", dest="as_json", help="print JSON")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (60)")
    # The same --json after a verb; SUPPRESS so the verb's default does not undo the global one.
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", dest="as_json", default=argparse.SUPPRESS)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="{predict,models,metrics}")

    predict = verbs.add_parser("predict", help="send one input to a model")
    predict.add_argument("model")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "file", nargs="?", type=Path, help="a file, sent by its type (.png, .json, .txt)"
    )
    source.add_argument("--image", type=Path, help="an image file (PNG or JPEG)")
    source.add_argument("--text", action="append", help="a text (repeat for several)")
    source.add_argument("--json", type=Path, dest="json_file", help="a JSON document ('-': stdin)")
    predict.add_argument("--label", action="append", dest="labels", help="rank this label (text)")
    predict.add_argument("--version", help="a version other than the default")
    predict.set_defaults(run=run_predict)

    metrics = verbs.add_parser("metrics", parents=[as_json], help="Prometheus metrics")
    metrics.add_argument("--name", action="append", default=[], help="only this metric")
    metrics.set_defaults(run=run_metrics)

    models = verbs.add_parser("models", help="list, describe, register, scale, ...")
    actions = models.add_subparsers(dest="action", required=True)
    actions.add_parser("list", parents=[as_json], help="registered models").set_defaults(
        run=lambda client, args: client.list_models(), show=output.models
    )
    describe = actions.add_parser("describe", parents=[as_json], help="versions and workers")
    describe.add_argument("model")
    describe.add_argument("--version", help="a version, or 'all' (default: the default one)")
    describe.add_argument("--customized", action="store_true", help="add the build metadata")
    describe.set_defaults(
        run=lambda client, args: client.describe(
            args.model, args.version, customized=args.customized
        ),
        show=output.description,
    )
    register = actions.add_parser("register", parents=[as_json], help="load a .mar")
    register.add_argument(
        "url", help="a .mar path (copied into the model store), a name in the store, or a URL"
    )
    register.add_argument("--name", help="register under this name (default: the archive's)")
    register.add_argument("--batch-size", type=non_negative)
    register.add_argument("--max-batch-delay", type=non_negative, metavar="MS")
    register.add_argument("--workers", type=non_negative, help="initial workers")
    register.add_argument("--no-wait", action="store_true", help="return before workers start")
    register.add_argument("--model-store", type=Path, default=MODEL_STORE, help=STORE_HELP)
    register.set_defaults(run=run_register, show=output.status)
    reload = actions.add_parser("reload", parents=[as_json], help="serve a rebuilt archive")
    reload.add_argument("model")
    reload.add_argument("--archive", type=Path, help="default: the store's MODEL.mar")
    reload.add_argument("--model-store", type=Path, default=MODEL_STORE, help=STORE_HELP)
    reload.set_defaults(run=run_reload, show=output.status)
    unregister = actions.add_parser("unregister", parents=[as_json], help="remove a version")
    unregister.add_argument("model")
    unregister.add_argument("--version", help="default: the default version")
    unregister.set_defaults(
        run=lambda client, args: client.unregister(args.model, args.version), show=output.status
    )
    scale = actions.add_parser("scale", parents=[as_json], help="set the number of workers")
    scale.add_argument("model")
    scale.add_argument("--workers", type=non_negative, required=True, help="minimum workers")
    scale.add_argument("--max-workers", type=non_negative, help="default: --workers")
    scale.add_argument("--version", help="default: the default version")
    scale.add_argument("--no-wait", action="store_true", help="return before workers change")
    scale.set_defaults(run=run_scale, show=output.status)
    default = actions.add_parser("set-default", parents=[as_json], help="serve this version")
    default.add_argument("model")
    default.add_argument("version")
    default.set_defaults(
        run=lambda client, args: client.set_default(args.model, args.version), show=output.status
    )
    return parser


def json_document(text: str, origin: str) -> Any:
    """``text`` as JSON; a mistake names where the text came from and where it went wrong."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{origin} is not JSON: {error}") from None


def prediction_input(args: argparse.Namespace) -> dict[str, Any]:
    """``Client.predict`` keyword arguments from the predict options."""
    if args.image is not None:
        return {"image": args.image}
    if args.text is not None:
        return {"text": args.text[0] if len(args.text) == 1 else args.text}
    if args.json_file is not None:
        if str(args.json_file) == "-":
            return {"document": json_document(sys.stdin.read(), "standard input")}
        return {"document": json_document(args.json_file.read_text(), str(args.json_file))}
    media_type, _ = mimetypes.guess_type(args.file.name)
    if media_type == "application/json":
        return {"document": json_document(args.file.read_text(), str(args.file))}
    if media_type and media_type.startswith("image/"):
        return {"image": args.file}
    if media_type and media_type.startswith("text/"):
        return {"text": args.file.read_text()}
    raise ValueError(f"cannot tell what {args.file} holds: use --image, --text or --json")


def run_predict(client: Client, args: argparse.Namespace) -> Any:
    inputs = prediction_input(args)
    return client.predict(args.model, **inputs, labels=args.labels, version=args.version)


def run_metrics(client: Client, args: argparse.Namespace) -> Any:
    text = client.metrics(args.name)
    return output.metric_samples(text) if args.as_json else text


def run_register(client: Client, args: argparse.Namespace) -> Any:
    return client.register(
        args.url,
        model_name=args.name,
        batch_size=args.batch_size,
        max_batch_delay=args.max_batch_delay,
        initial_workers=args.workers,
        synchronous=not args.no_wait,
        model_store=args.model_store,
    )


def run_reload(client: Client, args: argparse.Namespace) -> Any:
    archive = args.archive or args.model_store / f"{args.model}.mar"
    return client.reload(args.model, archive, model_store=args.model_store)


def run_scale(client: Client, args: argparse.Namespace) -> Any:
    return client.scale(
        args.model,
        args.workers,
        args.max_workers,
        version=args.version,
        synchronous=not args.no_wait,
    )


def render(args: argparse.Namespace, result: Any) -> str:
    """The result as JSON (``--json``), else through the verb's human renderer."""
    if args.as_json:
        return json.dumps(result, indent=2)
    show: Callable[[Any], str] = getattr(
        args, "show", output.prediction if args.verb == "predict" else str
    )
    return show(result)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(Client(timeout=args.timeout), args)
    except TServeError as error:
        return fail(str(error), exit_code(error))
    except (OSError, ValueError) as error:  # a local file or its JSON; a wrong combination
        return fail(str(error), EXIT_USAGE)
    try:
        print(render(args, result))
    except BrokenPipeError:  # the reader (e.g. `| head`) left early: not an error here
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def fail(reason: str, code: int) -> int:
    """Print the one-line reason and return the exit code."""
    print(f"tserve: {' '.join(reason.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
