"""A TorchServe of the fuzzer's own: the project's launcher, config and archives, on free
loopback ports, always stopped."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from server.launcher import MODEL_STORE, TorchServe, port_overrides

READY_TIMEOUT = 300.0  # s: minilm's two workers load a transformer each


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now (held together, then released)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@contextmanager
def own_server(
    run_dir: Path, models: Sequence[str], model_store: Path = MODEL_STORE
) -> Iterator[TorchServe]:
    """A READY TorchServe serving ``models`` from ``model_store``, its logs and keys in
    ``run_dir``."""
    inference, management, metrics, *grpc = free_ports(5)
    overrides = port_overrides("127.0.0.1", inference, management, metrics, (grpc[0], grpc[1]))
    instance = TorchServe(run_dir, list(models), model_store, overrides=overrides)
    instance.start()
    try:
        instance.wait_ready(timeout=READY_TIMEOUT)
        yield instance
    finally:
        instance.stop()
