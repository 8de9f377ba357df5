"""Every curl command in the README runs against the test server and gets what it shows.

Each line starting with ``curl`` in a fenced ``bash`` block runs verbatim through bash (cwd
the repo root, ``TOKEN`` exported), with only the README's addresses moved to the test
server's ports. curl reads a ``.curlrc`` of the test's (``CURL_HOME``) that appends the HTTP
status, so the command text is the README's own. Where a ``json`` block follows the command
it is the expected answer: its status is the body's ``code`` (else 200), and a list the
README cuts short with ``...`` is compared on its first items, floats within
``tests.answers.TOLERANCE``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from server.launcher import TorchServe
from server.settings import ROOT
from tests.answers import ELLIPSIS, agrees

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
README_PORTS = {"8080": "inference_url", "8081": "management_url", "8082": "metrics_url"}
STATUS_MARK = "\nHTTP_STATUS="
CURLRC = 'write-out = "\\nHTTP_STATUS=%{http_code}"\n'  # curl reads \\n as a newline


@dataclass(frozen=True)
class CurlExample:
    command: str
    expected: str | None  # the json block right after the command's block, if any

    @property
    def name(self) -> str:
        """The URL's path, e.g. ``/predictions/digits``."""
        url = re.search(r"http://[^/\s]+(\S*)", self.command)
        return url.group(1) if url else self.command[:40]


def readme_examples(text: str) -> list[CurlExample]:
    """The curl lines of the README's bash blocks, each with the json block after it."""
    fences = list(FENCE.finditer(text))
    examples = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "bash":
            continue
        curls = [line for line in fence.group(2).splitlines() if line.startswith("curl ")]
        after = fences[index + 1] if index + 1 < len(fences) else None
        adjacent = (
            after is not None
            and after.group(1) == "json"
            and not text[fence.end() : after.start()].strip()
        )
        for line in curls:
            owns_json = adjacent and len(curls) == 1  # one command, one answer
            examples.append(CurlExample(line, after.group(2) if owns_json and after else None))
    return examples


EXAMPLES = readme_examples((ROOT / "README.md").read_text())


def expected_answer(block: str) -> Any:
    """The json block as data; the README's ``...`` becomes a marker string."""
    return json.loads(block.replace(ELLIPSIS, json.dumps(ELLIPSIS)))


def test_the_readme_has_its_curl_examples() -> None:
    assert len(EXAMPLES) >= 6, EXAMPLES
    assert sum(example.expected is not None for example in EXAMPLES) >= 5, EXAMPLES


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{n}{e.name}" for n, e in enumerate(EXAMPLES, 1)]
)
def test_readme_curl_command(example: CurlExample, server: TorchServe, tmp_path: Path) -> None:
    command = example.command
    for port, attribute in README_PORTS.items():
        command = command.replace(f"http://127.0.0.1:{port}", getattr(server, attribute))
    (tmp_path / ".curlrc").write_text(CURLRC)
    env = os.environ | {"TOKEN": server.api_key(), "CURL_HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    body, _, status = result.stdout.rpartition(STATUS_MARK)
    if example.expected is None:
        assert status == "200", body
        return
    expected = expected_answer(example.expected)
    code = expected.get("code", 200) if isinstance(expected, dict) else 200
    assert status == str(code), body
    assert agrees(expected, json.loads(body)) == [], body
