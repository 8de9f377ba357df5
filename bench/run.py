"""`make bench`: every contestant, same machine, same load generator, one run.

    python -m bench.run [--models ...] [--contestants ...] [--levels 1 8 32 64]
                        [--rounds 3] [--seconds 3] [--warmup 30] [--warmup-python 5]
                        [--set MODEL.KEY=VALUE ...] [--env NAME=VALUE ...] [--out bench/results]

Writes <out>/<timestamp>/{results.md, results.png, raw.json}. One contestant is driven at a
time, so none takes CPU from another. Each level is measured in rounds, every contestant
once per round, and the round with the median req/s counts: a burst of outside load on a
shared machine then spoils one round, not the result. Before any timing, every contestant's
answers are checked against this project's TorchServe's (the same labels, probabilities
and embeddings within tests/answers.py's TOLERANCE). The files are rewritten after each
level, so a cut-off run keeps what it measured. --set and --env try settings on this
project's TorchServe (archives re-packed; worker environment) before they are committed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import requests
import yaml

from bench import limit, report, settle
from bench.contestants import (
    CORES,
    PEERS,
    Endpoint,
    flask_gunicorn,
    merged,
    model_settings,
    pause,
    peer,
    stock_settings,
    torchserve,
)
from bench.loadgen import Run, run_wrk, wrk_path
from bench.workloads import WORKLOADS, Workload
from server.settings import ROOT, assignment
from tests.answers import agrees

RESULTS = ROOT / "bench" / "results"
SERVED = ("torchserve", "door", "stock", "flask", *PEERS)
JAVA = ("torchserve", "door", "stock")  # TorchServe's frontend: warmed up longer


class BenchError(RuntimeError):
    """A contestant answered wrongly: its figures would not be comparable."""


def servers(
    run_dir: Path,
    models: list[str],
    tuned: dict[str, dict[str, Any]],
    env: dict[str, str],
) -> dict[str, Callable[[], Any]]:
    """Context-manager factories per served contestant. ``tuned``: settings per model to try
    on this project's archives (--set), none to serve them as packed; ``env``: added to its
    workers' environment (--env)."""
    stock = {name: stock_settings() for name in models}
    return {
        "torchserve": lambda: torchserve(run_dir / "torchserve", models, tuned or None, env),
        "stock": lambda: torchserve(run_dir / "stock", models, stock, upstream=True),
        "flask": lambda: flask_gunicorn(run_dir / "flask"),
    } | {name: (lambda name=name: peer(name, run_dir / name, models)) for name in PEERS}


def with_door(endpoints: dict[str, Endpoint], door: bool) -> dict[str, Endpoint]:
    """TorchServe contestants measured directly (as TorchServe alone would be), and this
    project's also through its front door ("door"): the same server, the door's cost."""
    direct = {name: endpoint.direct or endpoint for name, endpoint in endpoints.items()}
    if door and "torchserve" in endpoints:
        direct["door"] = endpoints["torchserve"]
    return direct


def verify(endpoint: Endpoint, workload: Workload) -> list[Any]:
    """One request per body: each must come back 200 with a right answer; the answers."""
    bodies, content_type = workload.wire(endpoint.json_only)
    answers = []
    for body in bodies:
        response = requests.post(
            endpoint.url + workload.path,
            data=body,
            headers=endpoint.headers | {"Content-Type": content_type},
            timeout=60,
        )
        problem = f"HTTP {response.status_code}" if response.status_code != 200 else None
        problem = problem or workload.check(response.json())
        if problem:
            raise BenchError(f"{endpoint.url}{workload.path}: {problem}: {response.text[:300]}")
        answers.append(response.json())
    return answers


def verify_all(endpoints: dict[str, Endpoint], workload: Workload) -> None:
    """Every contestant answers every body rightly, and as the first one (this project's
    TorchServe when measured) does: its figures are then for the same work."""
    reference: tuple[str, list[Any]] | None = None
    for name, endpoint in endpoints.items():
        with active(endpoint):
            answers = verify(endpoint, workload)
        if reference is None:
            reference = (name, answers)
            continue
        differences = agrees(reference[1], answers)
        if differences:
            raise BenchError(
                f"{name} answers {workload.model} otherwise than {reference[0]}: "
                + "; ".join(differences[:5])
            )


