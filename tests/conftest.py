"""Mark each test by its folder: tests/unit needs no server, tests/integration a real
TorchServe, tests/container the built container image (`make image-test`)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for tier in ("unit", "integration", "container"):
            if f"/tests/{tier}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, tier))
