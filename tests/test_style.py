"""The code stays as STYLE.md asks: ruff-clean, formatted, and mypy-clean."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT

TOOLS = [sys.executable, "-m"]


def test_ruff_lint_and_format() -> None:
    lint = subprocess.run(
        [*TOOLS, "ruff", "check", "paraseek", "app.py", "ui", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        [*TOOLS, "ruff", "format", "--check", "paraseek", "app.py", "ui", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout


def test_mypy() -> None:
    result = subprocess.run(
        [*TOOLS, "mypy", "paraseek", "app.py", "ui"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
