"""How many bytes TorchServe's logs grow by per 10,000 requests, valid and refused apart.

    python -m bench.lograte [--requests 10000] [--store DIR] [--config FILE] [--log-config FILE]

Starts TorchServe through the project's launcher (its own run folder, free loopback ports,
the cancer model only: the cheapest requests, so the frontend and the log lines dominate),
waits until every worker is READY, then sends ``--requests`` valid rows, then as many
refused ones (an undecodable JSON body: 400). After each phase it waits until the access log
holds a line for every request and the server's processes are idle (async appenders have
written), and reports what each file under the run's ``logs/`` folder gained, rolled-over
files included. ``make log-rate`` runs it against the project's config and archives; the
figures are in docs/load-and-bench.md ("Log growth").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.settle import wait_quiet
from server.launcher import TorchServe, loopback_ports
from server.settings import CONFIG, EXAMPLES, LOG_CONFIG, MODEL_STORE

MODEL = "cancer"
VALID = (EXAMPLES / "cancer_row.json").read_bytes()
REFUSED = b'{"inputs": [1'  # undecodable JSON: the client's mistake, answered 400
PER = 10_000  # figures are scaled to this many requests
CLIENTS = 4  # concurrent senders: enough to keep two workers busy on two cores


@dataclass(frozen=True)
class Phase:
    """One kind of request and the status every one of them must get."""

    name: str
    body: bytes
    status: int


PHASES = (Phase("valid", VALID, 200), Phase("refused", REFUSED, 400))


def log_sizes(folder: Path) -> dict[str, int]:
    """Size of every file under ``folder`` (rolled-over and compressed ones too)."""
    return {
        str(path.relative_to(folder)): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def growth(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Bytes each file gained (negative: it was rolled over) and ``total``, the disk growth."""
    names = sorted(before.keys() | after.keys())
    gained = {name: after.get(name, 0) - before.get(name, 0) for name in names}
    changed = {name: size for name, size in gained.items() if size}
    return changed | {"total": sum(gained.values())}


def line_count(path: Path) -> int:
    try:
        with path.open("rb") as log:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: log.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def send(server: TorchServe, phase: Phase, count: int) -> None:
    """``count`` requests of ``phase`` from ``CLIENTS`` threads; each must get its status."""
    url = f"{server.inference_url}/predictions/{MODEL}"
    headers = server.headers("inference") | {"Content-Type": "application/json"}
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=CLIENTS))

    def one(_: int) -> int:
        return session.post(url, data=phase.body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = list(pool.map(one, range(count)))
    wrong = [status for status in statuses if status != phase.status]
    if wrong:
        raise RuntimeError(f"{phase.name}: {len(wrong)} of {count} not {phase.status}: {wrong[:5]}")


def settle(server: TorchServe, access_lines: int, timeout: float = 120.0) -> None:
    """Until the access log has ``access_lines`` lines and the server is idle: async logging
    writes after the answers went out."""
    access_log = server.log_file.parent / "access_log.log"
    deadline = time.monotonic() + timeout
    while line_count(access_log) < access_lines:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{access_log} short of {access_lines} lines after {timeout}s")
        time.sleep(0.2)  # polling interval, bounded by the deadline
    pid = server.pid()
    if pid is None or not wait_quiet(pid, timeout=timeout)[0]:
        raise RuntimeError("the server did not go idle after the requests")


def measure(server: TorchServe, count: int) -> dict[str, dict[str, int]]:
    """Each phase's log growth per ``PER`` requests (``count`` sent), by file."""
    logs = server.log_file.parent
    access_log = logs / "access_log.log"
    report = {}
    for phase in PHASES:
        before = log_sizes(logs)
        lines = line_count(access_log)  # reads the current file: no rollover mid-phase
        send(server, phase, count)
        settle(server, lines + count)
        gained = growth(before, log_sizes(logs))
        report[phase.name] = {name: round(size * PER / count) for name, size in gained.items()}
    return report


def served(
    run_dir: Path, store: Path, config: Path, log_config: Path
) -> contextlib.AbstractContextManager[TorchServe]:
    """The cancer model served by the launcher on free loopback ports, always stopped."""
    server = TorchServe(
        run_dir,
        models=[MODEL],
        model_store=store,
        config=config,
        log_config=log_config,
        overrides=loopback_ports(),
    )
    return server.running(timeout=300)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lograte", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=PER, help="per phase (default 10000)")
    parser.add_argument("--store", type=Path, default=MODEL_STORE, help="holds cancer.mar")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--log-config", type=Path, default=LOG_CONFIG)
    parser.add_argument("--run-dir", type=Path, help="keep the run (logs) here; default: temp")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        run_dir = args.run_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(served(run_dir, args.store, args.config, args.log_config))
        report = measure(server, args.requests)
    print(json.dumps({"bytes_per": PER, "requests_sent": args.requests} | report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
