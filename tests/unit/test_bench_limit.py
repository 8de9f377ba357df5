"""bench.limit: the honest limit's shapes (every core busy) and how its figures add up;
and the report's targets and served/limit column from a record built here. Nothing is
timed."""

from __future__ import annotations

from typing import Any

import pytest

from bench import report
from bench.limit import shapes, shares, summary


@pytest.mark.parametrize(
    ("clients", "cores", "expected"),
    [
        (1, 2, [(1, 1), (1, 2)]),  # a lone item: one process, one or both cores' threads
        (8, 2, [(1, 2), (2, 1)]),
        (64, 4, [(1, 4), (2, 2), (4, 1)]),
        (2, 4, [(1, 4), (2, 2)]),  # no process without an item
        (3, 3, [(1, 3), (3, 1)]),
    ],
)
def test_shapes_keep_every_core_busy(
    clients: int, cores: int, expected: list[tuple[int, int]]
) -> None:
    assert shapes(clients, cores) == expected


def test_shares_deal_every_item_out() -> None:
    assert shares(7, 2) == [4, 3]
    assert shares(64, 2) == [32, 32]
    assert shares(1, 1) == [1]


def test_summary_counts_items_of_every_process() -> None:
    # Two processes: 10 calls of 3 items in 1.0 s, 5 calls of 2 items in 2.0 s.
    run = summary(5, [([1.0] * 10, 1.0), ([4.0] * 5, 2.0)], [3, 2])
    assert run.requests == 40, "items = calls x batch, summed over processes"
    assert run.rps == 20.0, "items over the slowest process's wall time"
    assert run.max_ms == 4.0
    assert run.concurrency == 5


def runs(*rows: tuple[str, str, int, float, float]) -> dict[str, Any]:
    return {
        "runs": [
            {"contestant": c, "model": m, "concurrency": n, "rps": rps, "p50_ms": p50}
            | {"p99_ms": p50 * 2, "errors": 0}
            for c, m, n, rps, p50 in rows
        ]
    }


def test_report_served_share_of_limit() -> None:
    record = runs(("limit", "minilm", 32, 200.0, 100.0), ("torchserve", "minilm", 32, 180.0, 90.0))
    served = record["runs"][1]
    assert report.of_limit(record, served) == "0.90"
    assert report.of_limit(record, record["runs"][0]) == "-"
    target = report.ratio_target(record, "minilm", "limit", report.LIMIT_SHARE)
    assert target.met is True, target
    assert target.goal == "minilm: >= 85% of in-process limit at 32 clients"


def test_report_one_client_targets() -> None:
    record = runs(
        ("torchserve", "cancer", 1, 500.0, 2.0),
        ("stock", "cancer", 1, 400.0, 2.5),
        ("flask", "cancer", 1, 1000.0, 0.4),
    )
    stock, flask = report.one_client_targets(record, "cancer")
    assert stock.met is True, stock
    assert flask.met is False, "2.0 ms is more than 1.5 ms over Flask's 0.4 ms"
    assert flask.measured == "+1.60 ms (2.00 vs 0.40 ms)"


def test_report_asks_to_be_ahead_of_every_measured_peer() -> None:
    record = runs(
        ("torchserve", "digits", 64, 1000.0, 50.0),
        ("litserve", "digits", 64, 1100.0, 45.0),
        ("bentoml", "digits", 64, 900.0, 60.0),
    )
    ahead = {
        t.goal: t.met for t in report.targets(record) if t.goal.startswith("digits: >= the req/s")
    }
    assert ahead == {
        "digits: >= the req/s of LitServe at 64 clients": False,
        "digits: >= the req/s of BentoML at 64 clients": True,
    }