@contextlib.contextmanager
def cpu_share() -> Iterator[dict[str, float]]:
    """Yields a dict that holds, on exit, the share of all CPUs busy meanwhile."""
    before = psutil.cpu_times()
    result: dict[str, float] = {}
    yield result
    after = psutil.cpu_times()
    total = sum(after) - sum(before)
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    result["busy"] = round(1 - idle / total, 3) if total else 0.0


@contextlib.contextmanager
def active(endpoint: Endpoint) -> Iterator[Endpoint]:
    """A peer's processes running for its turn only, paused (SIGSTOP) otherwise (see
    contestants.pause); other servers are left as they are."""
    pause(endpoint, False)
    try:
        yield endpoint
    finally:
        pause(endpoint, True)


def drive(
    endpoint: Endpoint, workload: Workload, clients: int, seconds: float, idle: float = 0.0
) -> tuple[Run, dict[str, Any]]:
    """wrk against one contestant, then wait until the server has done the requests it
    still holds, so that their CPU does not land on the next contestant measured; ``idle``:
    the share of a core the server takes with no load (its quiet)."""
    bodies, content_type = workload.wire(endpoint.json_only)
    headers = endpoint.headers | {"Content-Type": content_type}
    with cpu_share() as share:
        run = run_wrk(endpoint.url + workload.path, bodies, headers, clients, seconds)
    extra: dict[str, Any] = {"busy": share["busy"]}
    if endpoint.pid is not None:
        quiet_share = settle.QUIET_SHARE + idle
        quiet, extra["settle_s"] = settle.wait_quiet(endpoint.pid, share=quiet_share)
        if not quiet:
            print(
                f"warning: {endpoint.url} still busy {extra['settle_s']} s after the load",
                flush=True,
            )
    return run, extra


def idle_shares(endpoints: dict[str, Endpoint]) -> dict[str, float]:
    """Per peer (a server in a session of its own), the share of a core it takes idle."""
    return {
        name: settle.idle_share(endpoint.pid)
        for name, endpoint in endpoints.items()
        if endpoint.session and endpoint.pid is not None
    }


