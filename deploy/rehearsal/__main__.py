"""Rehearse the rendered manifests with the image (docs/kubernetes.md, "Rehearsal").

    python -m deploy.rehearsal [--short] [--out build/deploy/rehearsal]

Phases (``--short`` skips 2 and 3, for CI):

1. r1 started from the rendered Deployment (deploy.rehearsal.pod); time to Ready as the
   probes see it; the read-only root, the user, seccomp and no-new-privileges checked in
   the running container; memory.
2. Prometheus scraping like the PodMonitor; the ScaledObject's query (read from the
   rendered keda overlay) idle, under Locust overload straight at r1, and after.
3. r2 started; both behind a load balancer that follows readiness.
4. r2's main process SIGKILLed under load: requests failed, seconds until the balancer's
   checks take it out; the kubelet's restart, until it is back.
5. r1 deleted under load as the kubelet deletes a pod: its endpoint removed (after
   ENDPOINT_LAG_S), preStop, SIGTERM, exit: requests failed.

Figures go to stdout, report.json and report.md in --out; the exit status is 1 if a goal is
missed (a failed request at SIGTERM or at the kill, the query not above its threshold
under overload, or not back near 0).
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy.rehearsal.pod import IMAGE, MIB, POLL_S, PodSpec, Replica, buildah, find, render
from deploy.rehearsal.stack import Balancer, Load, Prometheus
from server.settings import ROOT

OVERLAY = "overlays/keda"
ENDPOINT_LAG_S = 2.0  # deletion -> the endpoint gone from the balancer (kube-proxy: ~1-2 s)
STEADY_USERS, STEADY_PACE = 16, 2.0  # ~30 req/s through the balancer: modest on 2 cores
# Nearly closed loop (20 ms between calls), more clients than one replica serves at its SLO.
OVERLOAD_USERS, OVERLOAD_PACE, OVERLOAD_S = 128, 50.0, 75.0
EVENT_AT_S = 12.0  # into a load run: the kill or the deletion
LOAD_S = 40.0  # a run around the kill or the deletion
QUERY_EVERY_S = 5.0
NEAR_ZERO = 0.5  # requests waiting: "back near 0"
AFTER_BUDGET_S = 150.0


def at(start: float, seconds: float) -> None:
    """Return at ``start + seconds`` (a schedule, polled)."""
    while time.monotonic() < start + seconds:
        time.sleep(min(POLL_S, max(0.0, start + seconds - time.monotonic())))


def poll_query(prom: Prometheus, query: str, seconds: float) -> list[tuple[float, float]]:
    began, values = time.monotonic(), []
    while time.monotonic() - began < seconds:
        values.append((round(time.monotonic() - began, 1), round(prom.value(query), 2)))
        at(began, len(values) * QUERY_EVERY_S)
    return values


def startup_budget(spec: PodSpec) -> float:
    probe = spec.probes()["startup"]
    return probe.period * probe.failures + probe.timeout


def container_checks(replica: Replica) -> dict[str, Any]:
    """What the running container shows of its security context and its root."""
    # As root: the root file system refuses even the user who owns it.
    write = replica.exec("sh", "-c", "touch /usr/rehearsal-write 2>&1", user="0:0")
    status = replica.status()
    return {
        "write_to_root": write.stdout.strip() or "written (not read-only)",
        "uid": status.get("Uid", ""),
        "seccomp_mode": status.get("Seccomp", ""),
        "no_new_privs": status.get("NoNewPrivs", ""),
        "effective_capabilities": status.get("CapEff", ""),
    }


def memory(replica: Replica) -> dict[str, Any]:
    return {
        "pss_mib": replica.pss_mib(),
        "cgroup_usage_mib": round(replica.cgroup.read("memory.usage_in_bytes") / MIB),
        "cgroup_peak_mib": round(replica.cgroup.read("memory.max_usage_in_bytes") / MIB),
        "working_set_peak_mib": round(replica.peak_working_set / MIB),
        "limit_mib": round((replica.cgroup.limit or 0) / MIB),
        "oom_kills": replica.cgroup.oom_kills(),
    }


def disruption(
    balancer: Balancer, folder: Path, name: str, token: str, event: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Steady Locust load through the balancer with ``event`` at EVENT_AT_S into it."""
    retried = balancer.retried()
    load = Load(folder, name, balancer.url, token, STEADY_USERS, STEADY_PACE, LOAD_S)
    at(load.started, EVENT_AT_S)
    figures = event()
    result = load.result()
    return figures | {"load": result.as_dict(), "balancer_resent": balancer.retried() - retried}


