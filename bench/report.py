"""Turn a benchmark record into results.md (tables, targets) and results.png (curves)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.settle import QUIET_SHARE, WINDOW_S
from tests.answers import TOLERANCE

LABELS = {
    "limit": "in-process limit",
    "torchserve": "TorchServe (this project)",
    "door": "TorchServe (this project) behind its front door",
    "stock": "TorchServe (stock settings)",
    "flask": "Flask + gunicorn",
    "litserve": "LitServe",
    "bentoml": "BentoML",
}
COLOURS = {
    "limit": "tab:gray",
    "torchserve": "tab:blue",
    "door": "tab:green",
    "stock": "tab:orange",
    "flask": "tab:red",
    "litserve": "tab:purple",
    "bentoml": "tab:brown",
}
NOMINAL = {"digits": 64, "cancer": 64, "minilm": 32}  # clients at which targets are judged
PEERS = ("stock", "flask", "litserve", "bentoml")  # what a user would pick instead
LIMIT_SHARE = 0.85  # of the honest limit, minilm at its nominal clients
FLASK_MARGIN_MS = 1.5  # one client's p50 over Flask's, at most


@dataclass(frozen=True)
class Target:
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run


def find(
    record: dict[str, Any], contestant: str, model: str, clients: int
) -> dict[str, Any] | None:
    return next(
        (
            run
            for run in record["runs"]
            if (run["contestant"], run["model"], run["concurrency"]) == (contestant, model, clients)
        ),
        None,
    )


def ratio_target(record: dict[str, Any], model: str, other: str, factor: float) -> Target:
    """TorchServe (this project) against ``other`` at the model's nominal clients."""
    clients = NOMINAL[model]
    share = f"{factor:.0%} of" if factor < 1 else f"{factor:g}x"
    if factor == 1:
        share = "the req/s of"
    goal = f"{model}: >= {share} {LABELS[other]} at {clients} clients"
    ours, theirs = find(record, "torchserve", model, clients), find(record, other, model, clients)
    if ours is None or theirs is None or not theirs["rps"]:
        return Target(goal, "not measured", None)
    ratio = ours["rps"] / theirs["rps"]
    text = f"{ratio:.2f}x ({ours['rps']:.0f} vs {theirs['rps']:.0f} req/s)"
    clean = ours["errors"] == 0
    return Target(
        goal, text if clean else f"{text}, {ours['errors']} errors", clean and ratio >= factor
    )


def tail_target(record: dict[str, Any], model: str) -> Target:
    clients = NOMINAL[model]
    goal = f"{model}: p99 <= 3x p50 at {clients} clients (TorchServe, this project)"
    run = find(record, "torchserve", model, clients)
    if run is None or not run["p50_ms"]:
        return Target(goal, "not measured", None)
    ratio = run["p99_ms"] / run["p50_ms"]
    return Target(goal, f"{ratio:.2f}x ({run['p99_ms']:.0f} / {run['p50_ms']:.0f} ms)", ratio <= 3)


def door_targets(record: dict[str, Any], model: str) -> list[Target]:
    """The front door's cost on the same server: at most 10% of the throughput at the
    nominal clients, at most 1 ms of p50 at one client."""
    clients = NOMINAL[model]
    goal = f"{model}: behind the door >= 90% of direct req/s at {clients} clients"
    door, direct = find(record, "door", model, clients), find(record, "torchserve", model, clients)
    if door is None or direct is None or not direct["rps"]:
        throughput = Target(goal, "not measured", None)
    else:
        ratio = door["rps"] / direct["rps"]
        text = f"{ratio:.2f}x ({door['rps']:.0f} vs {direct['rps']:.0f} req/s)"
        throughput = Target(goal, text, ratio >= 0.9 and door["errors"] == 0)
    goal = f"{model}: the door adds <= 1 ms p50 at 1 client"
    door, direct = find(record, "door", model, 1), find(record, "torchserve", model, 1)
    if door is None or direct is None:
        return [throughput, Target(goal, "not measured", None)]
    added = door["p50_ms"] - direct["p50_ms"]
    text = f"{added:+.2f} ms ({door['p50_ms']:.2f} vs {direct['p50_ms']:.2f} ms)"
    return [throughput, Target(goal, text, added <= 1.0)]


