"""One replica of the rendered Deployment, run with ``buildah run`` the way the kubelet runs
the pod, and probed the way the kubelet probes it.

What the Deployment says and how it is done here (``buildah run --isolation chroot``):

- image, command/args: the local test image (the manifest's tag is a registry's); the
  image's ENTRYPOINT unless the container sets ``command``, then ``args``.
- env: exactly the manifest's ``value``s, except the ports (below).
- ports: a pod has its own network namespace; chroot isolation shares this machine's, so
  each replica's ports (and TorchServe's loopback management port) are free ports here,
  passed through the same env variables the manifest sets (PORT, METRICS_PORT).
- runAsUser/runAsGroup: ``--user``; capabilities: ``--cap-drop``; seccomp RuntimeDefault:
  buildah's default profile (checked: ``Seccomp: 2`` in the main process's status);
  ``allowPrivilegeEscalation: false``: ``setpriv --no-new-privs`` execs the entrypoint (what
  runc does with the flag; the same process, checked: ``NoNewPrivs: 1``).
- readOnlyRootFilesystem: the container's root is bind-mounted onto itself read-only before
  ``buildah run`` (its chroot then sees ``/`` read-only); ``/run`` gets a root-owned 0755
  tmpfs because buildah writes ``/run/.containerenv`` there (the non-root user cannot write
  to it either); ``--no-hosts`` because buildah would write ``/etc/hosts``.
- emptyDir: a fresh folder per volume (mode 0777, group fsGroup, setgid, as the kubelet makes
  them), bind-mounted; it outlives a container restart, as a pod's does. sizeLimit: the use
  is measured and reported, not enforced.
- Secret: the keys file written with the item's path and ``defaultMode``, owner root, group
  fsGroup, mounted read-only at the mountPath (symlinks in the path resolved inside the
  image, as runc does).
- limits.memory: a memory cgroup (a child of this process's own) with that limit; the
  container runs in it, so going over it is an OOM kill as in the pod. limits.cpu is not
  applied (2 cores here, the limit is 2).
- probes: a kubelet-like prober per container, at the manifest's periods, timeouts and
  thresholds (startup first, then readiness and liveness).
- stop: preStop's exec in the container, then SIGTERM to the main process, SIGKILL at the
  grace period; a killed main process takes the container's other processes with it (the
  kernel does so in a pod's PID namespace; chroot isolation has none, so they are killed).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests
import yaml

from server.settings import MANAGEMENT_PORT_ENV, ROOT, free_ports

Doc = dict[str, Any]

KUBECTL_LOCAL = ROOT / "build" / "deploy" / "tools" / "kubectl"
IMAGE = os.environ.get("REHEARSAL_IMAGE", "localhost/torchserve-kit:test")  # make image-test's
BUILDAH_RUN = ("buildah", "run", "--isolation", "chroot", "--network", "host", "--no-hosts")
POLL_S = 0.5  # interval of every wait below that polls (never a bare sleep)
MIB = 1024 * 1024


def render(overlay: str) -> list[Doc]:
    """``kubectl kustomize deploy/<overlay>`` with the project's kubectl (mk/deploy.mk)."""
    kubectl = os.environ.get("KUBECTL") or str(KUBECTL_LOCAL)
    if not Path(kubectl).is_file():
        raise FileNotFoundError(f"no kubectl at {kubectl}: run `make deploy-tools`")
    result = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy" / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize {overlay}: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(docs: list[Doc], kind: str) -> Doc:
    matches = [doc for doc in docs if doc["kind"] == kind]
    if len(matches) != 1:
        raise ValueError(f"expected one {kind} in the rendered overlay, found {len(matches)}")
    return matches[0]


def buildah(*args: str) -> str:
    result = subprocess.run(["buildah", *args], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def quantity_bytes(value: str) -> int:
    """A Kubernetes memory quantity (``2560Mi``, ``1Gi``, ``512M``) in bytes."""
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "K": 1000, "M": 1000**2, "G": 1000**3}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return int(float(value[: -len(suffix)]) * factor)
    return int(value)


