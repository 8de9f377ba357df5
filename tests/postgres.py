"""A throwaway PostgreSQL server for tests: Debian's binaries, loopback only, a free port.

The ``postgresql`` package (``make install-postgres``) installs the binaries under
/usr/lib/postgresql/<version>/bin. PostgreSQL refuses to run as root, so as root the data
folder belongs to the ``postgres`` user the package creates and every command runs as it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from server.settings import free_ports

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"  # the account Debian's package creates


def find_binaries() -> Path | None:
    """The bin folder of the newest PostgreSQL Debian installed, if any."""
    folders = [path / "bin" for path in DEBIAN_BINARIES.glob("*") if (path / "bin/initdb").exists()]
    return max(folders, key=lambda path: int(path.parent.name), default=None)


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """Start a fresh cluster on 127.0.0.1 and yield its URL; stop and delete it after."""
    binaries = find_binaries()
    if binaries is None:
        raise RuntimeError(f"no PostgreSQL under {DEBIAN_BINARIES}: run `make install-postgres`")
    as_server_user = ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []
    # Not under pytest's tmp folder: as root that is private to root, and the server
    # user must reach its data folder.
    folder = Path(tempfile.mkdtemp(prefix="batch-postgres-"))
    data = folder / "data"
    if as_server_user:
        shutil.chown(folder, SERVER_USER)
    (port,) = free_ports(1)

    def run(*command: str) -> None:
        subprocess.run([*as_server_user, *command], check=True, capture_output=True, text=True)

    try:
        run(
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        # -k: the Unix socket goes in the data folder, not the system's; -F: no fsync.
        options = f"-h 127.0.0.1 -p {port} -k {data} -F"
        # -w: pg_ctl polls until the server accepts connections (60 s deadline).
        run(
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(folder / "server.log"),
            "-w",
            "start",
        )
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{exc.cmd[len(as_server_user)]} failed: {exc.stderr}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server at ``server_url``; returns its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    finally:
        engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
