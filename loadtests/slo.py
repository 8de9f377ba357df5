"""Service-level objectives per endpoint, and the gate that fails a load run that misses one.

The SLO file (slo.toml) holds one table per profile: default objectives, then per-endpoint
overrides under ``endpoints``. Each endpoint's objectives are p95 and p99 latency (ms), the
highest error rate (failed / all requests) and the lowest throughput (requests/s).

Throughput floors follow from the load (users x pace x the task's share), so a profile may
name the load its floors were set for under ``load`` (users, pace, seconds). A run lighter
or shorter than that (`make load` for 15 s with 5 users) cannot reach them for reasons of
its own: its rates are not judged, and an endpoint it never called is not a breach, while
latency and errors are judged as ever (``judge_rates``). A profile without ``load`` judges
every run's rates.

    python -m loadtests.slo loadtests/results/stats_stats.csv --profile local

re-checks a finished run from Locust's CSV stats.
"""

from __future__ import annotations

import argparse
import csv
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

SLO_FILE = Path(__file__).with_name("slo.toml")
AGGREGATED = "Aggregated"  # Locust's total row in the CSV stats


@dataclass(frozen=True)
class Objective:
    p95_ms: float
    p99_ms: float
    max_error_rate: float
    min_rps: float


@dataclass(frozen=True)
class Measured:
    name: str
    requests: int
    failures: int
    rps: float
    p95_ms: float
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Load:
    users: int
    pace: float  # calls/s of an inference user
    seconds: float  # how long the run lasted (for a profile: at least)


class SloError(ValueError):
    """The SLO file or profile is missing or incomplete."""


PROFILE_TABLES = ("endpoints", "load")  # a profile's sub-tables; its other keys are defaults


def load_profile(path: Path, profile: str) -> dict[str, Objective]:
    """Objectives per endpoint name for ``profile`` of the SLO file at ``path``."""
    with path.open("rb") as file:
        document = tomllib.load(file)
    if profile not in document:
        raise SloError(f"no profile {profile!r} in {path}; profiles: {sorted(document)}")
    table: dict[str, Any] = document[profile]
    defaults = {key: value for key, value in table.items() if key not in PROFILE_TABLES}
    endpoints: dict[str, dict[str, Any]] = table.get("endpoints", {})
    if not endpoints:
        raise SloError(f"profile {profile!r} in {path} lists no endpoints")
    keys = {field.name for field in fields(Objective)}
    objectives = {}
    for name, overrides in endpoints.items():
        merged = defaults | overrides
        if unknown := set(merged) - keys:
            raise SloError(f"{profile}.{name}: unknown keys {sorted(unknown)}")
        if missing := keys - set(merged):
            raise SloError(f"{profile}.{name}: no value for {sorted(missing)}")
        objectives[name] = Objective(**{key: float(merged[key]) for key in keys})
    return objectives


def profile_load(path: Path, profile: str) -> Load | None:
    """The load ``profile``'s throughput floors were set for, if it names one."""
    with path.open("rb") as file:
        table: dict[str, Any] = tomllib.load(file).get(profile, {}).get("load")
    if table is None:
        return None
    try:
        return Load(int(table["users"]), float(table["pace"]), float(table["seconds"]))
    except (KeyError, TypeError, ValueError) as error:
        raise SloError(f"{profile}.load needs users, pace and seconds: {error!r}") from None


def rates_unjudged(profile: Load | None, run: Load) -> str | None:
    """Why ``run``'s request rates cannot be held to floors set for ``profile``'s load, or
    None when they can (the run is at least as heavy and as long)."""
    if profile is None:
        return None
    lighter = run.users < profile.users or run.pace < profile.pace
    if not lighter and run.seconds >= profile.seconds:
        return None
    return (
        f"request rates not judged: this run ({run.users} users, pace {run.pace:g}, "
        f"{run.seconds:.0f} s) is lighter or shorter than the load the floors are set for "
        f"({profile.users} users, pace {profile.pace:g}, at least {profile.seconds:.0f} s); "
        "latency and errors are judged"
    )