def resolve_in(root: Path, path: str) -> str:
    """``path`` inside the image with its symlinks followed within ``root`` (``/var/run`` ->
    ``/run``), as runc resolves a mount destination."""
    parts, resolved = [p for p in path.split("/") if p], Path("/")
    for _ in range(40):  # symlink hops
        if not parts:
            return str(resolved)
        here = root / str(resolved).lstrip("/") / parts[0]
        if here.is_symlink():
            target = os.readlink(here)
            base = Path("/") if target.startswith("/") else resolved
            parts = [p for p in target.split("/") if p] + parts[1:]
            resolved = base
        else:
            resolved = resolved / parts.pop(0)
    raise ValueError(f"too many symlinks in {path}")


@dataclass
class Probe:
    """One of the container's probes, as the manifest sets it (Kubernetes' defaults)."""

    kind: str
    path: str
    port: str
    period: float
    timeout: float
    failures: int
    successes: int

    @classmethod
    def of(cls, kind: str, spec: Doc) -> Probe:
        get = spec["httpGet"]
        return cls(
            kind,
            get["path"],
            str(get["port"]),
            float(spec.get("periodSeconds", 10)),
            float(spec.get("timeoutSeconds", 1)),
            int(spec.get("failureThreshold", 3)),
            int(spec.get("successThreshold", 1)),
        )

    def check(self, url: str) -> bool:
        """One probe: HTTP 200-399 within the timeout, as the kubelet's httpGet."""
        try:
            answer = requests.get(f"{url}{self.path}", timeout=self.timeout)
        except requests.RequestException:
            return False
        return 200 <= answer.status_code < 400


@dataclass
class PodSpec:
    """The parts of the rendered Deployment's pod that the rehearsal applies."""

    deployment: Doc
    container: Doc = field(init=False)
    pod: Doc = field(init=False)

    def __post_init__(self) -> None:
        self.pod = self.deployment["spec"]["template"]["spec"]
        (self.container,) = self.pod["containers"]

    def security(self, key: str) -> Any:
        """A securityContext field: the container's, else the pod's."""
        return self.container.get("securityContext", {}).get(
            key, self.pod.get("securityContext", {}).get(key)
        )

    def env(self) -> dict[str, str]:
        found = {}
        for item in self.container.get("env", []):
            if "value" not in item:
                raise ValueError(f"env {item['name']}: only plain values are rehearsed")
            found[item["name"]] = str(item["value"])
        return found

    def ports(self) -> dict[str, int]:
        return {port["name"]: int(port["containerPort"]) for port in self.container["ports"]}

    def probes(self) -> dict[str, Probe]:
        return {
            kind: Probe.of(kind, self.container[f"{kind}Probe"])
            for kind in ("startup", "readiness", "liveness")
            if f"{kind}Probe" in self.container
        }

    def pre_stop(self) -> list[str]:
        return list(self.container["lifecycle"]["preStop"]["exec"]["command"])

    def grace(self) -> float:
        return float(self.pod.get("terminationGracePeriodSeconds", 30))

    def memory_limit(self) -> int | None:
        limit = self.container.get("resources", {}).get("limits", {}).get("memory")
        return quantity_bytes(limit) if limit else None


def run_flags(
    spec: PodSpec, config: Doc, ports: dict[str, int], volumes: dict[str, Path], rootfs: Path
) -> tuple[list[str], list[str], list[str]]:
    """``buildah run``'s flags for the pod's container, its main process's argv, and what
    execs it (``setpriv --no-new-privs`` for ``allowPrivilegeEscalation: false``).
    ``config``: the image's config (Entrypoint, Cmd); ``ports``: the ports here by the
    manifest's port names (and ``management``); ``volumes``: the folders by volume name."""
    container = spec.container
    argv = list(container.get("command") or config["Entrypoint"])
    argv += list(container.get("args") or ([] if "command" in container else config["Cmd"] or []))
    prefix = (
        ["setpriv", "--no-new-privs"] if spec.security("allowPrivilegeEscalation") is False else []
    )
    flags = []
    user, group = spec.security("runAsUser"), spec.security("runAsGroup")
    if user is not None:
        flags.append(f"--user={user}:{group if group is not None else user}")
    caps = container.get("securityContext", {}).get("capabilities", {})
    flags += [f"--cap-drop={cap}" for cap in caps.get("drop", [])]
    flags += [f"--cap-add={cap}" for cap in caps.get("add", [])]
    env = spec.env()
    for name, port in spec.ports().items():  # the manifest's port values -> the ports here
        for key, value in env.items():
            if value == str(port) and key.endswith("PORT"):
                env[key] = str(ports[name])
    env[MANAGEMENT_PORT_ENV] = str(ports["management"])
    flags += [f"--env={key}={value}" for key, value in env.items()]
    for mount in container.get("volumeMounts", []):
        target = resolve_in(rootfs, mount["mountPath"])
        readonly = ":ro" if mount.get("readOnly") else ""
        flags.append(f"--volume={volumes[mount['name']]}:{target}{readonly}")
    return flags, argv, prefix