def one_client_targets(record: dict[str, Any], model: str) -> list[Target]:
    """A lone client's p50: no worse than stock TorchServe's, within 1.5 ms of Flask's."""
    ours = find(record, "torchserve", model, 1)
    found = []
    for other, margin in (("stock", 0.0), ("flask", FLASK_MARGIN_MS)):
        within = f"<= {LABELS[other]}'s" + (f" + {margin:g} ms" if margin else "")
        goal = f"{model}: p50 at 1 client {within} (TorchServe, this project)"
        theirs = find(record, other, model, 1)
        if ours is None or theirs is None:
            found.append(Target(goal, "not measured", None))
            continue
        added = ours["p50_ms"] - theirs["p50_ms"]
        text = f"{added:+.2f} ms ({ours['p50_ms']:.2f} vs {theirs['p50_ms']:.2f} ms)"
        found.append(Target(goal, text, added <= margin))
    return found


def targets(record: dict[str, Any]) -> list[Target]:
    measured = {run["contestant"] for run in record["runs"]}
    peers = [peer for peer in PEERS if peer in measured]
    return [
        *(target for model in NOMINAL for target in door_targets(record, model)),
        ratio_target(record, "minilm", "limit", LIMIT_SHARE),
        *(ratio_target(record, model, peer, 1.0) for model in NOMINAL for peer in peers),
        ratio_target(record, "minilm", "flask", 2.0),
        ratio_target(record, "digits", "flask", 2.0),
        ratio_target(record, "cancer", "flask", 2.0),
        *(tail_target(record, model) for model in NOMINAL),
        *(target for model in NOMINAL for target in one_client_targets(record, model)),
    ]


def of_limit(record: dict[str, Any], run: dict[str, Any]) -> str:
    """A served run's req/s as a share of the honest limit's at the same model and clients."""
    if run["contestant"] == "limit":
        return "-"
    limit = find(record, "limit", run["model"], run["concurrency"])
    return f"{run['rps'] / limit['rps']:.2f}" if limit and limit["rps"] else "-"


