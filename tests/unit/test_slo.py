"""The SLO gate: reading profiles, finding breaches, reading Locust's CSV stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests import endpoints, slo
from loadtests.slo import Measured, Objective

OBJECTIVE = Objective(p95_ms=100, p99_ms=200, max_error_rate=0.01, min_rps=5)
GOOD = Measured("a", requests=1000, failures=0, rps=10, p95_ms=50, p99_ms=150)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "slo.toml"
    path.write_text(text)
    return path


def test_profile_defaults_are_overridden_per_endpoint(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [p]
        p95_ms = 100
        p99_ms = 200
        max_error_rate = 0.01
        [p.endpoints]
        a = { min_rps = 5 }
        b = { min_rps = 1, p99_ms = 900 }
        """,
    )
    assert slo.load_profile(path, "p") == {
        "a": OBJECTIVE,
        "b": Objective(p95_ms=100, p99_ms=900, max_error_rate=0.01, min_rps=1),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[q]\n[q.endpoints]\na = {}\n", "no profile 'p'"),
        ("[p]\np95_ms = 1\n", "lists no endpoints"),
        (
            "[p]\n[p.endpoints]\na = { p95_ms = 1, p99_ms = 1, max_error_rate = 0 }\n",
            "no value for ['min_rps']",
        ),
        ("[p]\n[p.endpoints]\na = { p95 = 1 }\n", "unknown keys ['p95']"),
    ],
)
def test_a_bad_profile_is_refused_with_its_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(slo.SloError) as error:
        slo.load_profile(write(tmp_path, text), "p")
    assert message in str(error.value)


def test_no_breach_when_every_objective_is_met() -> None:
    assert slo.breaches({"a": OBJECTIVE}, [GOOD]) == []


@pytest.mark.parametrize(
    ("measured", "breach"),
    [
        (Measured("a", 1000, 0, 10, 101, 150), "a: p95 101 ms, SLO at most 100 ms"),
        (Measured("a", 1000, 0, 10, 50, 201), "a: p99 201 ms, SLO at most 200 ms"),
        (
            Measured("a", 1000, 11, 10, 50, 150),
            "a: error rate 1.10% (11/1000), SLO at most 1.00%",
        ),
        (Measured("a", 1000, 0, 4.5, 50, 150), "a: 4.50 req/s, SLO at least 5"),
        (Measured("a", 0, 0, 0, 0, 0), "a: no requests were made"),
    ],
)
def test_each_missed_objective_is_one_breach(measured: Measured, breach: str) -> None:
    assert slo.breaches({"a": OBJECTIVE}, [measured]) == [breach]


def test_an_endpoint_missing_from_the_stats_or_from_the_profile_is_a_breach() -> None:
    other = Measured("b", requests=10, failures=0, rps=10, p95_ms=1, p99_ms=1)
    total = Measured(slo.AGGREGATED, requests=20, failures=0, rps=20, p95_ms=1, p99_ms=1)
    assert slo.breaches({"a": OBJECTIVE}, [other, total]) == [
        "b: no SLO for this endpoint in the profile",
        "a: no requests were made",
    ]


class Entry:
    """A stand-in for Locust's StatsEntry."""

    name = "a"
    num_requests = 1000
    num_failures = 3
    total_rps = 12.5

    def get_response_time_percentile(self, percent: float) -> int:
        return {0.95: 80, 0.99: 190}[percent]


def test_measurements_from_locust_stats() -> None:
    assert slo.from_locust([Entry()]) == [Measured("a", 1000, 3, 12.5, 80.0, 190.0)]


CSV = """Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,\
90%,95%,98%,99%,99.9%,99.99%,100%
POST,a,1000,3,20,25.5,3,400,120.0,12.5,0.0,20,25,30,35,60,80,120,190,300,400,400
GET,b,0,0,0,0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
,Aggregated,1000,3,20,25.5,3,400,120.0,12.5,0.0,20,25,30,35,60,80,120,190,300,400,400
"""


def test_measurements_from_locust_csv(tmp_path: Path) -> None:
    path = tmp_path / "stats_stats.csv"
    path.write_text(CSV)
    assert slo.from_csv(path) == [
        Measured("a", 1000, 3, 12.5, 80.0, 190.0),
        Measured("b", 0, 0, 0.0, 0.0, 0.0),
        Measured("Aggregated", 1000, 3, 12.5, 80.0, 190.0),
    ]


