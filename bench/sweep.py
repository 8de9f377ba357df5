"""`make bench-sweep`: TorchServe settings one at a time around this project's, per model.

    python -m bench.sweep [--models ...] [--seconds 6] [--out bench/results]

For each model, its packed config/models/<name>.yaml is the baseline; each variant changes
one thing (batch size, max batch delay, workers x torch threads, or numpy's BLAS threads
through the worker environment) and is served alone by a fresh TorchServe. Measured: req/s
and latency at the model's nominal clients, and p50 for a lone client (who pays the
batch delay). Writes <out>/sweep-<timestamp>/{sweep.md, sweep.json}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.contestants import model_settings, torchserve
from bench.report import NOMINAL
from bench.run import RESULTS, drive, verify
from bench.workloads import WORKLOADS

BLAS_ONE = {"OPENBLAS_NUM_THREADS": "1"}  # what threadpoolctl's limit in the handler would do


def variants(model: str, base: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(label, settings, worker environment) per variant, the baseline first."""
    threads = base.get("handler", {}).get("torch_threads", 1)
    batches = [1, 8, 16, 32, 64]
    delays = [2, 5, 10, 20, 40] if model == "minilm" else [1, 2, 5, 10, 20]
    shapes = [(1, 1), (1, 2), (2, 1)]
    found: list[tuple[str, dict[str, Any], dict[str, str]]] = [("baseline", {}, {})]
    found += [(f"batchSize {b}", {"batchSize": b}, {}) for b in batches if b != base["batchSize"]]
    found += [(f"maxBatchDelay {d} ms", {"maxBatchDelay": d}, {})
              for d in delays if d != base["maxBatchDelay"]]  # fmt: skip
    found += [
        (f"{w} worker(s) x {t} torch thread(s)",
         {"minWorkers": w, "maxWorkers": w, "handler": {"torch_threads": t}}, {})
        for w, t in shapes if (w, t) != (base["minWorkers"], threads)
    ]  # fmt: skip
    found.append(("numpy BLAS 1 thread", {}, BLAS_ONE))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--seconds", type=float, default=6.0, help="measured time per variant")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    folder = args.out / datetime.datetime.now().strftime("sweep-%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    record: dict[str, Any] = {"load_before": os.getloadavg(), "rows": []}
    for model in args.models:
        workload, base = WORKLOADS[model], model_settings(model)
        for label, settings, env in variants(model, base):
            with (
                tempfile.TemporaryDirectory(prefix="sweep-") as scratch,
                torchserve(Path(scratch), [model], {model: settings}, env) as endpoint,
            ):
                verify(endpoint, workload)
                drive(endpoint, workload, NOMINAL[model], 2)  # warm-up
                lone, _ = drive(endpoint, workload, 1, args.seconds / 2)
                run, busy = drive(endpoint, workload, NOMINAL[model], args.seconds)
            row = {"model": model, "variant": label, "settings": settings, "env": env,
                   "lone_p50_ms": lone.p50_ms, "busy": busy} | run.as_dict()  # fmt: skip
            record["rows"].append(row)
            print(f"{model:>6} {label:<32} {run.rps:8.1f} req/s p50 {run.p50_ms:7.1f} "
                  f"p99 {run.p99_ms:7.1f} lone p50 {lone.p50_ms:6.1f} ms", flush=True)  # fmt: skip
            record["load_after"] = os.getloadavg()
            (folder / "sweep.json").write_text(json.dumps(record, indent=2) + "\n")
            (folder / "sweep.md").write_text(markdown(record))
    print(f"wrote {folder}/sweep.md")
    return 0


def markdown(record: dict[str, Any]) -> str:
    lines = [
        "# TorchServe settings sweep (one change at a time from config/models/*.yaml)",
        "",
        f"Load average (1 min): {record['load_before'][0]:.2f} before, "
        f"{record.get('load_after', record['load_before'])[0]:.2f} after. "
        "`lone p50`: median latency of a single client calling back to back.",
    ]
    for model in dict.fromkeys(row["model"] for row in record["rows"]):
        lines += ["", f"## {model} ({NOMINAL[model]} clients)", "",
                  "| variant | req/s | p50 ms | p95 ms | p99 ms | errors | lone p50 ms | busy |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|"]  # fmt: skip
        for row in (row for row in record["rows"] if row["model"] == model):
            lines.append(
                f"| {row['variant']} | {row['rps']:.0f} | {row['p50_ms']:.1f} | "
                f"{row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} | "
                f"{row['lone_p50_ms']:.1f} | {row['busy']:.0%} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
