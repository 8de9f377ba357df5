"""The README's Python example runs against the test server and prints what it promises.

Each ``print(...)  # expected`` line in the README's ```python block is checked: the
program runs with the test server's URL and key file, and its output lines must equal
the comments, so the docs cannot drift from the service.
"""

from __future__ import annotations

import re
import subprocess
import sys

from server.launcher import TorchServe
from server.settings import LOCAL_KEY_FILE, ROOT
from tests.answers import same_text

BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
EXPECTED = re.compile(r"^print\(.*\)\s+# (.+)$", re.MULTILINE)


def readme_program() -> str:
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    assert len(blocks) == 1, "the README has one Python example"
    return str(blocks[0])


def test_readme_python_example_prints_what_it_says(server: TorchServe) -> None:
    program = readme_program()
    expected = EXPECTED.findall(program)
    assert len(expected) == 3, expected
    program = program.replace("http://127.0.0.1:8080", server.inference_url)
    key_file = server.run_dir / LOCAL_KEY_FILE
    assert '".run/api-key"' in program and key_file.is_file()
    program = program.replace('".run/api-key"', repr(str(key_file)))
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    assert len(printed) == len(expected), printed
    assert all(map(same_text, expected, printed)), printed