def test_the_cli_exits_non_zero_on_a_breach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stats = tmp_path / "stats_stats.csv"
    stats.write_text(CSV)
    strict = write(
        tmp_path,
        "[p]\n[p.endpoints]\na = { p95_ms = 79, p99_ms = 999, "
        "max_error_rate = 0.01, min_rps = 1 }\n",
    )
    assert slo.main([str(stats), "--slo-file", str(strict), "--profile", "p"]) == 1
    assert "SLO breach: a: p95 80 ms, SLO at most 79 ms" in capsys.readouterr().out
    loose = write(
        tmp_path,
        "[p]\n[p.endpoints]\na = { p95_ms = 80, p99_ms = 999, "
        "max_error_rate = 0.01, min_rps = 1 }\n",
    )
    assert slo.main([str(stats), "--slo-file", str(loose), "--profile", "p"]) == 0


@pytest.mark.parametrize("profile", ["local", "ci"])
def test_the_repo_profiles_set_every_endpoint_of_the_load_test(profile: str) -> None:
    objectives = slo.load_profile(slo.SLO_FILE, profile)
    assert sorted(objectives) == sorted(endpoints.ALL), f"profile {profile} vs endpoints.py"


LOCAL_LOAD = slo.Load(users=30, pace=1.0, seconds=30)


def test_the_local_profile_names_the_load_of_its_floors() -> None:
    assert slo.profile_load(slo.SLO_FILE, "local") == LOCAL_LOAD
    assert slo.profile_load(slo.SLO_FILE, "ci") is None  # its floor (0.02/s): any run


@pytest.mark.parametrize(
    ("run", "judged"),
    [
        (slo.Load(30, 1.0, 60), True),
        (slo.Load(60, 2.0, 30), True),
        (slo.Load(5, 1.0, 60), False),
        (slo.Load(30, 0.5, 60), False),
        (slo.Load(30, 1.0, 15), False),
    ],
)
def test_rates_are_judged_at_the_profiles_load_or_more(run: slo.Load, judged: bool) -> None:
    assert (slo.rates_unjudged(LOCAL_LOAD, run) is None) == judged
    assert slo.rates_unjudged(None, run) is None


def test_a_short_light_run_is_judged_on_latency_and_errors_only() -> None:
    """issue 20: `make load` for 15 s with 5 users failed `local` on min req/s alone."""
    objectives = slo.load_profile(slo.SLO_FILE, "local")
    run = slo.Load(users=5, pace=1.0, seconds=15)
    reason = slo.rates_unjudged(slo.profile_load(slo.SLO_FILE, "local"), run)
    assert reason == (
        "request rates not judged: this run (5 users, pace 1, 15 s) is lighter or shorter "
        "than the load the floors are set for (30 users, pace 1, at least 30 s); latency "
        "and errors are judged"
    )
    # What such a run measures: each endpoint ~0.1-1 req/s, one never called by chance.
    healthy = [Measured(name, 8, 0, 0.5, 40, 60) for name in endpoints.ALL[1:]]
    judged = slo.breaches(objectives, healthy)
    assert len(judged) == 7, judged  # the two management floors are below 0.5/s
    assert all("req/s, SLO at least" in line or "no requests" in line for line in judged)
    assert slo.breaches(objectives, healthy, judge_rates=False) == []
    slow = [Measured(endpoints.DIGITS_MULTIPART, 8, 1, 0.5, 400, 600)]
    assert slo.breaches(objectives, slow, judge_rates=False) == [
        f"{endpoints.DIGITS_MULTIPART}: p95 400 ms, SLO at most 250 ms",
        f"{endpoints.DIGITS_MULTIPART}: p99 600 ms, SLO at most 500 ms",
        f"{endpoints.DIGITS_MULTIPART}: error rate 12.50% (1/8), SLO at most 0.00%",
    ]


def test_the_cli_takes_the_runs_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stats = tmp_path / "stats_stats.csv"
    stats.write_text(CSV)
    profile = write(
        tmp_path,
        "[p]\n[p.load]\nusers = 30\npace = 1.0\nseconds = 30\n[p.endpoints]\n"
        "a = { p95_ms = 100, p99_ms = 999, max_error_rate = 0.01, min_rps = 20 }\n",
    )
    assert slo.main([str(stats), "--slo-file", str(profile), "--profile", "p"]) == 1
    assert "a: 12.50 req/s, SLO at least 20" in capsys.readouterr().out
    assert slo.main([str(stats), "--slo-file", str(profile), "--profile", "p", "--users", "5"]) == 0
    assert "request rates not judged: this run (5 users" in capsys.readouterr().out
