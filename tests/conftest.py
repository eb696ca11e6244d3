"""Shared fixtures: the real bundled model loaded once, and the sample corpus indexed once."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from paraseek.embedder import Embedder
from paraseek.index import Index, Writer
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


@pytest.fixture(scope="session")
def searcher(
    sample_index: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Searcher:
    """A searcher on a private copy of the sample index, which no other test opens.

    (Two full runs lost the shared sample index's SQLite files to "disk I/O error" late in
    the session, cause not yet found: see the session note.)
    """
    path = tmp_path_factory.mktemp("searcher") / "index"
    shutil.copytree(sample_index, path)
    return Searcher(Index(path), embedder)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the sample corpus that a test may change."""
    folder = tmp_path / "corpus"
    shutil.copytree(SAMPLE, folder)
    return folder
