"""Mark each test by its folder, the tier saying what it needs besides the venv:
tests/unit nothing (no archive, database, Java or server; `make test-unit` on a fresh clone),
tests/component the built archives (`make archive`), trained models or a PostgreSQL it
starts itself, but no TorchServe; tests/integration a real TorchServe; tests/container the
built container image (`make image-test`)."""

from __future__ import annotations

import pytest

TIERS = ("unit", "component", "integration", "container")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for tier in TIERS:
            if f"/tests/{tier}/" in str(item.path):
                item.add_marker(getattr(pytest.mark, tier))