def rehearse(out: Path, short: bool) -> dict[str, Any]:
    docs = render(OVERLAY)
    deployment, scaled, monitor = (
        find(docs, k) for k in ("Deployment", "ScaledObject", "PodMonitor")
    )
    (trigger,) = [t for t in scaled["spec"]["triggers"] if t["type"] == "prometheus"]
    query, threshold = trigger["metadata"]["query"], float(trigger["metadata"]["threshold"])
    spec = PodSpec(deployment)
    probes = spec.probes()
    token = secrets.token_urlsafe(32)
    folder = Path(tempfile.mkdtemp(prefix="tsk-rehearsal-"))
    report: dict[str, Any] = {
        "image": IMAGE,
        "image_id": buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", IMAGE)[
            :12
        ],
        "overlay": OVERLAY,
        "short": short,
        "probes": {k: vars(p) for k, p in probes.items()},
        "scaling_query": query,
        "threshold": threshold,
    }
    r1 = Replica("r1", spec, [token], folder)
    r2 = Replica("r2", spec, [token], folder)
    prom = None if short else Prometheus(folder, monitor, deployment, [r1, r2])
    balancer = None
    try:
        # 1. one pod as the Deployment says
        r1.start()
        if short:
            r2.start()
        ready = r1.wait_ready(startup_budget(spec))
        report["r1"] = {
            "ports_here": r1.ports,
            "time_to_ready_s": ready,
            "checks": container_checks(r1),
            "memory_idle": memory(r1),
        }
        print(
            f"r1 Ready after {ready:.1f}s (probes every {probes['startup'].period:g}s)", flush=True
        )

        # 2. the scaling query against a real Prometheus
        if prom is not None:
            began = time.monotonic()
            pod = f'pod="{deployment["metadata"]["name"]}-r1"'
            while prom.value(f"min(count_over_time(up{{{pod}}}[1m])) or vector(0)") < 2:
                if time.monotonic() - began > 90:
                    raise RuntimeError("prometheus: r1 not scraped twice in 90s")
                time.sleep(POLL_S)  # polling interval
            idle = prom.value(query)
            load = Load(
                folder,
                "overload",
                r1.url,
                token,
                OVERLOAD_USERS,
                OVERLOAD_PACE,
                OVERLOAD_S,
            )
            during = poll_query(prom, query, OVERLOAD_S)
            overload = load.result()
            report["r1"]["memory_after_overload"] = memory(r1)
            r2.start()  # meanwhile: the second replica, on the cores the load left
            began, after = time.monotonic(), []
            while True:
                after.append((round(time.monotonic() - began, 1), round(prom.value(query), 2)))
                if after[-1][1] < NEAR_ZERO or time.monotonic() - began > AFTER_BUDGET_S:
                    break
                at(began, len(after) * QUERY_EVERY_S)
            peak = max(v for _, v in during)
            report["query"] = {
                "idle": round(idle, 3),
                "overload_peak": peak,
                "overload_last": during[-1][1],
                "overload_series": during,
                "overload_load": overload.as_dict(),
                "overload_users": OVERLOAD_USERS,
                "after_series": after,
                "after_near_zero_s": after[-1][0] if after[-1][1] < NEAR_ZERO else None,
                "replicas_wanted_at_peak": max(1, math.ceil(peak / threshold)),
            }
            print(
                f"query: idle {idle:.2f}, overload peak {peak:.1f} (threshold {threshold:g}),"
                f" after {after[-1][1]:.2f} at +{after[-1][0]:.0f}s",
                flush=True,
            )

        ready2 = r2.wait_ready(startup_budget(spec))
        report["r2"] = {"time_to_ready_s": ready2, "memory_idle": memory(r2)}
        readiness = probes["readiness"]
        balancer = Balancer(folder, [r1, r2], readiness)
        for name in ("r1", "r2"):
            balancer.wait(name, up=True, budget=readiness.period * readiness.successes + 30)

        # 4. a replica killed under load
        def kill() -> dict[str, Any]:
            killed = r2.crash()
            out_after = balancer.wait(
                "r2", up=False, budget=readiness.period * readiness.failures + 30
            )
            return {"balancer_out_after_s": out_after, "killed_at": killed}

        killed = disruption(balancer, folder, "kill", token, kill)
        killed.pop("killed_at")
        report["kill"] = killed
        print(
            f"kill: {killed['load']['failed']} of {killed['load']['requests']} requests failed;"
            f" out of the balancer after {killed['balancer_out_after_s']}s",
            flush=True,
        )
        r2.restart()
        killed["restart_to_ready_s"] = r2.wait_ready(startup_budget(spec))
        killed["back_in_balancer_s"] = balancer.wait(
            "r2", up=True, budget=readiness.period * readiness.successes + 30
        )

        report["r1"]["volumes_in_use"] = r1.volume_use()  # after its load, before it goes

        # 5. a pod deleted under load, as the kubelet does it
        def endpoint_removed() -> None:
            at(time.monotonic(), ENDPOINT_LAG_S)
            balancer.drain("r1")

        report["sigterm"] = disruption(
            balancer, folder, "sigterm", token, lambda: r1.terminate(on_deletion=endpoint_removed)
        ) | {"endpoint_lag_s": ENDPOINT_LAG_S, "grace_s": spec.grace(), "pre_stop": spec.pre_stop()}
        sig = report["sigterm"]
        print(
            f"sigterm: {sig['load']['failed']} of {sig['load']['requests']} requests failed;"
            f" exit {sig['exit_status']} {sig['sigterm_to_exit_s']}s after SIGTERM",
            flush=True,
        )
        report["r1"]["memory_end"] = memory(r1)
        report["r1"]["probe_events"] = r1.prober.events if r1.prober else []
        report["r2"]["memory_end"] = memory(r2)
        report["r2"]["stop"] = r2.terminate()
    finally:
        for replica in (r1, r2):
            replica.remove()
        if balancer is not None:
            balancer.stop()
        if prom is not None:
            prom.stop()
        for log in folder.glob("*.log"):
            shutil.copy(log, out / log.name)
        shutil.rmtree(folder, ignore_errors=True)
    report["goals"] = goals(report)
    return report