def markdown(record: dict[str, Any]) -> str:
    machine, settings = record["machine"], record["settings"]
    after = machine.get("load_after", machine["load_before"])  # not yet there mid-run
    runs = record["runs"]
    generator = max((run["loadgen_cpu"] for run in runs if run["contestant"] != "limit"), default=0)
    lines = [
        "# Benchmark: honest in-process limit, TorchServe (tuned, behind its door, stock), "
        "Flask, LitServe, BentoML",
        "",
        f"- Run: {record['started']} to {record['finished']}, `{record['command']}`",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, no GPU; load average "
        f"(1 min) {machine['load_before'][0]:.2f} before, {after[0]:.2f} after",
        f"- Load generator: {machine['loadgen']}, 1 thread, N connections = N clients each "
        f"with one request in flight; {settings['warmup']:g} s warm-up per TorchServe and model "
        f"({settings.get('warmup_python', settings['warmup']):g} s for the Python servers), "
        f"then per level {settings.get('rounds', 1)} rounds of {settings['seconds']:g} s, every "
        "contestant once per round; the round with the median req/s is shown, `range` is the "
        f"lowest and highest req/s over the rounds. wrk's CPU: at most {generator:.1%} of one "
        "core.",
        "- Each request carries one item (PNG image / JSON row / text), so req/s = items/s. "
        "The honest limit: the `clients` items shared out among processes x torch threads "
        "(every core busy; the fastest shape is shown), each calling the model on back-to-back "
        "batches, reading every body and writing every answer, no HTTP (see docs). "
        "`of limit`: req/s / the limit's at the same clients.",
        "- Every contestant's answers were checked against this project's TorchServe's "
        f"(labels exact, numbers within {TOLERANCE:g}) before any timing.",
        "- `busy`: share of the machine's CPU in use during the run, everything included.",
        settled(runs),
        *paused(record),
        "",
        "## Targets (ratios from this run)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for target in targets(record):
        mark = {True: "yes", False: "**no**", None: "-"}[target.met]
        lines.append(f"| {target.goal} | {target.measured} | {mark} |")
    for model in dict.fromkeys(run["model"] for run in runs):
        lines += [
            "",
            f"## {model}",
            "",
            "| contestant | clients | req/s | of limit | range | p50 ms | p95 ms | p99 ms "
            "| errors | busy |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for run in (run for run in runs if run["model"] == model):
            label = LABELS.get(run["contestant"], run["contestant"])
            if run.get("shape"):
                label += f" ({run['shape']} processes x threads)"
            lines.append(
                f"| {label} | {run['concurrency']} | {run['rps']:.0f} | {of_limit(record, run)} "
                f"| {spread(run)} | "
                f"{run['p50_ms']:.1f} | "
                f"{run['p95_ms']:.1f} | {run['p99_ms']:.1f} | {run['errors']} | "
                f"{format(run['busy'], '.0%') if 'busy' in run else '-'} |"
            )
    lines += [
        "",
        "## Settings",
        "",
        "```json",
        json.dumps(record["server_settings"], indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def settled(runs: list[dict[str, Any]]) -> str:
    """The header line on waiting for each server to finish what it still held."""
    waits = [run for run in runs if "settle_s" in run]
    line = (
        f"- After each load, the server's processes had to go quiet (under "
        f"{QUIET_SHARE:.0%} of a core for {WINDOW_S:g} s) before the next contestant was "
        "measured: requests it still held when wrk stopped would otherwise take CPU from "
        "the next one."
    )
    if not waits:
        return line
    slowest = max(waits, key=lambda run: run["settle_s"])
    label = LABELS.get(slowest["contestant"], slowest["contestant"])
    return (
        f"{line} Longest wait (shown rounds): {slowest['settle_s']:g} s, {label}, "
        f"{slowest['model']} at {slowest['concurrency']} clients."
    )


def paused(record: dict[str, Any]) -> list[str]:
    """The header line on the peers that take CPU while idle, if any was measured."""
    idle = record.get("idle_share") or {}
    if not idle:
        return []
    shares = ", ".join(f"{LABELS.get(name, name)} {share:.0%}" for name, share in idle.items())
    return [
        f"- Idle, the peers still take CPU (they poll their queues): {shares} of a core. "
        "Each is paused (SIGSTOP to its process group) outside its own turn, so that this "
        "does not fall on the contestant measured, and is judged quiet after a load at its "
        "idle share + 5% of a core."
    ]


def spread(run: dict[str, Any]) -> str:
    rounds = run.get("rounds_rps") or [run["rps"]]
    return f"{min(rounds):.0f}-{max(rounds):.0f}"


def plot(record: dict[str, Any], path: Path) -> None:
    """Throughput and p99 against clients, one column per model."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(run["model"] for run in record["runs"]))
    figure, axes = plt.subplots(2, len(models), figsize=(5 * len(models), 8), squeeze=False)
    for column, model in enumerate(models):
        for contestant, label in LABELS.items():
            runs = [
                r for r in record["runs"] if (r["model"], r["contestant"]) == (model, contestant)
            ]
            if not runs:
                continue
            clients = [run["concurrency"] for run in runs]
            # One colour per contestant in both rows; the limit dashed, and its p99 (of a
            # whole batch call) is not a client's latency, so it is left out.
            style = {"color": COLOURS[contestant], "marker": "o", "label": label}
            limit = contestant == "limit"
            axes[0][column].plot(clients, [r["rps"] for r in runs], "--" if limit else "-", **style)
            if not limit:
                axes[1][column].plot(clients, [r["p99_ms"] for r in runs], **style)
        axes[0][column].set_title(f"{model}: throughput")
        axes[0][column].set_ylabel("items/s")
        axes[1][column].set_title(f"{model}: p99 latency")
        axes[1][column].set_ylabel("ms")
        for row in (0, 1):
            axes[row][column].set_xscale("log", base=2)
            axes[row][column].set_yscale("log")  # the contestants differ by orders of magnitude
            axes[row][column].set_xlabel("concurrent clients")
            axes[row][column].grid(True, which="both", alpha=0.3)
            axes[row][column].legend(fontsize=8)
    figure.suptitle(f"{record['machine']['cores']}-core CPU, {record['started']}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write(folder: Path, record: dict[str, Any]) -> None:
    (folder / "raw.json").write_text(json.dumps(record, indent=2) + "\n")
    (folder / "results.md").write_text(markdown(record))
    if record["runs"]:
        plot(record, folder / "results.png")
