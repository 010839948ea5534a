"""The engine must run headless: importing it never loads Qt."""

from __future__ import annotations

import subprocess
import sys

ENGINE_MODULES = [
    "dupfinder." + name
    for name in (
        "actions",
        "ignore",
        "journal",
        "query",
        "trash",
        "cache",
        "cli",
        "discover",
        "embedder",
        "grouping",
        "hashing",
        "imaging",
        "jobs",
        "modelcard",
        "models",
        "report",
        "scan",
    )
]


def test_engine_imports_no_qt() -> None:
    code = (
        f"import sys; import {', '.join(ENGINE_MODULES)}; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'PyQt'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
