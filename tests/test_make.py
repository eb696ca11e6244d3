"""The Makefile's sample index: `make run` and `make index` after an upgrade of paraseek."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from paraseek.index import Index
from paraseek.index.database import FORMAT_VERSION

from .conftest import ROOT, copy_index

STAMP = ROOT / ".venv" / ".installed"


def make_index(index: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "index", f"INDEX={index}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )  # fmt: skip


@pytest.mark.slow
def test_an_index_of_an_older_format_is_moved_aside_and_the_sample_indexed_afresh(
    sample_index: Path, tmp_path: Path
) -> None:
    if not STAMP.exists() or shutil.which("make") is None:
        pytest.skip("needs `make install` (the .venv that `make test` installs) and make")
    index = copy_index(sample_index, tmp_path / "paraseek-index")
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION - 2  # as if built by an older paraseek
    (index / "manifest.json").write_text(json.dumps(manifest))

    done = make_index(index)
    assert done.returncode == 0, done.stderr
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("paraseek-index.format-")]
    assert len(aside) == 1, sorted(p.name for p in tmp_path.iterdir())
    # Nothing is deleted: the old index is kept whole beside the new one.
    assert json.loads((aside[0] / "manifest.json").read_text()) == manifest
    assert f"moved to {aside[0]}" in done.stdout
    assert json.loads((index / "manifest.json").read_text())["format_version"] == FORMAT_VERSION
    assert len(Index(index).documents()) == len(list((ROOT / "data" / "corpus").iterdir()))

    again = make_index(index)  # an index of this format is updated in place, nothing moved
    assert again.returncode == 0, again.stderr
    assert "5 unchanged" in again.stdout and "moved to" not in again.stdout
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("paraseek-index.")]) == 1
