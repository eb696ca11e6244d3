"""Faults: the indexer killed (SIGKILL) at random points, and damaged index files.

After every kill the index opens, passes `paraseek check` and answers, and it holds either
the state before the interrupted run or the state that run was writing, never a mix.
"""

from __future__ import annotations

import io
import json
import os
import random
import shlex
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from paraseek.corpus import Document, read_documents, split_document
from paraseek.embedder import Embedder
from paraseek.index import Index, Writer
from paraseek.index.check import check
from paraseek.index.stores import vectors_file
from paraseek.search import Searcher

from .conftest import INTERVIEW, SAMPLE, SCRIPT, cli, copy_index, sample_cache, script

KILLS = 2  # random-time kills, plus three aimed at the embedding pass and the commit
SEED = 20261122
# The random kills fall at other moments in each run (a seed of the run's own, named in every
# failure; FAULTS_SEED=N replays one), so the runs together try many more points than one does.
KILL_SEED = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(2**32))
PER_ROUND = 300  # new passages a round adds: two embedding batches
PARAGRAPHS = [
    p for f in sorted(SAMPLE.glob("*.txt")) for p in f.read_text().split("\n\n") if len(p) > 200
]


def _state(index: Path) -> set[tuple[str, str]]:
    """(path, content hash) of every indexed document."""
    conn = sqlite3.connect(index / "paraseek.db")
    try:
        return set(conn.execute("SELECT path, content_hash FROM documents").fetchall())
    finally:
        conn.close()


def _healthy(index: Path, embedder: Embedder) -> None:
    findings = check(index)
    assert not [f for f in findings if f.level == "error"], findings
    hits = Searcher(Index(index), embedder).search("What do the articles say about Russia?", 3)
    assert len(hits) == 3


def _change(corpus: Path, round_: int, rng: random.Random) -> None:
    """Add a new document of PER_ROUND new passages (more than one embedding batch), rewrite
    another and delete an older addition, so the next run has work in every phase. Each new
    paragraph is the first 200 characters of one of the sample's (about 50 tokens where a whole
    one has 150): what a kill interrupts does not depend on how long the texts are."""
    body = "\n\n".join(
        f"{p[:200]} (round {round_}.{i})"
        for i, p in enumerate(rng.choices(PARAGRAPHS, k=PER_ROUND))
    )
    (corpus / f"added{round_:02}.txt").write_text(f"Added document {round_}\n\n{body}\n")
    added = sorted(corpus.glob("added*.txt"))
    if len(added) > 2:
        added[0].unlink()
    target = corpus / sorted(p.name for p in corpus.glob("0*.txt"))[round_ % 5]
    target.write_text(target.read_text() + f"\n\nA closing remark added in round {round_}.\n")


