"""``python -m fuzz``: seeded malformed requests to every model beside valid traffic.

By default it starts its own TorchServe (the project's launcher and archives, free
loopback ports, run folder .run/fuzz); ``--reuse .run`` fuzzes the one ``make serve``
runs, ``--url``/``--management-url`` any other. Exit status 1 when the run fails: any
5xx for a client mistake, any hang, any worker restart, any valid request answered wrong.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fuzz.run import TIMEOUT, run
from fuzz.target import Target
from fuzz.valid import MODELS
from server.launcher import READY_TIMEOUT, TorchServe, loopback_ports
from server.settings import MANAGEMENT_URL, MODEL_STORE, RUN_DIR

OWN_RUN_DIR = RUN_DIR / "fuzz"  # the own server's config, keys and logs, kept for reading


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fuzz",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    p.add_argument("--count", type=int, default=10_000, help="malformed requests (10,000)")
    p.add_argument("--threads", type=int, default=4, help="threads sending them (4)")
    p.add_argument(
        "--valid-threads",
        type=int,
        default=1,
        help="threads per model sending valid requests beside them (1)",
    )
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds before a hang (30)")
    p.add_argument(
        "--case",
        type=int,
        action="append",
        metavar="INDEX",
        help="send only this case of the seed (repeatable): a failure's reproduction",
    )
    p.add_argument(
        "--reuse",
        type=Path,
        metavar="RUN_DIR",
        help="fuzz the TorchServe running from this folder (`make serve`: .run)",
    )
    p.add_argument("--url", help="inference URL of a running TorchServe")
    p.add_argument("--management-url", default=MANAGEMENT_URL)
    p.add_argument(
        "--model-store",
        type=Path,
        default=MODEL_STORE,
        help="archives for the fuzzer's own server (default model_store/)",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    return p


@contextmanager
def target_of(args: argparse.Namespace) -> Iterator[Target]:
    """The server to fuzz: a running one when named, else one of our own."""
    if args.reuse:
        yield Target.of(TorchServe(args.reuse, config=args.reuse / "config.properties"))
    elif args.url:
        yield Target.at(args.url, args.management_url, None)
    else:
        shutil.rmtree(OWN_RUN_DIR, ignore_errors=True)  # each run's logs alone
        own = TorchServe(
            OWN_RUN_DIR, list(args.models), args.model_store, overrides=loopback_ports()
        )
        with own.running(timeout=READY_TIMEOUT):
            yield Target.of(own)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with target_of(args) as target:
        report = run(
            target,
            count=args.count,
            seed=args.seed,
            threads=args.threads,
            valid_threads=args.valid_threads,
            models=args.models,
            timeout=args.timeout,
            indices=args.case,
            progress=True,
        )
    print(report.render())
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=1))
    return 0 if report.ok else 1