def settings_from(assignments: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """``--set minilm.maxBatchDelay=2 --set digits.handler.top_k=3`` -> settings per model."""
    settings: dict[str, dict[str, Any]] = {}
    for path, value in assignments:
        model, *keys = path.split(".")
        if not keys or model not in WORKLOADS:
            raise ValueError(
                f"--set {path}={value}: expected MODEL.KEY=VALUE, MODEL in {sorted(WORKLOADS)}"
            )
        table = settings.setdefault(model, {})
        for key in keys[:-1]:
            table = table.setdefault(key, {})
        table[keys[-1]] = yaml.safe_load(value)  # numbers stay numbers
    return settings


def median_round(measured: list[tuple[Run, dict[str, Any]]]) -> tuple[Run, dict[str, Any]]:
    """The round with the median req/s (the lower middle one of an even count)."""
    ranked = sorted(measured, key=lambda pair: pair[0].rps)
    return ranked[(len(ranked) - 1) // 2]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    version = subprocess.run([wrk_path(), "--version"], capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": CORES,
        "python": platform.python_version(),
        "loadgen": (version.stdout or version.stderr).split("Copyright")[0].strip(),
        "load_before": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument(
        "--contestants", nargs="+", choices=["limit", *SERVED], default=["limit", *SERVED]
    )
    parser.add_argument(
        "--levels", nargs="+", type=int, default=[1, 8, 32, 64], help="concurrent clients"
    )
    parser.add_argument("--rounds", type=int, default=3, help="per level; the median counts")
    parser.add_argument("--seconds", type=float, default=3.0, help="per level and round")
    # TorchServe's Java frontend compiles its hot paths for ~25 s of minilm traffic (the C2
    # compiler thread takes 0.1-0.2 of a core meanwhile, 0.007 after): measure it warm.
    parser.add_argument(
        "--warmup",
        type=float,
        default=30.0,
        help="seconds per TorchServe and model at the nominal load",
    )
    parser.add_argument(
        "--warmup-python",
        type=float,
        default=5.0,
        help="seconds per Python server (Flask, the peers) and model at the nominal load",
    )
    parser.add_argument(
        "--set",
        action="append",
        type=assignment,
        default=[],
        metavar="MODEL.KEY=VALUE",
        help="try a model setting on this project's TorchServe "
        "(repacked archive), e.g. minilm.maxBatchDelay=2",
    )
    parser.add_argument(
        "--env",
        action="append",
        type=assignment,
        default=[],
        metavar="NAME=VALUE",
        help="add to the environment of this project's TorchServe, e.g. OPENBLAS_NUM_THREADS=1",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        tuned = settings_from(args.set)
    except ValueError as error:
        parser.error(str(error))
    env = dict(args.env)

    folder = args.out / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    record: dict[str, Any] = {
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "settings": {
            "seconds": args.seconds,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "warmup_python": args.warmup_python,
            "levels": args.levels,
        },
        "server_settings": {
            "torchserve": {
                name: merged(model_settings(name), tuned.get(name, {})) for name in args.models
            }
            | ({"environment": env} if env else {}),
            "stock": stock_settings(),
            "flask": "gunicorn sync, workers = cores, 1 torch thread each (bench/gunicorn_conf.py)",
        }
        | {name: PEERS[name].settings for name in PEERS if name in args.contestants},
        "runs": [],
    }

    def add(contestant: str, model: str, run: Run, **extra: Any) -> None:
        record["runs"].append({"contestant": contestant, "model": model} | run.as_dict() | extra)
        figures = f"{run.rps:8.1f} req/s p50 {run.p50_ms:7.1f} p99 {run.p99_ms:7.1f} ms"
        print(f"{contestant:>10} {model:>6} {run.concurrency:>3} clients: {figures}", flush=True)

    served = [name for name in SERVED if name in args.contestants]
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-") as scratch,
            contextlib.ExitStack() as stack,
        ):
            # Every server is up for the whole run (an idle one takes no CPU) and they are
            # measured in turn, level by level: a burst of outside load on this shared
            # machine then falls on all contestants alike rather than on one of them.
            factories = servers(Path(scratch), args.models, tuned, env)
            endpoints = {
                name: stack.enter_context(factories[name]()) for name in served if name != "door"
            }
            endpoints = with_door(endpoints, "door" in served)
            idle = idle_shares(endpoints)
            record["idle_share"] = idle
            for endpoint in endpoints.values():
                pause(endpoint, True)
            pool = stack.enter_context(limit.pool()) if "limit" in args.contestants else None
            for model in args.models:
                workload = WORKLOADS[model]
                verify_all(endpoints, workload)
                warmed: set[int | None] = set()
                for name, endpoint in endpoints.items():
                    # TorchServe's frontend is one JVM per server, whichever way it is called.
                    java = name in JAVA and endpoint.pid not in warmed
                    warmed.add(endpoint.pid)
                    seconds = args.warmup if java else args.warmup_python
                    with active(endpoint):
                        drive(endpoint, workload, workload.nominal, seconds, idle.get(name, 0))
                for clients in args.levels:
                    rounds: dict[str, list[tuple[Run, dict[str, Any]]]] = {}
                    for _ in range(args.rounds):
                        if pool is not None:
                            run, shape = pool.measure(workload, clients, args.seconds / 2)
                            rounds.setdefault("limit", []).append((run, {"shape": shape}))
                        for name, endpoint in endpoints.items():
                            with active(endpoint):
                                run, extra = drive(
                                    endpoint, workload, clients, args.seconds, idle.get(name, 0)
                                )
                            rounds.setdefault(name, []).append((run, extra))
                    for name, measured in rounds.items():
                        run, extra = median_round(measured)
                        add(name, model, run, **extra, rounds_rps=[r.rps for r, _ in measured])
                    report.write(folder, record | {"finished": "(running)"})
    finally:
        record["machine"]["load_after"] = os.getloadavg()
        record["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        report.write(folder, record)
    print(f"wrote {folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder}/results.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