def _cached(index: Path) -> int:
    """Vectors in the embedding cache: grows batch by batch during a run's first pass."""
    conn = sqlite3.connect(index / "paraseek.db", timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    finally:
        conn.close()


def _kill_when(process: subprocess.Popen[str], ready: object, limit: float = 120) -> bool:
    """SIGKILL `process` once `ready()` is true; False if it finished first."""
    deadline = time.monotonic() + limit
    while process.poll() is None and time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.wait()
    return False


@pytest.mark.slow
def test_sigkill_at_random_points_never_damages_the_index(
    tmp_path: Path, embedder: Embedder, sample_index: Path
) -> None:
    """KILLS runs killed at random moments (other moments in every run: KILL_SEED), then one
    once the first batch is cached, one while the vectors are written, one in the commit."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for f in SAMPLE.glob("*.txt"):
        (corpus / f.name).write_text(f.read_text())
    rng = random.Random(KILL_SEED)
    print(f"faults: FAULTS_SEED={KILL_SEED} replays this run")  # shown with any failure
    sample_cache(sample_index, index, embedder)
    with Writer(index, embedder) as writer:
        assert writer.update([corpus]).embedded == 0  # every vector from the cache
    _change(corpus, 0, rng)
    started = time.monotonic()  # a process of its own, like the runs that are killed below
    assert script("index", corpus, "--index", index).returncode == 0
    duration = time.monotonic() - started  # one update run, start to finish
    _healthy(index, embedder)

    killed = finished = 0
    phases: dict[str, int] = {}
    for round_ in range(1, KILLS + 4):
        before, cached = _state(index), _cached(index)
        generation = Index(index).generation()
        _change(corpus, round_, rng)
        process = subprocess.Popen(
            [str(SCRIPT), "index", str(corpus), "--index", str(index)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        if round_ <= KILLS:  # at a random moment of a run
            at = time.monotonic() + rng.uniform(0.2, duration)
            hit = _kill_when(process, lambda at=at: time.monotonic() >= at)
        elif round_ == KILLS + 1:  # once the first batch of the first pass is committed
            hit = _kill_when(process, lambda cached=cached: _cached(index) > cached)
        elif round_ == KILLS + 2:  # while the next generation's vectors are being written
            tmp = vectors_file(index, generation + 1).with_suffix(".faiss.tmp")
            hit = _kill_when(process, tmp.exists)
        else:  # after they are in place, before or during the commit and the manifest
            hit = _kill_when(process, vectors_file(index, generation + 1).exists)
        killed += hit
        finished += not hit
        if hit:
            written = vectors_file(index, generation + 1)
            phase = (
                "after the commit" if Index(index).generation() > generation
                else "in the commit" if written.exists() or written.with_suffix(".faiss.tmp").exists()
                else "in the first pass" if _cached(index) > cached
                else "before any write"
            )  # fmt: skip
            phases[phase] = phases.get(phase, 0) + 1
        after = _state(index)
        assert after in (before, _files_state(corpus)), f"round {round_}: neither old nor new"
        _healthy(index, embedder)

    print(
        f"\nfaults: {killed} runs killed {phases}, {finished} finished first; "
        f"an uninterrupted run takes {duration:.1f} s"
    )
    assert killed >= (KILLS + 3) // 2, f"only {killed} runs were killed before finishing"
    # a last run completes the work that was interrupted, and the index is whole
    result = cli("index", corpus, "--index", index)
    assert result.returncode == 0, result.stderr
    assert cli("check", "--index", index).returncode == 0
    on_disk = {str(p.resolve()) for p in corpus.glob("*.txt")}
    assert {path for path, _ in _state(index)} == on_disk
    # what an index built afresh holds: the files' documents, split as the writer splits them
    assert _state(index) == _files_state(corpus)
    assert _passages(index) == _split(corpus, embedder)


def _files_state(corpus: Path) -> set[tuple[str, str]]:
    """(path, content hash) of every document under `corpus`: what a finished run leaves."""
    return {(d.path, d.content_hash) for d in read_documents([corpus]) if isinstance(d, Document)}


def _split(corpus: Path, embedder: Embedder) -> list[tuple[str, int, str]]:
    """(path, ordinal, text) of every passage of the documents under `corpus`, sorted."""
    return sorted(
        (d.path, p.ordinal, p.text)
        for d in read_documents([corpus])
        if isinstance(d, Document)
        for p in split_document(d, embedder.token_spans, embedder.max_tokens)
    )


def _passages(index: Path) -> list[tuple[str, int, str]]:
    conn = sqlite3.connect(index / "paraseek.db")
    try:
        return sorted(
            conn.execute(
                "SELECT d.path, p.ordinal, p.text FROM passages p JOIN documents d "
                "ON d.id = p.document_id"
            ).fetchall()
        )
    finally:
        conn.close()


@pytest.mark.slow
def test_check_names_each_damaged_file_and_the_fix(
    sample_index: Path, tmp_path: Path, embedder: Embedder
) -> None:
    healthy = cli("check", "--index", sample_index)
    assert healthy.returncode == 0 and healthy.stdout.strip().endswith("healthy")

    # keyword postings that lost a passage
    lost = copy_index(sample_index, tmp_path / "postings")
    with sqlite3.connect(lost / "paraseek.db") as conn:
        conn.execute("DELETE FROM keyword_lengths WHERE id = (SELECT min(id) FROM passages)")
    conn.close()
    result = cli("check", "--index", lost)
    assert result.returncode == 1
    assert "error   postings  the BM25 postings in" in result.stdout and "re-index" in result.stdout

    # a truncated vector file: check and search both name it
    vectors = copy_index(sample_index, tmp_path / "vectors")
    file = max(vectors.glob("vectors.*.faiss"), key=lambda p: int(p.name.split(".")[1]))
    file.write_bytes(file.read_bytes()[:1000])
    result = cli("check", "--index", vectors)
    assert result.returncode == 1 and f"Vector file '{file}' is missing or damaged" in result.stdout
    search = cli("search", "Russia", "--index", vectors)
    assert search.returncode == 1 and search.stderr.count("\n") == 1
    assert f"Vector file '{file}'" in search.stderr and "paraseek repair" in search.stderr

    # overwritten database pages
    database = copy_index(sample_index, tmp_path / "database")
    data = bytearray((database / "paraseek.db").read_bytes())
    rng = random.Random(SEED)
    for page in range(4096, len(data) - 4096, 4096 * 7):
        data[page + 200 : page + 1200] = rng.randbytes(1000)
    (database / "paraseek.db").write_bytes(bytes(data))
    result = cli("check", "--index", database)
    assert result.returncode == 1
    assert f"'{database / 'paraseek.db'}' is damaged" in result.stdout
    assert "delete the index folder and re-index" in result.stdout
    for question in ("Russia", "communism and religion", "NATO's future"):  # reads hit bad pages
        search = cli("search", question, "--index", database)
        assert search.returncode == 1 and search.stderr.count("\n") == 1, search.stderr
        assert f"'{database / 'paraseek.db'}' is damaged (" in search.stderr or (
            f"The keyword index of '{database / 'paraseek.db'}' names passage" in search.stderr
        )
        assert "paraseek check" in search.stderr and "re-index" in search.stderr

    # --json for scripts
    report = cli("check", "--index", vectors, "--json")
    parsed = json.loads(report.stdout)
    assert parsed["healthy"] is False and any(f["part"] == "vectors" for f in parsed["findings"])


def test_a_stale_manifest_and_leftover_files_are_warnings_not_errors(
    sample_index: Path, tmp_path: Path
) -> None:
    index = copy_index(sample_index, tmp_path / "index")
    manifest = index / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"passages": ', '"passages": 1'))
    (index / "vectors.99.faiss.tmp").write_bytes(b"partial")
    findings = check(index)
    levels = {(f.level, f.part) for f in findings}
    assert ("warning", "manifest") in levels and ("warning", "files") in levels
    assert not [f for f in findings if f.level == "error"]
    assert os.path.exists(index / "vectors.99.faiss.tmp")  # check never changes anything


def test_passages_edited_in_the_database_are_one_finding_whose_fix_is_repair(
    sample_index: Path, tmp_path: Path
) -> None:
    """Check samples the postings at random: passages edited in the database must not also
    surface as a postings finding that names another fix (every passage is edited here, so
    the sample always meets one)."""
    index = copy_index(sample_index, tmp_path / "index")
    _sql(index, "UPDATE passages SET text = text || ' Edited by hand.'")
    errors = [f for f in check(index) if f.level == "error"]
    assert [f.part for f in errors] == ["passages"], errors
    assert f"paraseek repair --index {index}" in errors[0].message


# --- every command against every kind of damage: one line, never a traceback ---------------


def _flip(path: Path, offset: int, count: int = 64) -> None:
    """Invert `count` bytes of `path` from `offset` (negative: from the end)."""
    data = bytearray(path.read_bytes())
    start = offset % len(data)
    data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
    path.write_bytes(bytes(data))


def _sql(index: Path, *statements: str) -> None:
    conn = sqlite3.connect(index / "paraseek.db")
    try:
        conn.execute("PRAGMA foreign_keys=OFF")  # damage is what a constraint would refuse
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _current_vectors(index: Path) -> Path:
    return max(index.glob("vectors.*.faiss"), key=lambda p: int(p.name.split(".")[1]))


def _replace_with_file(index: Path) -> None:
    for item in index.iterdir():
        item.unlink()
    index.rmdir()
    index.write_text("not an index\n")


# kind of damage -> what does it to an index folder
DAMAGE = {
    "database truncated": lambda i: os.truncate(i / "paraseek.db", 40_000),
    "database header overwritten": lambda i: _flip(i / "paraseek.db", 0, 100),
    "generation not a number": lambda i: _sql(
        i, "UPDATE meta SET value = 'abc' WHERE key = 'generation'"
    ),
    "meta table dropped": lambda i: _sql(i, "DROP TABLE meta"),
    "passages without their document": lambda i: _sql(
        i, "DELETE FROM documents WHERE id = (SELECT min(id) FROM documents)"
    ),
    "passages table dropped": lambda i: _sql(i, "DROP TABLE passages"),
    "vector file truncated": lambda i: os.truncate(_current_vectors(i), 1000),
    "vector file missing": lambda i: _current_vectors(i).unlink(),
    "manifest not JSON": lambda i: (i / "manifest.json").write_text("{ not json"),
    "lock file is a folder": lambda i: (
        (i / ".lock").unlink(missing_ok=True),
        (i / ".lock").mkdir(),
    ),
    "index path is a file": _replace_with_file,
}


def _commands(index: Path, documents: list[str], dataset: Path) -> list[list[str]]:
    """Every command of the CLI but serve and api (servers: they open the index the way search
    does before serving), readers first; the writers last, as they may repair."""
    at = ["--index", str(index)]
    return [
        ["search", "Russia", *at],
        ["search", "Russia", "--mode", "dense", *at],
        ["search", "Russia", "--mode", "keyword", *at],
        ["similar", "1", *at],
        ["compare", "What do they say about Russia?", *at],
        ["compare", "-", "--grid", *at],
        ["points", *at],
        ["align", documents[0], documents[1], *at],
        ["show", documents[0], *at],
        ["show", documents[0], "--passage", "2", *at],
        ["info", *at],
        ["info", "--json", *at],
        ["check", *at],
        ["eval", str(dataset), *at],
        ["remove", documents[0], *at],
        ["repair", *at],
        ["index", str(SAMPLE), *at],
    ]


def _tiny_beir(folder: Path) -> Path:
    """A BEIR-format dataset of two documents and one query."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        json.dumps({"_id": "d1", "title": "Bees", "text": "Bees dance to show where flowers are."})
        + "\n"
        + json.dumps({"_id": "d2", "title": "Ice", "text": "Glaciers carve deep valleys."})
        + "\n"
    )
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "bee dance"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_every_command_on_a_damaged_index_answers_or_fails_in_one_line(
    damage: str, sample_index: Path, tmp_path: Path, embedder: Embedder,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from paraseek import search as search_module
    from paraseek.cli import main

    # The real model, loaded once for the session rather than once per command.
    monkeypatch.setattr(search_module, "Embedder", lambda *a, **k: embedder)
    monkeypatch.setattr("paraseek.embedder.Embedder", lambda *a, **k: embedder)
    monkeypatch.setattr("sys.stdin", io.StringIO("Russia\nreligion\n"))
    index = copy_index(sample_index, tmp_path / "index")
    documents = [d.path for d in Index(index).documents()][:2]
    DAMAGE[damage](index)
    dataset = _tiny_beir(tmp_path / "beir")
    for argv in _commands(index, documents, dataset):
        monkeypatch.setattr("sys.stdin", io.StringIO("Russia\nreligion\n"))
        status = main(argv)  # an exception here is a traceback for the user
        out, err = capsys.readouterr()
        lines = [line for line in err.splitlines() if line.strip() and "\r" not in line]
        errors = [line for line in lines if line.startswith("paraseek: error:")]
        assert status in (0, 1), (argv, status, err)
        if status == 0:
            assert not errors, (argv, err)
            continue
        if argv[0] == "check" and not errors:  # check reports damage as findings, exit 1
            assert out.strip().endswith("DAMAGED"), out
            continue
        assert len(errors) == 1, (argv, err)
        assert "unexpected" not in errors[0] and "a bug in paraseek" not in errors[0], (argv, err)
        assert str(index) in errors[0] or "'<index>" in errors[0], (argv, errors[0])


def test_an_index_with_no_documents_answers_every_command(
    tmp_path: Path, embedder: Embedder, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """What a first run stopped after creating the index leaves (a full disk, a kill)."""
    from paraseek import search as search_module
    from paraseek.cli import main

    monkeypatch.setattr(search_module, "Embedder", lambda *a, **k: embedder)
    index = tmp_path / "index"
    Writer(index, embedder).close()
    for argv in (["search", "Russia"], ["search", "Russia", "--mode", "dense"],
                 ["compare", "Russia"], ["points"], ["info"], ["check"]):  # fmt: skip
        status = main([*argv, "--index", str(index)])
        err = capsys.readouterr().err
        assert status == 0 and "error" not in err, (argv, err)


# --- the disk and the file system refuse: permissions, read-only, full ---------------------


def _unprivileged(command: list[str]) -> list[str]:
    """`command` run so that file permissions apply to it: as root, under capsh without the
    two capabilities that let root read and write any file (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH); skipped, saying why, as root without capsh."""
    if os.geteuid() != 0:
        return command
    capsh = shutil.which("capsh")
    if capsh is None:
        pytest.skip(
            "root ignores file permissions and capsh (libcap) is not installed to drop that"
        )
    return [capsh, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", shlex.join(command)]


@pytest.mark.slow  # three runs of the console script: in make test, not make check
def test_a_read_only_index_is_read_not_called_damaged(sample_index: Path, tmp_path: Path) -> None:
    index = copy_index(sample_index, tmp_path / "index")  # closed cleanly: no -wal, no -shm
    for item in [*index.iterdir(), index]:
        item.chmod(item.stat().st_mode & ~0o222)
    try:
        search = subprocess.run(
            _unprivileged([str(SCRIPT), "search", "Russia", "--json", "-k", "3", "--index",
                           str(index)]), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert search.returncode == 0, search.stderr
        assert len(search.stdout.splitlines()) == 3
        checked = subprocess.run(
            _unprivileged([str(SCRIPT), "check", "--index", str(index)]),
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "damaged" not in checked.stdout and checked.stdout.strip().endswith("healthy")
        write = subprocess.run(
            _unprivileged([str(SCRIPT), "index", str(SAMPLE), "--index", str(index)]),
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert write.returncode == 1 and write.stderr.count("\n") == 1, write.stderr
        assert "permission denied" in write.stderr and "damaged" not in write.stderr
    finally:
        for item in [index, *index.iterdir()]:
            item.chmod(item.stat().st_mode | 0o200)


@pytest.mark.slow  # indexes four sample documents, twice: in make test, not make check
def test_a_folder_that_cannot_be_read_keeps_its_documents(
    tmp_path: Path, sample_index: Path, embedder: Embedder
) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "inside").mkdir(parents=True)
    for name in ("001_85fcaa141348a3f3.txt", "003_1416103580240b3d.txt"):
        shutil.copy(SAMPLE / name, corpus / "inside" / name)
    shutil.copy(INTERVIEW, corpus / INTERVIEW.name)
    shutil.copy(SAMPLE / "002_068334134ee8bc4f.txt", corpus / "locked.txt")
    index = sample_cache(sample_index, tmp_path / "index", embedder)  # vectors from its cache
    first = cli("index", corpus, "--index", index)
    assert first.returncode == 0, first.stderr
    before = _state(index)
    assert len(before) == 4
    (corpus / "inside").chmod(0)
    (corpus / "locked.txt").chmod(0)
    try:
        again = subprocess.run(
            _unprivileged([str(SCRIPT), "index", str(corpus), "--index", str(index)]),
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        (corpus / "inside").chmod(0o755)
        (corpus / "locked.txt").chmod(0o644)
    assert again.returncode == 0, again.stderr
    assert "removed" not in again.stderr and "0 removed" in again.stdout, again.stderr
    assert (
        f"skipped {corpus / 'inside'}: cannot read the folder: Permission denied; the documents "
        "indexed from it keep their indexed version" in again.stderr
    ), again.stderr
    assert f"skipped {corpus / 'locked.txt'}: cannot read: Permission denied" in again.stderr
    assert _state(index) == before


@pytest.mark.slow  # indexes the sample corpus: in make test, not make check
def test_files_that_vanish_or_change_between_the_passes_are_skipped(
    tmp_path: Path, embedder: Embedder, sample_index: Path
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE, corpus)
    sample_cache(sample_index, tmp_path / "index", embedder)  # pass 1 takes every vector there
    files = sorted(corpus.glob("*.txt"))
    vanishing, changing = files[0], files[1]
    original = changing.read_text()
    lines: list[str] = []

    def progress(done: int, expected: int) -> None:  # the last call ends pass 1
        if done and done == expected and vanishing.exists():
            vanishing.unlink()
            changing.write_text(original + "\n\nA paragraph written while it was indexed.\n")

    with Writer(tmp_path / "index", embedder) as writer:
        report = writer.update([corpus], log=lines.append, progress=progress)
    skipped = {s.path: s.reason for s in report.skipped}
    assert skipped[str(vanishing)].startswith("cannot read: No such file or directory")
    assert skipped[str(changing)].startswith("it changed while it was being indexed")
    indexed = {path for path, _ in _state(tmp_path / "index")}
    assert indexed == {str(f) for f in files[2:]}
    assert sorted(report.added) == sorted(indexed)
    with Writer(tmp_path / "index", embedder) as writer:  # the next run takes the change
        report = writer.update([corpus])
    assert report.added == [str(changing)] and not report.skipped
    assert _state(tmp_path / "index") == _files_state(corpus)


@pytest.mark.slow  # runs the console script on a 1.2 MiB disk: in make test, not make check
def test_a_full_disk_fails_in_one_line_and_keeps_the_last_version(tmp_path: Path) -> None:
    """A 1.2 MiB file system (tmpfs, mounted in a private mount namespace) holds the index of
    one document, not of the sample corpus."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rm", "true"]).returncode != 0:
        pytest.skip("no private mount namespace here (unshare -rm) to mount a small disk in")
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(SAMPLE / "001_85fcaa141348a3f3.txt", small)  # 12 passages
    disk = tmp_path / "disk"
    disk.mkdir()
    index = disk / "index"
    out = tmp_path / "out"
    out.mkdir()
    steps = [
        ("first", ["index", str(small)]),
        ("full", ["index", str(SAMPLE)]),
        ("search", ["search", "Russia", "--json", "-k", "1"]),
        ("check", ["check"]),
    ]
    script = f"mount -t tmpfs -o size=1200k tmpfs {shlex.quote(str(disk))}\n" + "".join(
        f"{shlex.join([str(SCRIPT), *argv, '--index', str(index)])} >{out}/{name}.out "
        f"2>{out}/{name}.err; echo $? >{out}/{name}.status\n"
        for name, argv in steps
    )
    subprocess.run([unshare, "-rm", "sh", "-c", script], check=True, timeout=600)

    def result(name: str) -> tuple[int, str, str]:
        return tuple(  # type: ignore[return-value]
            [int((out / f"{name}.status").read_text())]
            + [(out / f"{name}.{part}").read_text() for part in ("out", "err")]
        )

    status, _, err = result("first")
    assert status == 0, err
    status, _, err = result("full")
    errors = [line for line in err.splitlines() if line.startswith("paraseek")]
    assert status == 1 and len(errors) == 1 and "Traceback" not in err, err
    assert "is full" in errors[0] and "free some space" in errors[0], errors[0]
    status, found, err = result("search")
    assert status == 0, err
    assert json.loads(found)["source"] == str((small / "001_85fcaa141348a3f3.txt").resolve())
    status, report, _ = result("check")
    assert status == 0 and report.strip().endswith("healthy"), report


# --- damage that a checksum or a cross-check finds, and `paraseek repair` repairs ------------

QUESTION = "Why did Haz stop studying to become a lawyer?"


def _flip_vectors(index: Path) -> None:
    """Invert bytes inside the vectors of the current vector file (not its ids or footer)."""
    _flip(_current_vectors(index), 4096, 256)


def _flip_cached(index: Path, rank: int) -> None:
    """Invert bytes inside the cached vector of the passage at `rank` (by id)."""
    conn = sqlite3.connect(index / "paraseek.db")
    try:
        hashed, blob = conn.execute(
            "SELECT e.text_hash, e.vector FROM passages p JOIN embeddings e ON "
            "e.text_hash = p.text_hash ORDER BY p.id LIMIT 1 OFFSET ?",
            (rank,),
        ).fetchone()
        data = bytearray(blob)
        data[40:80] = bytes(b ^ 0xFF for b in data[40:80])
        conn.execute("UPDATE embeddings SET vector = ? WHERE text_hash = ?", (bytes(data), hashed))
        conn.commit()
    finally:
        conn.close()


# kind -> (damage, the `check` part that names it, what a reader may do: "refuse" or "answer")
REPAIRABLE = {
    "bytes flipped in the vectors of the vector file": (_flip_vectors, "vectors"),
    "bytes flipped in a cached vector": (lambda i: _flip_cached(i, 30), "cache"),
    "rows deleted from the embedding cache": (
        lambda i: _sql(
            i,
            "DELETE FROM embeddings WHERE text_hash IN "
            "(SELECT text_hash FROM passages ORDER BY id LIMIT 50 OFFSET 10)",
        ),
        "cache",
    ),
    "a passage's text edited in the database": (
        lambda i: _sql(
            i,
            "UPDATE passages SET text = 'The capital of France is Paris.' WHERE id = "
            "(SELECT id FROM passages ORDER BY id LIMIT 1 OFFSET 40)",
        ),
        "passages",
    ),
    "a document row deleted": (
        lambda i: _sql(
            i,
            "DELETE FROM documents WHERE id = (SELECT document_id FROM passages ORDER BY id "
            "LIMIT 1 OFFSET 40)",
        ),
        "database",
    ),
}


def _anchor(index: Path) -> int:
    """The id of one passage picked by what it is (its document and place), not by its id:
    a repair that splits a document again gives its passages new ids."""
    conn = sqlite3.connect(index / "paraseek.db")
    try:
        return int(
            conn.execute(
                "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id "
                "WHERE d.path = ? AND p.ordinal = 3",
                (str(INTERVIEW),),
            ).fetchone()[0]
        )
    finally:
        conn.close()


def _answers(index: Path) -> list[list[dict[str, object]]]:
    """What a reader answers from `index` (dense search, similar, compare), passage ids aside."""
    answers = [
        cli("search", QUESTION, "--mode", "dense", "--json", "-k", "5", "--index", index).stdout,
        cli("similar", _anchor(index), "--json", "-k", "5", "--index", index).stdout,
        cli("compare", QUESTION, "--json", "--floor", "0.2", "--index", index).stdout,
    ]
    return [
        [
            {k: v for k, v in json.loads(line).items() if k != "passage_id"}
            for line in a.splitlines()
        ]
        for a in answers
    ]


@pytest.fixture(scope="module")
def healthy_answers(
    sample_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[list[dict[str, object]]]:
    return _answers(copy_index(sample_index, tmp_path_factory.mktemp("answers") / "index"))


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(REPAIRABLE))
def test_damage_is_found_never_answered_from_and_repaired(
    damage: str, sample_index: Path, tmp_path: Path, healthy_answers: list[list[dict[str, object]]]
) -> None:
    index = copy_index(sample_index, tmp_path / "index")
    anchor = _anchor(index)
    change, part = REPAIRABLE[damage]
    change(index)
    found = cli("check", "--json", "--index", index)
    report = json.loads(found.stdout)
    assert found.returncode == 1 and not report["healthy"], found.stdout
    errors = [f for f in report["findings"] if f["level"] == "error"]
    assert any(f["part"] == part for f in errors), errors
    assert all(f"paraseek repair --index {index}" in f["message"] for f in errors), errors
    # A reader answers as the undamaged index does, or refuses in one line naming the fix:
    # never a score from damaged bytes.
    for command, healthy in zip(
        (
            ["search", QUESTION, "--mode", "dense", "--json", "-k", "5"],
            ["similar", str(anchor), "--json", "-k", "5"],
            ["compare", QUESTION, "--json", "--floor", "0.2"],
        ),
        healthy_answers,
        strict=True,
    ):
        answer = cli(*command, "--index", index)
        if answer.returncode == 0:
            hits = [json.loads(line) for line in answer.stdout.splitlines()]
            assert all(-1.0001 <= h["score"] <= 1.0001 for h in hits), (command, hits)
            if part in ("vectors", "cache"):  # the texts are intact: the answer must be too
                assert [{k: v for k, v in h.items() if k != "passage_id"} for h in hits] == (
                    healthy
                ), command
        else:
            assert answer.stderr.count("\n") == 1 and "Traceback" not in answer.stderr
            assert f"paraseek repair --index {index}" in answer.stderr, answer.stderr
    repaired = cli("repair", SAMPLE, "--index", index)
    assert repaired.returncode == 0, repaired.stderr
    assert "repaired: " in repaired.stderr, repaired.stderr
    after = cli("check", "--index", index)
    assert after.returncode == 0 and after.stdout.strip().endswith("healthy"), after.stdout
    assert _answers(index) == healthy_answers


@pytest.mark.slow
def test_index_verifies_what_it_loads_and_leaves_the_full_scan_to_repair(
    sample_index: Path, tmp_path: Path
) -> None:
    """`paraseek index` reads no cached vector of a document it does not touch (that scan is
    `check`'s and `repair`'s): a damaged one stays until `paraseek repair`, while a damaged
    vector file, which every writer loads and verifies, is rebuilt by `paraseek index` too."""
    index = copy_index(sample_index, tmp_path / "index")
    _flip_cached(index, 30)
    again = cli("index", SAMPLE, "--index", index)
    assert again.returncode == 0 and "repaired: " not in again.stderr, again.stderr
    assert cli("check", "--index", index).returncode == 1
    repaired = cli("repair", "--index", index)
    assert repaired.returncode == 0 and "(1 failed their checksum" in repaired.stderr
    assert cli("check", "--index", index).returncode == 0
    _flip_vectors(index)
    again = cli("index", SAMPLE, "--index", index)
    assert again.returncode == 0, again.stderr
    assert "repaired: the vector file was missing, damaged or behind" in again.stderr
    assert cli("check", "--index", index).returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("hub", ["off (HF_HUB_OFFLINE)", "unreachable"])
def test_an_unknown_model_in_the_manifest_fails_at_once_in_one_line(
    hub: str, sample_index: Path, tmp_path: Path
) -> None:
    """Not after the hub client's retries (about 80 s, a line each)."""
    from .conftest import free_port

    index = copy_index(sample_index, tmp_path / "index")
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["model"] = "nobody/no-such-model"
    (index / "manifest.json").write_text(json.dumps(manifest))
    _sql(index, "UPDATE meta SET value = 'nobody/no-such-model' WHERE key = 'model'")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    if hub.startswith("off"):
        env["HF_HUB_OFFLINE"] = "1"
    else:
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = subprocess.run(
        [str(SCRIPT), "search", "Russia", "--index", str(index)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith(
        "paraseek: error: Cannot load embedding model 'nobody/no-such-model': it is not a local "
        "folder and not in the Hugging Face cache, and "
    )
    assert ("HF_HUB_OFFLINE is set" if hub.startswith("off") else "cannot be reached") in lines[0]
