"""`make bench-sweep`: TorchServe settings one at a time around this project's, per model.

    python -m bench.sweep [--models ...] [--rounds 3] [--seconds 5] [--out bench/results]

For each model, its packed config/models/<name>.yaml is the baseline; each variant changes
one thing (batch size, max batch delay, workers x torch threads, or numpy's BLAS threads
through the worker environment). All variants of a model are served at once, each as its
own model (re-packed archive) of one TorchServe (one more for an environment variant), and
are measured in turn, round after round: on this shared machine a burst of outside load
then hits every variant alike, and the median over rounds discards it.

Measured per variant and round: req/s and latency at the model's nominal clients, and p50
for a lone client (who pays the batch delay). Writes
<out>/sweep-<timestamp>/{sweep.md, sweep.json}.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.contestants import Endpoint, model_settings, repacked, torchserve
from bench.report import NOMINAL
from bench.run import RESULTS, drive, verify
from bench.workloads import WORKLOADS, Workload
from server.settings import MODEL_STORE

BLAS_ONE = {"OPENBLAS_NUM_THREADS": "1"}  # numpy reads it at import, in each worker
# Idle servers stay quiet: no system-metrics subprocess every minute per server.
QUIET = {"disable_system_metrics": "true"}


@dataclass
class Variant:
    label: str
    settings: dict[str, Any]
    env: dict[str, str]
    rounds: list[dict[str, Any]] = field(default_factory=list)


def variants(model: str, base: dict[str, Any]) -> list[Variant]:
    """The baseline, then one change at a time."""
    threads = base.get("handler", {}).get("torch_threads", 1)
    batches = [1, 8, 16, 32, 64]
    delays = [2, 5, 10, 20, 40] if model == "minilm" else [1, 2, 5, 10, 20]
    shapes = [(1, 1), (1, 2), (2, 1)]
    found = [Variant("baseline", {}, {})]
    found += [
        Variant(f"batchSize {b}", {"batchSize": b}, {}) for b in batches if b != base["batchSize"]
    ]
    found += [
        Variant(f"maxBatchDelay {d} ms", {"maxBatchDelay": d}, {})
        for d in delays
        if d != base["maxBatchDelay"]
    ]
    found += [
        Variant(
            f"{w} worker(s) x {t} torch thread(s)",
            {"minWorkers": w, "maxWorkers": w, "handler": {"torch_threads": t}},
            {},
        )
        for w, t in shapes
        if (w, t) != (base["minWorkers"], threads)
    ]
    found.append(Variant("numpy BLAS 1 thread", {}, BLAS_ONE))
    return found


@contextlib.contextmanager
def serve(
    model: str, found: list[Variant], scratch: Path
) -> Iterator[list[tuple[Variant, Endpoint, Workload]]]:
    """Yield (variant, endpoint, its workload) for every variant, all servers up."""
    workload = WORKLOADS[model]
    groups: dict[tuple[tuple[str, str], ...], list[tuple[str, Variant]]] = {}
    for index, variant in enumerate(found):
        groups.setdefault(tuple(sorted(variant.env.items())), []).append(
            (f"{model}_v{index}", variant)
        )
    with contextlib.ExitStack() as stack:
        served: list[tuple[Variant, Endpoint, Workload]] = []
        for number, (env, members) in enumerate(groups.items()):
            folder = scratch / f"server{number}"
            for name, variant in members:
                target = folder / "model_store" / f"{name}.mar"
                repacked(MODEL_STORE / f"{model}.mar", target, variant.settings)
            names = [name for name, _ in members]
            store = folder / "model_store"
            endpoint = stack.enter_context(
                torchserve(folder, names, env=dict(env), store=store, overrides=QUIET)
            )
            served += [(v, endpoint, replace(workload, model=name)) for name, v in members]
        yield sorted(served, key=lambda item: found.index(item[0]))


def summary(variant: Variant) -> dict[str, Any]:
    """Medians over the rounds, and the spread of req/s."""
    rounds = variant.rounds
    median = {
        key: statistics.median(r[key] for r in rounds)
        for key in ("rps", "p50_ms", "p95_ms", "p99_ms", "lone_p50_ms", "busy")
    }
    rps = [r["rps"] for r in rounds]
    return median | {
        "rps_min": min(rps),
        "rps_max": max(rps),
        "errors": sum(r["errors"] for r in rounds),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="per variant and round")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    folder = args.out / datetime.datetime.now().strftime("sweep-%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    record: dict[str, Any] = {
        "load_before": os.getloadavg(),
        "rounds": args.rounds,
        "seconds": args.seconds,
        "models": {},
    }

    def save() -> None:
        record["load_after"] = os.getloadavg()
        (folder / "sweep.json").write_text(json.dumps(record, indent=2) + "\n")
        (folder / "sweep.md").write_text(markdown(record))

    for model in args.models:
        clients, base = NOMINAL[model], model_settings(model)
        found = variants(model, base)
        record["models"][model] = {"baseline": base, "variants": []}
        with (
            tempfile.TemporaryDirectory(prefix="sweep-") as scratch,
            serve(model, found, Path(scratch)) as served,
        ):
            for _, endpoint, workload in served:
                verify(endpoint, workload)
                drive(endpoint, workload, clients, 2)  # warm-up
            for number in range(args.rounds):
                for variant, endpoint, workload in served:
                    lone, _ = drive(endpoint, workload, 1, args.seconds / 2)
                    run, extra = drive(endpoint, workload, clients, args.seconds)
                    variant.rounds.append(run.as_dict() | {"lone_p50_ms": lone.p50_ms} | extra)
                    print(
                        f"{model:>6} round {number + 1} {variant.label:<32} {run.rps:8.1f} "
                        f"req/s p50 {run.p50_ms:7.1f} p99 {run.p99_ms:7.1f} "
                        f"lone p50 {lone.p50_ms:6.1f} ms",
                        flush=True,
                    )
                record["models"][model]["variants"] = [
                    {"variant": v.label, "settings": v.settings, "env": v.env, "rounds": v.rounds}
                    | summary(v)
                    for v in found
                ]
                save()
    print(f"wrote {folder}/sweep.md")
    return 0


def markdown(record: dict[str, Any]) -> str:
    lines = [
        "# TorchServe settings sweep (one change at a time from config/models/*.yaml)",
        "",
        f"Load average (1 min): {record['load_before'][0]:.2f} before, "
        f"{record.get('load_after', record['load_before'])[0]:.2f} after. Medians of "
        f"{record['rounds']} rounds of {record['seconds']:g} s per variant, variants measured "
        "in turn within each round; `range`: lowest and highest req/s over the rounds. "
        "`lone p50`: median latency of a single client calling back to back.",
    ]
    for model, entry in record["models"].items():
        lines += [
            "",
            f"## {model} ({NOMINAL[model]} clients)",
            "",
            "| variant | req/s | range | p50 ms | p95 ms | p99 ms | errors | lone p50 ms |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for row in entry["variants"]:
            lines.append(
                f"| {row['variant']} | {row['rps']:.0f} | {row['rps_min']:.0f}-"
                f"{row['rps_max']:.0f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
                f"{row['p99_ms']:.1f} | {row['errors']} | {row['lone_p50_ms']:.1f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