def goals(report: dict[str, Any]) -> dict[str, bool]:
    found = {
        "no request failed at SIGTERM": report["sigterm"]["load"]["failed"] == 0,
        "SIGTERM: exit 0 within the grace period": report["sigterm"]["exit_status"] == 0,
        "no request failed when a replica died": report["kill"]["load"]["failed"] == 0,
        "no OOM kill": report["r1"]["memory_end"]["oom_kills"] == 0,
        "root file system read-only": "Read-only file system"
        in report["r1"]["checks"]["write_to_root"],
    }
    if "query" in report:
        query = report["query"]
        found["query 0 when idle"] = query["idle"] < NEAR_ZERO
        found["query above the threshold under overload"] = (
            query["overload_peak"] > report["threshold"]
        )
        found["query back near 0 after"] = query["after_near_zero_s"] is not None
    return found


def markdown(report: dict[str, Any]) -> str:
    r1, r2 = report["r1"], report["r2"]
    kind = "short" if report["short"] else "full"
    rows = [
        ("time to Ready, r1 (as the probes see it)", f"{r1['time_to_ready_s']} s"),
        ("time to Ready, r2", f"{r2['time_to_ready_s']} s"),
        ("memory idle, r1 (PSS of the container)", f"{r1['memory_idle']['pss_mib']} MiB"),
        (
            "memory peak, r1 (cgroup working set / limit)",
            f"{r1['memory_end']['working_set_peak_mib']} / {r1['memory_end']['limit_mib']} MiB",
        ),
    ]
    if "query" in report:
        q = report["query"]
        load = f"{q['overload_users']} users, {q['overload_load']['req_per_s']} req/s"
        rows += [
            ("scaling query, idle", f"{q['idle']}"),
            (f"scaling query, overload ({load}), peak", f"{q['overload_peak']}"),
            ("threshold (requests waiting per pod)", f"{report['threshold']:g}"),
            (f"scaling query back below {NEAR_ZERO}", f"{q['after_near_zero_s']} s after"),
        ]
    k, s = report["kill"], report["sigterm"]
    rows += [
        (
            "replica SIGKILLed under load: failed",
            f"{k['load']['failed']} of {k['load']['requests']}",
        ),
        ("... requests the balancer re-sent", f"{k['balancer_resent']}"),
        ("... out of the balancer after", f"{k['balancer_out_after_s']} s"),
        ("... restarted, Ready again after", f"{k['restart_to_ready_s']} s"),
        ("pod deleted under load: failed", f"{s['load']['failed']} of {s['load']['requests']}"),
        (f"... SIGTERM to exit (status {s['exit_status']})", f"{s['sigterm_to_exit_s']} s"),
    ]
    goals = "; ".join(f"{n}: {'met' if ok else 'MISSED'}" for n, ok in report["goals"].items())
    return "\n".join(
        [
            f"# Rehearsal ({kind}) of {report['overlay']}",
            "",
            f"Image {report['image']} ({report['image_id']}).",
            "",
            "| figure | value |",
            "|---|--:|",
            *(f"| {name} | {value} |" for name, value in rows),
            "",
            f"Goals: {goals}.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.rehearsal", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--short", action="store_true", help="skip the Prometheus phases (CI)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "deploy" / "rehearsal")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    report = rehearse(args.out, args.short)
    report["wall_s"] = round(time.monotonic() - began)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    print(markdown(report))
    print(f"({report['wall_s']} s; {args.out / 'report.json'})")
    return 0 if all(report["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
