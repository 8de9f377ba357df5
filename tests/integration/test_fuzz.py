"""The seeded fuzz driver (fuzz/, `make fuzz`) in a short run against the test server."""

from __future__ import annotations

import pytest

from fuzz.run import run
from server.launcher import TorchServe

CASES = 400  # every family several times; `make fuzz` sends 10,000


def test_malformed_requests_get_4xx_and_valid_ones_keep_working(server: TorchServe) -> None:
    report = run(server, count=CASES, seed=13, threads=4, valid_threads=2)
    assert sum(report.counts.values()) == CASES
    if not report.ok:  # the report lists the offending cases, restarts and valid failures
        pytest.fail(report.render(), pytrace=False)