class Prober(threading.Thread):
    """The kubelet's probing of one container: startup until it passes (or fails
    ``failureThreshold`` times in a row: the kubelet would restart the container), then
    readiness and liveness, each at its own period. Events are (seconds since the
    container started, what happened)."""

    def __init__(self, probes: dict[str, Probe], url: str, started: float) -> None:
        super().__init__(daemon=True)
        self.probes, self.url, self.started = probes, url, started
        self.events: list[tuple[float, str]] = []
        self.ready = False
        self.ready_at: float | None = None
        self.restart_wanted = False  # a startup or liveness failure: the kubelet restarts
        self.checks = 0
        self._halt = threading.Event()

    def at(self) -> float:
        return round(time.monotonic() - self.started, 2)

    def note(self, what: str) -> None:
        self.events.append((self.at(), what))

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        startup = self.probes.get("startup")
        if startup is not None:
            failed = 0
            while not self._halt.wait(0 if failed == 0 and self.checks == 0 else startup.period):
                self.checks += 1
                if startup.check(self.url):
                    self.note("startup probe passed")
                    break
                failed += 1
                if failed >= startup.failures:
                    self.note(f"startup probe failed {failed} times: the kubelet restarts it")
                    self.restart_wanted = True
                    return
        due = {kind: time.monotonic() for kind in ("readiness", "liveness") if kind in self.probes}
        streak = {kind: 0 for kind in due}  # >0 successes in a row, <0 failures
        while not self._halt.is_set():
            kind = min(due, key=due.__getitem__)
            if self._halt.wait(max(0.0, due[kind] - time.monotonic())):
                return
            probe = self.probes[kind]
            due[kind] += probe.period
            self.checks += 1
            passed = probe.check(self.url)
            streak[kind] = max(streak[kind], 0) + 1 if passed else min(streak[kind], 0) - 1
            if kind == "readiness":
                if not self.ready and streak[kind] >= probe.successes:
                    self.ready = True
                    self.ready_at = self.ready_at or self.at()
                    self.note("Ready")
                elif self.ready and -streak[kind] >= probe.failures:
                    self.ready = False
                    self.note("not Ready")
            elif -streak[kind] >= probe.failures and not self.restart_wanted:
                self.restart_wanted = True
                self.note(f"liveness failed {probe.failures} times: the kubelet restarts it")


class MemoryCgroup:
    """A memory cgroup (v1) under this process's own, holding one replica's processes with
    the pod's memory limit; peak and current use read from it."""

    def __init__(self, name: str, limit: int | None) -> None:
        own = next(
            line.split(":", 2)[2]
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if line.split(":")[1] == "memory"
        )
        self.path = Path("/sys/fs/cgroup/memory") / own.lstrip("/") / name
        self.path.mkdir(exist_ok=True)
        if limit is not None:
            (self.path / "memory.limit_in_bytes").write_text(str(limit))
        self.limit = limit

    def read(self, name: str) -> int:
        return int((self.path / name).read_text())

    def working_set(self) -> int:
        """What the kubelet calls the working set: usage less inactive file pages."""
        stats = dict(line.split() for line in (self.path / "memory.stat").read_text().splitlines())
        return max(0, self.read("memory.usage_in_bytes") - int(stats["total_inactive_file"]))

    def oom_kills(self) -> int:
        lines = (self.path / "memory.oom_control").read_text().splitlines()
        return int(dict(line.split() for line in lines).get("oom_kill", 0))

    def remove(self) -> None:
        for _ in range(20):
            try:
                self.path.rmdir()
                return
            except OSError:  # processes still leaving
                time.sleep(POLL_S)  # polling interval, not a wait for readiness


