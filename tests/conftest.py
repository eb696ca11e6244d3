"""Shared fixtures: the real bundled model loaded once, and the sample corpus indexed once."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest

from paraseek.embedder import Embedder
from paraseek.index import Index, Writer
from paraseek.index.store import DATABASE
from paraseek.search import Searcher

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "corpus"
SCRIPT = Path(sys.executable).parent / "paraseek"
INTERVIEW = SAMPLE / "004_04f89b89d737b294.txt"
# The fields every hit carries, in the API and in the CLI's --json.
HIT_FIELDS = {
    "rank",
    "score",
    "passage_id",
    "document_id",
    "title",
    "date",
    "source",
    "text",
    "context",
    "start",
    "end",
}


def pytest_configure(config: pytest.Config) -> None:
    """Converted models (the int8 build of precision auto) go to a folder of this test run,
    shared with the CLI subprocesses, never to the user's ~/.cache/paraseek."""
    if "PARASEEK_CACHE" not in os.environ:
        os.environ["PARASEEK_CACHE"] = tempfile.mkdtemp(prefix="paraseek-test-cache-")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default embedder: precision auto (int8 OpenVINO where it passes its check)."""
    return Embedder()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The sample corpus indexed once per session; tests must not write to it."""
    path = tmp_path_factory.mktemp("sample") / "index"
    with Writer(path, embedder) as writer:
        writer.update([SAMPLE])
    return path


def copy_index(source: Path, target: Path) -> Path:
    """Copy an index that this process may have open, the way SQLite allows.

    Never `shutil.copytree` a live index: reading paraseek.db with a plain open() and closing
    it drops every POSIX lock this process holds on it, so the next connection that closes in
    another process (a CLI run, the app's server) believes it is the last, checkpoints and
    deletes the WAL under this process's connections ("disk I/O error" later on).
    """
    target.mkdir(parents=True)
    for item in source.iterdir():
        if not item.name.startswith(DATABASE):
            shutil.copy2(item, target / item.name)
    with sqlite3.connect(source / DATABASE) as src, sqlite3.connect(target / DATABASE) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return target


@pytest.fixture(scope="session")
def searcher(sample_index: Path, embedder: Embedder) -> Searcher:
    """A searcher on the shared sample index."""
    return Searcher(Index(sample_index), embedder)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the sample corpus that a test may change."""
    folder = tmp_path / "corpus"
    shutil.copytree(SAMPLE, folder)
    return folder
