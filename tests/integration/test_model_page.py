"""The page to try each model (/docs/, Swagger UI from swagger-ui-py, served by the front
door), in a real headless browser: Debian's chromium driven by Playwright. For each model:
authorize with the key, send its input (an uploaded image, pasted rows, a text with labels)
and see the prediction appear; a screenshot of each is kept under the test's tmp_path."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.launcher import TorchServe
from server.settings import EXAMPLES

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        message = "chromium is not installed: make install-chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield launched
        finally:
            launched.close()


def open_model(browser: Any, server: TorchServe, model: str) -> Any:
    """The page on ``model``'s document, authorized with the key, its native prediction
    operation open and in "Try it out" mode."""
    page = browser.new_page(viewport={"width": 1400, "height": 2000})
    page.goto(f"{server.inference_url}/docs/?urls.primaryName={model}")
    page.wait_for_selector(f"#operations-default-predict_{model}", timeout=30_000)
    page.click("button.authorize")
    page.fill(".auth-container input", server.api_key())
    page.click(".auth-btn-wrapper button.authorize")
    page.click("button.btn-done")
    operation = page.locator(f"#operations-default-predict_{model}")
    operation.locator(".opblock-summary-control").click()
    operation.locator("button.try-out__btn").click()
    return page


def execute(page: Any, model: str) -> str:
    operation = page.locator(f"#operations-default-predict_{model}")
    operation.locator("button.execute").click()
    body = operation.locator(".live-responses-table .response-col_description pre").first
    body.wait_for(timeout=30_000)
    return str(body.inner_text())


def test_digits_page_uploads_an_image(browser: Any, server: TorchServe, tmp_path: Path) -> None:
    page = open_model(browser, server, "digits")
    operation = page.locator("#operations-default-predict_digits")
    operation.locator(".opblock-section-request-body select").select_option("image/png")
    operation.locator("input[type=file]").set_input_files(str(EXAMPLES / "seven.png"))
    answer = execute(page, "digits")
    page.screenshot(path=str(tmp_path / "digits.png"), full_page=True)
    assert '"label": "7"' in answer, answer[:300]
    assert (tmp_path / "digits.png").stat().st_size > 10_000, "a screenshot with the page on it"


def test_cancer_page_sends_pasted_rows(browser: Any, server: TorchServe, tmp_path: Path) -> None:
    page = open_model(browser, server, "cancer")
    answer = execute(page, "cancer")  # the README's row is the body's example
    page.screenshot(path=str(tmp_path / "cancer.png"), full_page=True)
    assert '"label": "malignant"' in answer, answer[:300]


def test_minilm_page_ranks_typed_labels(browser: Any, server: TorchServe, tmp_path: Path) -> None:
    page = open_model(browser, server, "minilm")
    operation = page.locator("#operations-default-predict_minilm")
    operation.locator(".opblock-section-request-body select").select_option("application/json")
    editor = operation.locator("textarea.body-param__text")
    editor.fill(
        '{"text": "The striker scored twice in the final minutes.", '
        '"labels": ["cooking", "football", "astronomy"]}'
    )
    answer = execute(page, "minilm")
    page.screenshot(path=str(tmp_path / "minilm.png"), full_page=True)
    assert '"label": "football"' in answer, answer[:300]
