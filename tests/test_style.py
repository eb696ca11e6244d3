"""The code stays as STYLE.md asks: ruff-clean, formatted, and mypy-clean."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .conftest import ROOT

TOOLS = [sys.executable, "-m"]


def test_ruff_lint_and_format() -> None:
    lint = subprocess.run(
        [*TOOLS, "ruff", "check", "paraseek", "app.py", "ui", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        [*TOOLS, "ruff", "format", "--check", "paraseek", "app.py", "ui", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout


@pytest.mark.slow  # about 45 s of CPU without mypy's cache (.mypy_cache), 1 s with it
def test_mypy() -> None:
    result = subprocess.run(
        [*TOOLS, "mypy", "paraseek", "app.py", "ui"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


FRONT_ENDS = ["app.py", "ui", "paraseek/cli", "paraseek/api", "paraseek/compare"]
_REACH = re.compile(r"\b(?:searcher|opened|found|_index)\.(?:index|embedder)\b|\bsearcher\.index\.")


def test_front_ends_read_the_index_only_through_searcher() -> None:
    """STYLE.md: the CLI, the API, the app and compare call Searcher, never its index or
    embedder (the façade is the one boundary the index's layout may change behind)."""
    reaches = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for front in FRONT_ENDS
        for path in sorted(
            [ROOT / front] if front.endswith(".py") else (ROOT / front).rglob("*.py")
        )
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _REACH.search(line)
    ]
    assert reaches == []


def test_the_app_imports_neither_the_index_nor_the_embedder() -> None:
    """The app's pages get both through Searcher (STYLE.md: "pages call Searcher and
    paraseek.compare, nothing deeper")."""
    deeper = re.compile(r"^\s*(?:from|import) paraseek\.(?:index|embedder)\b")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in [ROOT / "app.py", *sorted((ROOT / "ui").rglob("*.py"))]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if deeper.search(line)
    ]
    assert found == []
