"""Each overlay rendered once per session (kustomize), shared by the tests."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import DEPLOY, OVERLAYS, Doc, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Doc]]:
    return {overlay: render(DEPLOY / overlay) for overlay in OVERLAYS}
