"""Sum up request outcomes: counts, errors by what the client saw, latency percentiles."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from resilience.load import NO_ANSWER, Outcome


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` 0.99: p99) of ``values``; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def error_key(outcome: Outcome) -> str:
    """What the client saw, as one line: ``507 InternalServerException: Worker died.``,
    ``200 wrong answer: ...``, ``no answer: ...``."""
    if outcome.status == NO_ANSWER:
        return f"no answer: {outcome.detail}"[:240]
    if outcome.status == 200:
        return f"200 wrong answer: {outcome.detail}"[:240]
    return f"{outcome.status} {outcome.detail}"[:240]


def milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def summary(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """Requests, failures (by what the client saw), and latency p50/p99 of the answered."""
    done = list(outcomes)
    failed = [outcome for outcome in done if not outcome.ok]
    latencies = [outcome.latency for outcome in done if outcome.ok]
    return {
        "requests": len(done),
        "failed": len(failed),
        "failed_ratio": round(len(failed) / len(done), 5) if done else 0.0,
        "errors": dict(Counter(map(error_key, failed)).most_common()),
        "resent": sum(outcome.resent for outcome in done),
        "p50_ms": milliseconds(percentile(latencies, 0.50)),
        "p99_ms": milliseconds(percentile(latencies, 0.99)),
        # How late the load generator itself sent them (its threads all busy, or starved of
        # CPU): latency counts from the planned time, so this part of it is not the server's.
        "send_lag_p99_ms": milliseconds(percentile([o.started - o.planned for o in done], 0.99)),
    }


def between(outcomes: Iterable[Outcome], start: float, end: float) -> list[Outcome]:
    """The outcomes that ended in [start, end): when the client learnt its answer."""
    return [outcome for outcome in outcomes if start <= outcome.ended < end]


def first_ok_after(outcomes: Iterable[Outcome], moment: float) -> float | None:
    """Seconds from ``moment`` to the end of the first right answer to a request sent after
    it (a request sent before may have been answered by a worker that is gone)."""
    ends = [o.ended for o in outcomes if o.ok and o.started >= moment]
    return min(ends) - moment if ends else None


def write_json(report: dict[str, Any], folder: Path, stem: str) -> Path:
    """``report`` as ``folder/stem.json`` (folder created); returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
