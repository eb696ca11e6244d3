"""Shared fixtures: the real bundled model loaded once, and the sample corpus indexed once."""

from __future__ import annotations

import io
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from filelock import FileLock

from paraseek import settings
from paraseek.cli import main
from paraseek.embedder import Embedder
from paraseek.index import Index, Writer
from paraseek.index.database import DATABASE
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
    "lead",
}


def pytest_configure(config: pytest.Config) -> None:
    """Converted models (the int8 build of precision auto) go to a folder of this test run,
    shared with the CLI subprocesses, never to the user's ~/.cache/paraseek; `make test` and
    `make check` name .venv/paraseek-cache instead, kept between runs. Under pytest-xdist each
    worker's libraries use its share of the cores."""
    if "PARASEEK_CACHE" not in os.environ:
        os.environ["PARASEEK_CACHE"] = tempfile.mkdtemp(prefix="paraseek-test-cache-")
    # The suite checks the CPU's paths, whose results it knows, on a machine with a GPU too;
    # benchmarks/gpu_embedding.py checks the GPU's by hand.
    os.environ.setdefault("PARASEEK_DEVICE", "cpu")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if workers > 1:
        # Each worker gets its share of the cores for the threads of OpenVINO, torch, FAISS
        # and the tokenizers, in its own process and in the `paraseek` processes it starts
        # (torch, imported later, reads them once): two workers that each spread every
        # inference over all the cores keep making their threads wait for each other.
        share = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(name, share)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import faiss  # imported already (paraseek.index), its OpenMP read the variable before

        faiss.omp_set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test`, `make check`: `-n 2 --dist loadfile
    --no-loadscope-reorder`) each test file runs on one worker, so a module's fixtures are
    built once (test_ray.py's one local Ray, test_cli.py's index built by the script), and the
    files are handed out in this order: those with tests marked slow first, so that no long
    file starts last while the other worker idles."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """`name`/index built by `build(folder)` once per test run: under pytest-xdist the
    first worker builds it in the run's shared temporary folder and the others wait and read
    it (an index opens from any number of processes), rather than each building its own."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder = root / f"shared-{name}"
    with FileLock(str(folder) + ".lock", timeout=1800):
        if not (folder / "index" / "manifest.json").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that died half-way
            folder.mkdir(parents=True)
            build(folder)
    return folder / "index"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default embedder: precision auto (int8 OpenVINO where it passes its check)."""
    return Embedder()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The sample corpus indexed once per run; tests must not write to it."""

    def build(folder: Path) -> None:
        with Writer(folder / "index", embedder) as writer:
            writer.update([SAMPLE])

    return _built_once(tmp_path_factory, "sample", build)


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


def sample_cache(sample_index: Path, target: Path, embedder: Embedder) -> Path:
    """An index at `target` without documents whose embedding cache holds every passage of
    the sample corpus (a copy of `sample_index`, its documents removed; the cache keeps
    them): indexing the sample or a copy of it there takes each vector from the cache."""
    copy_index(sample_index, target)
    with Writer(target, embedder) as writer:
        writer.remove([d.id for d in Index(target).documents()])
    return target


def cli(
    *args: object,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`paraseek ARGS` run in this process, through the console script's own `main`.

    What a test of the CLI's logic needs from a real run: the exit status (argparse's usage
    errors included), stdout, stderr and stdin, with `env` added to the environment and `cwd`
    as the working folder for this call only. An exception that `main` lets through fails the
    test, as its traceback would in a real run. `script` runs the real console script.
    """
    argv = [str(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    environ, folder, standard_input = dict(os.environ), os.getcwd(), sys.stdin
    flags = dict(settings._flags)  # what `main` records for "this process" (settings.use)
    try:
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin = io.StringIO(stdin or "")
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exc:  # argparse: --help, --version and usage errors
                status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.stdin = standard_input
        settings._flags.clear()
        settings._flags.update(flags)
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(environ)
    return subprocess.CompletedProcess(["paraseek", *argv], status, out.getvalue(), err.getvalue())


def script(
    *args: object,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`paraseek ARGS` run as a user runs it: the installed console script, in a process of
    its own (slower than `cli` by the start of a Python with OpenVINO and the model)."""
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], input=stdin, capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )  # fmt: skip


TRAM_QUESTION = "Should the city extend its tram network?"


@pytest.fixture(scope="session")
def many_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """45 one-paragraph documents, for pages that must stay light with many: 30 about the
    city's trams (they address TRAM_QUESTION) and 15 about basalt islands (silent on it)."""
    return _built_once(tmp_path_factory, "many", lambda root: _many(root, embedder))


def _many(root: Path, embedder: Embedder) -> None:
    folder = root / "docs"
    folder.mkdir()
    for i in range(30):
        (folder / f"tram{i:02}.txt").write_text(
            f"Tram Plan {i}\n\nThe council voted to extend the tram line to district {i}; "
            f"new trams will run every {i % 7 + 3} minutes along the river to the station.",
            encoding="utf-8",
        )
    for i in range(15):
        (folder / f"basalt{i:02}.txt").write_text(
            f"Island Rocks {i}\n\nThe basalt columns on island {i} formed when lava cooled "
            f"slowly and cracked into hexagons {i + 4} metres tall.",
            encoding="utf-8",
        )
    with Writer(root / "index", embedder) as writer:
        writer.update([folder])


NEWS = (
    "Budget talks stall in the capital\n\nThe finance ministry published its draft budget on "
    "Monday, with cuts to rail and school building in every region.\n\nThe minister said:\n\n"
    "{quote}\n\n"
    "Opposition leaders called the cuts reckless and promised to fight them in parliament.\n\n"
    "Teachers' unions announced a strike for next week over the school building freeze."
)
QUOTE = "\u201cWe cannot spend what we do not have; the rail lines will have to wait a year.\u201d"


@pytest.fixture(scope="session")
def news_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A news item whose minister is quoted (NEWS with QUOTE), indexed once."""

    def build(root: Path) -> None:
        folder = root / "docs"
        folder.mkdir()
        (folder / "news.txt").write_text(NEWS.format(quote=QUOTE), encoding="utf-8")
        with Writer(root / "index", embedder) as writer:
            writer.update([folder])

    return _built_once(tmp_path_factory, "news", build)


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    command: Sequence[str], health: str, log: Path, env: dict[str, str] | None = None,
    ready: Callable[[bytes], bool] = lambda body: True, startup_s: float = 120,
) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """A server process on loopback: started, awaited until `health` answers 200 with a body
    `ready` accepts, and stopped afterwards. Its output goes to `log`, quoted on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        server = subprocess.Popen(
            list(command), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    name = Path(command[0]).name
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"{name} exited with code {server.returncode} before it was ready:\n"
                    f"{log.read_text(errors='replace')}"
                )
            try:
                with urllib.request.urlopen(health, timeout=5) as answer:
                    if answer.status == 200 and ready(answer.read()):
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{name} did not answer {health} within {startup_s} s:\n"
                    f"{log.read_text(errors='replace')}"
                )
            time.sleep(0.3)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