def breaches(
    objectives: dict[str, Objective], measured: Iterable[Measured], judge_rates: bool = True
) -> list[str]:
    """One line per missed objective; an endpoint with no SLO is a breach, and so is one
    with no requests when rates are judged (``judge_rates``: see the module's docstring)."""
    found = []
    seen = {entry.name: entry for entry in measured if entry.name != AGGREGATED}
    for name in sorted(name for name in set(seen) - set(objectives) if seen[name].requests):
        found.append(f"{name}: no SLO for this endpoint in the profile")
    for name, objective in objectives.items():
        entry = seen.get(name)
        if entry is None or entry.requests == 0:
            if judge_rates:
                found.append(f"{name}: no requests were made")
            continue
        if entry.p95_ms > objective.p95_ms:
            found.append(f"{name}: p95 {entry.p95_ms:g} ms, SLO at most {objective.p95_ms:g} ms")
        if entry.p99_ms > objective.p99_ms:
            found.append(f"{name}: p99 {entry.p99_ms:g} ms, SLO at most {objective.p99_ms:g} ms")
        if entry.error_rate > objective.max_error_rate:
            found.append(
                f"{name}: error rate {entry.error_rate:.2%} ({entry.failures}/{entry.requests}), "
                f"SLO at most {objective.max_error_rate:.2%}"
            )
        if judge_rates and entry.rps < objective.min_rps:
            found.append(f"{name}: {entry.rps:.2f} req/s, SLO at least {objective.min_rps:g}")
    return found


class StatsEntry(Protocol):
    """The part of Locust's ``StatsEntry`` the gate reads."""

    name: str
    num_requests: int
    num_failures: int

    @property
    def total_rps(self) -> float: ...

    def get_response_time_percentile(self, percent: float) -> int | float: ...


def from_locust(entries: Iterable[StatsEntry]) -> list[Measured]:
    """Measurements from Locust's live stats (``environment.stats.entries.values()``)."""
    return [
        Measured(
            name=entry.name,
            requests=entry.num_requests,
            failures=entry.num_failures,
            rps=entry.total_rps,
            p95_ms=float(entry.get_response_time_percentile(0.95) or 0),
            p99_ms=float(entry.get_response_time_percentile(0.99) or 0),
        )
        for entry in entries
    ]


def from_csv(path: Path) -> list[Measured]:
    """Measurements from Locust's ``<prefix>_stats.csv`` ("N/A" percentiles read as 0)."""

    def number(text: str) -> float:
        return 0.0 if text in ("", "N/A") else float(text)

    with path.open(newline="") as file:
        return [
            Measured(
                name=row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                rps=number(row["Requests/s"]),
                p95_ms=number(row["95%"]),
                p99_ms=number(row["99%"]),
            )
            for row in csv.DictReader(file)
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check Locust CSV stats against the SLOs.")
    parser.add_argument("stats_csv", type=Path, help="Locust's <prefix>_stats.csv")
    parser.add_argument("--slo-file", type=Path, default=SLO_FILE)
    parser.add_argument("--profile", default="local")
    parser.add_argument("--users", type=int, help="the run's users (default: the profile's)")
    parser.add_argument("--pace", type=float, help="the run's pace (default: the profile's)")
    parser.add_argument("--seconds", type=float, help="the run's length (default: the profile's)")
    args = parser.parse_args(argv)
    objectives = load_profile(args.slo_file, args.profile)
    calibrated = profile_load(args.slo_file, args.profile)
    unjudged = None
    if calibrated is not None:
        run = Load(
            args.users or calibrated.users,
            args.pace or calibrated.pace,
            args.seconds or calibrated.seconds,
        )
        if unjudged := rates_unjudged(calibrated, run):
            print(unjudged)
    found = breaches(objectives, from_csv(args.stats_csv), judge_rates=unjudged is None)
    for line in found:
        print(f"SLO breach: {line}")
    print(f"{len(found)} SLO breaches (profile {args.profile})")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