def chrooted_descendants(pid: int) -> list[int]:
    """The processes of a `buildah run --isolation chroot` started as ``pid``: its
    descendants whose root is not this machine's (the container's own processes)."""
    tree: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        tree.setdefault(proc.info["ppid"], []).append(proc.pid)
    found, todo = [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            todo.append(child)
            try:
                if os.readlink(f"/proc/{child}/root") != "/":
                    found.append(child)
            except OSError:  # gone meanwhile
                pass
    return found


class Replica:
    """One pod of the Deployment: its volumes and ports live as long as the pod, its
    container is started (and restarted) with ``buildah run``."""

    def __init__(self, name: str, spec: PodSpec, keys: list[str], folder: Path) -> None:
        self.name, self.spec, self.folder = name, spec, folder
        self.keys = keys
        names = [*spec.ports(), "management"]
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.url = f"http://127.0.0.1:{self.ports['http']}"
        self.metrics_url = f"http://127.0.0.1:{self.ports['metrics']}"
        self.log = folder / f"{name}.log"
        self.volumes = self._volumes()
        self.cgroup = MemoryCgroup(f"tsk-rehearsal-{name}-{os.getpid()}", spec.memory_limit())
        self.container: str | None = None
        self.rootfs: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.prober: Prober | None = None
        self.started = 0.0
        self.argv: list[str] = []
        self.restarts = 0
        self.peak_working_set = 0
        self._sampler: threading.Thread | None = None

    # -- the pod's volumes -------------------------------------------------------------
    def _volumes(self) -> dict[str, Path]:
        group = int(self.spec.security("fsGroup") or 0)
        found = {}
        for volume in self.spec.pod.get("volumes", []):
            where = self.folder / self.name / volume["name"]
            where.mkdir(parents=True)
            if "emptyDir" in volume:
                os.chown(where, 0, group)
                where.chmod(0o777 | stat.S_ISGID)
            elif "secret" in volume:
                secret = volume["secret"]
                mode = int(secret.get("defaultMode", 0o644))
                for item in secret.get("items", [{"key": "api-keys", "path": "api-keys"}]):
                    path = where / item["path"]
                    path.write_text("".join(f"{key}\n" for key in self.keys))
                    os.chown(path, 0, group)
                    path.chmod(int(item.get("mode", mode)))
                where.chmod(0o755)
            else:
                raise ValueError(f"volume {volume['name']}: only emptyDir and secret rehearsed")
            found[volume["name"]] = where
        self.folder.chmod(0o755)
        (self.folder / self.name).chmod(0o755)
        return found

    def volume_use(self) -> dict[str, dict[str, float]]:
        """MiB used in each emptyDir against its sizeLimit."""
        found = {}
        for volume in self.spec.pod.get("volumes", []):
            if "emptyDir" not in volume:
                continue
            used = sum(
                p.lstat().st_size for p in self.volumes[volume["name"]].rglob("*") if p.is_file()
            )
            limit = volume["emptyDir"].get("sizeLimit")
            found[volume["name"]] = {
                "used_mib": round(used / MIB, 1),
                "size_limit_mib": round(quantity_bytes(limit) / MIB) if limit else 0,
            }
        return found

    # -- the container -----------------------------------------------------------------
    def command(self) -> list[str]:
        assert self.rootfs is not None and self.container is not None
        config = json.loads(buildah("inspect", "--type", "image", IMAGE))["Docker"]["config"]
        flags, self.argv, prefix = run_flags(
            self.spec, config, self.ports, self.volumes, self.rootfs
        )
        return [*BUILDAH_RUN, *flags, self.container, "--", *prefix, *self.argv]

    def start(self) -> None:
        """Create the container from the image and start it, as the kubelet does."""
        self.container = buildah("from", "--name", f"{self.name}-{os.getpid()}", IMAGE)
        self.rootfs = Path(buildah("mount", self.container))
        command = self.command()
        if self.spec.security("readOnlyRootFilesystem"):
            run("mount", "--bind", str(self.rootfs), str(self.rootfs))
            run("mount", "-o", "remount,bind,ro", str(self.rootfs))
            run("mount", "-t", "tmpfs", "-o", "mode=0755,size=16m", "tmpfs", f"{self.rootfs}/run")
        into_cgroup = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
        with self.log.open("ab") as log:
            self.started = time.monotonic()
            self.process = subprocess.Popen(
                ["sh", "-c", into_cgroup, str(self.cgroup.path), *command],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.prober = Prober(self.spec.probes(), self.url_for_probes(), self.started)
        self.prober.start()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def url_for_probes(self) -> str:
        ports = {probe.port for probe in self.spec.probes().values()}
        (port,) = ports
        return f"http://127.0.0.1:{self.ports.get(port, port)}"

    def _sample(self) -> None:
        while self.running():
            self.peak_working_set = max(self.peak_working_set, self.cgroup.working_set())
            time.sleep(1.0)  # sampling interval of the memory figure

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, budget: float) -> float:
        """Seconds from the start until the kubelet would mark it Ready."""
        assert self.prober is not None
        deadline = time.monotonic() + budget
        while self.prober.ready_at is None:
            if not self.running():
                raise RuntimeError(f"{self.name} exited while starting:\n{self.log_tail()}")
            if self.prober.restart_wanted or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not Ready in {budget:.0f}s:\n{self.log_tail()}")
            time.sleep(POLL_S)  # polling interval
        return self.prober.ready_at

    def pids(self) -> list[int]:
        """The container's processes: descendants of `buildah run` inside its chroot."""
        return [] if self.process is None else chrooted_descendants(self.process.pid)

    def main_pid(self) -> int | None:
        """The entrypoint's process (PID 1 in a pod), found by its command line."""
        for pid in self.pids():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
            except OSError:
                continue
            if [arg.decode() for arg in argv] == self.argv:
                return pid
        return None

    def status(self) -> dict[str, str]:
        """Seccomp, NoNewPrivs and the capabilities of the main process, from /proc."""
        pid = self.main_pid()
        if pid is None:
            return {}
        wanted = ("Uid", "Gid", "Seccomp", "NoNewPrivs", "CapEff", "CapPrm")
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        return {k: v.strip() for k, v in (line.split(":", 1) for line in lines) if k in wanted}

    def pss_mib(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_full_info().pss
        return round(total / MIB)

    def exec(self, *command: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
        """What the kubelet's exec hook does: another process in the running container
        (as the image's user, or ``user``)."""
        flags = [f"--user={user}"] if user else []
        return subprocess.run(
            [*BUILDAH_RUN, *flags, self.container or "", "--", *command],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def terminate(self, on_deletion: Any = None) -> dict[str, float | int | None]:
        """Pod deletion as the kubelet does it: ``on_deletion()`` (the endpoints' removal,
        running alongside), the preStop hook, SIGTERM to the main process, SIGKILL at the
        grace period. Times in seconds from the deletion."""
        assert self.process is not None
        deleted = time.monotonic()
        if on_deletion is not None:
            threading.Thread(target=on_deletion, daemon=True).start()
        hook = self.exec(*self.spec.pre_stop())
        signalled = time.monotonic()
        pid = self.main_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        try:
            code: int | None = self.process.wait(
                timeout=max(1.0, deleted + self.spec.grace() - signalled)
            )
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        ended = time.monotonic()
        self._finish()
        return {
            "pre_stop_s": round(signalled - deleted, 1),
            "pre_stop_exit": hook.returncode,
            "sigterm_to_exit_s": round(ended - signalled, 1),
            "deletion_to_exit_s": round(ended - deleted, 1),
            "exit_status": code,
        }

    def kill(self) -> float:
        """SIGKILL the main process; the rest of the container dies with it. The time."""
        pid = self.main_pid()
        others = [other for other in self.pids() if other != pid]
        killed = time.monotonic()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        for other in others:  # the PID namespace's end, which chroot isolation lacks
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=60)
        return killed

    def crash(self) -> float:
        killed = self.kill()
        self._finish()
        return killed

    def _finish(self) -> None:
        """The container is gone: stop probing, leave no process, remove it."""
        if self.prober is not None:
            self.prober.stop()
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        if self.rootfs is not None and self.spec.security("readOnlyRootFilesystem"):
            subprocess.run(["umount", f"{self.rootfs}/run"], check=False, capture_output=True)
            subprocess.run(["umount", str(self.rootfs)], check=False, capture_output=True)
        if self.container is not None:
            subprocess.run(["buildah", "rm", self.container], check=False, capture_output=True)
        self.container, self.rootfs = None, None

    def restart(self) -> None:
        """The kubelet's restart (restartPolicy Always): a new container, the same pod."""
        self.restarts += 1
        self.start()

    def remove(self) -> None:
        """The pod is gone: its container, volumes and cgroup."""
        self._finish()
        self.cgroup.remove()
        shutil.rmtree(self.folder / self.name, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
