"""The seeded fuzz driver (fuzz/, `make fuzz`) in a short run against the test server."""

from __future__ import annotations

import pytest

from fuzz.cases import cycle
from fuzz.run import run
from fuzz.valid import MODELS
from server.launcher import TorchServe

CASES = 900  # every family about ten times; `make fuzz` sends 10,000
SEED = 13


def test_malformed_requests_get_4xx_and_valid_ones_keep_working(server: TorchServe) -> None:
    assert 10 * len(cycle(SEED, MODELS)) <= CASES, "too few cases to cover every family"
    report = run(server, count=CASES, seed=SEED, threads=4, valid_threads=1)
    assert sum(report.counts.values()) == CASES, report.counts
    assert all(report.valid[model, "ok"] > 0 for model in MODELS), report.valid
    if not report.ok:  # the rendered report lists the offending cases, restarts, valid failures
        pytest.fail(report.render(), pytrace=False)
