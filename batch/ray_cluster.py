"""A multi-node Ray cluster on this machine: a head and worker nodes, each its own
``ray start`` process tree on 127.0.0.1 with its own ports and temp folder.

The tests submit batch runs to it and kill a worker node mid-run; ``make ray-cluster``
starts one for trying ``--engine ray --address`` by hand, ``make batch-scale`` measures on
one. Every port is chosen free and given explicitly: a node then never waits for a port
file its agents write (under load that wait can time out), and nothing listens where
another test's server does. Stopping kills each node's whole process tree by pid.

    python -m batch.ray_cluster [--workers 1] [--cpus 1]   # prints the address; Ctrl-C stops
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from server.settings import free_ports

OBJECT_STORE_BYTES = 100 * 1024 * 1024  # per node; chunks are small, results smaller
# Ray rewrites 127.0.0.1 (as a node's IP or in a cluster address) to the machine's outward
# IP; other loopback addresses it keeps. So node N gets 127.0.0.(2+N), the head's is the
# cluster's address, and every connection between them stays on loopback.
LOOPBACK = "127.0.0.{}"
START_TIMEOUT = 180.0  # seconds for a node to join, on 2 busy cores
PORT_OPTIONS = (
    "--node-manager-port",
    "--object-manager-port",
    "--runtime-env-agent-port",
    "--dashboard-agent-grpc-port",
    "--dashboard-agent-listen-port",
    "--metrics-export-port",
)


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tree(self) -> list[psutil.Process]:
        """``ray start``, its raylet, agents and workers (workers get their own process
        groups, so a kill by group would miss them)."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL the whole node at once, as a machine that is lost."""
        for process in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


@dataclass
class LocalCluster:
    folder: Path
    head_cpus: float = 1
    port: int = field(default_factory=lambda: free_ports(1)[0])
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Ray 2.60 authenticates every connection with a token; this cluster's is its own.
        token = self.folder / "auth_token"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
        # A node waits for its agents' port files (15 s by default): on 2 busy cores their
        # Python start-up can take longer.
        # A lost node is declared dead after 5 missed health checks a second apart (Ray's
        # default: about 30 s), so a run carries on soon after a node is killed.
        self.node_env = self.env | {
            "RAY_agent_register_timeout_ms": str(int(START_TIMEOUT * 1000)),
            "RAY_raylet_start_wait_time_s": str(int(START_TIMEOUT)),
            "RAY_health_check_period_ms": "1000",
            "RAY_health_check_failure_threshold": "5",
        }

    @property
    def address(self) -> str:
        return f"{LOOPBACK.format(2)}:{self.port}"

    def _start(self, name: str, cpus: float, *role: str) -> Node:
        temp = Path(tempfile.mkdtemp(prefix=f"ray-{name}-", dir=self.folder))
        ports = [str(port) for port in free_ports(len(PORT_OPTIONS))]
        command = [
            str(Path(sys.executable).with_name("ray")),
            "start",
            *role,
            "--node-ip-address",
            LOOPBACK.format(2 + len(self.nodes)),
            "--num-cpus",
            str(cpus),
            "--object-store-memory",
            str(OBJECT_STORE_BYTES),
            "--temp-dir",
            str(temp),
            "--disable-usage-stats",
            "--block",
            *[item for pair in zip(PORT_OPTIONS, ports, strict=True) for item in pair],
        ]
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=os.environ | self.node_env,
            )
        node = Node(name, process, log)
        self.nodes.append(node)
        return node

    def start_head(self) -> Node:
        return self._start(
            "head",
            self.head_cpus,
            "--head",
            "--port",
            str(self.port),
            "--include-dashboard",
            "false",
        )

    def add_worker(self, cpus: float = 1) -> Node:
        return self._start(f"worker{len(self.nodes)}", cpus, "--address", self.address)

    def wait_for(self, count: int, timeout: float = START_TIMEOUT) -> None:
        """Until ``count`` nodes are alive in the cluster (asked of the GCS, by a
        short-lived driver in its own process so this one stays free of Ray)."""
        probe = (
            "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
            "print(sum(n['Alive'] for n in ray.nodes()))"
        )
        deadline = time.monotonic() + timeout
        alive = "none"
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process.poll() is not None:
                    raise RuntimeError(f"ray node {node.name} exited: {tail(node.log)}")
            result = subprocess.run(
                [sys.executable, "-c", probe, self.address],
                env=os.environ | self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            alive = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "none"
            if alive == str(count):
                return
            time.sleep(1)  # between probes of real state, not a readiness guess
        raise RuntimeError(f"{count} ray nodes not alive within {timeout:.0f} s (alive: {alive})")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.process.poll() is None:
                node.kill()
        self.nodes.clear()


def tail(path: Path, lines: int = 5) -> str:
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batch.ray_cluster", description=__doc__)
    parser.add_argument("--workers", type=int, default=1, help="worker nodes (default 1)")
    parser.add_argument("--cpus", type=float, default=1, help="CPUs each node offers (default 1)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="ray-cluster-"))
    cluster = LocalCluster(folder, head_cpus=args.cpus)
    try:
        cluster.start_head()
        for _ in range(args.workers):
            cluster.add_worker(args.cpus)
        cluster.wait_for(1 + args.workers)
        print(f"ray cluster of {1 + args.workers} nodes at {cluster.address} (logs: {folder})")
        token = cluster.env["RAY_AUTH_TOKEN_PATH"]
        print(
            f"  RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={token} .venv/bin/python -m batch "
            f"MODEL SOURCE --engine ray --address {cluster.address}"
        )
        print("Ctrl-C stops it", flush=True)
        stops = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        signal.sigwait(stops)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    raise SystemExit(main())
