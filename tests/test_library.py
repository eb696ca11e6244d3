"""The library page: its table and statistics, uploads (stored safely, checked, indexed), removal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from paraseek.embedder import Embedder
from paraseek.errors import IndexLockedError
from paraseek.index import DocumentInfo, Index, Writer, read_manifest
from paraseek.search import Searcher
from ui.library import MAX_UPLOAD_BYTES, safe_name, store_and_index

from .conftest import ROOT, SAMPLE, copy_index

APP = str(ROOT / "app.py")
PAGE = "ui/library.py"
NOTES = (
    b"Lighthouse keeping on Skellig Rock\n\n"
    b"The keeper of the Skellig Rock lighthouse writes every passing ship into a leather-bound "
    b"ledger: its name, its flag and the hour it rounded the headland. In winter storms the "
    b"lamp is trimmed every four hours and the fog horn sounds twice a minute.\n"
)
BINARY = bytes(range(256)) * 8  # NUL bytes and control characters: not text


@pytest.fixture
def index(tmp_path: Path, sample_index: Path) -> Path:
    """A private copy of the sample index that a test may change."""
    path = tmp_path / "index"
    return copy_index(sample_index, path)


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "library"
    monkeypatch.setenv("PARASEEK_LIBRARY", str(folder))
    return folder


def page(index: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app, switched to the library page and run."""
    monkeypatch.setenv("PARASEEK_INDEX", str(index))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def state(index: Path) -> tuple[list[DocumentInfo], int]:
    """Everything an upload could change: the documents and the committed generation."""
    view = Index(index)
    try:
        return view.documents(), int(read_manifest(index)["generation"])  # type: ignore[call-overload]
    finally:
        view.close()


def shown(markdown: str) -> str:
    """What an escaped Markdown string displays as."""
    return re.sub(r"\\(.)", r"\1", markdown)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    for name, data in files:
        at.file_uploader[0].upload(name, data, "text/plain")
    at.button(key="FormSubmitter:upload-Add to the index").click()
    return at.run()


@pytest.mark.slow
def test_the_table_lists_the_sample_documents_with_their_passage_counts(
    index: Path, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(index, monkeypatch)
    expected, _ = state(index)
    table = at.dataframe[0].value
    assert len(table) == 5
    assert list(table["Title"]) == [d.title for d in expected]
    assert list(table["Passages"]) == [d.passages for d in expected]
    assert all(n > 0 for n in table["Passages"])
    assert sorted(table["File"]) == sorted(p.name for p in SAMPLE.iterdir())
    # An undated document shows an empty cell, not "None"; times read as UTC, to the minute.
    assert list(table["Date"]) == [d.date or "" for d in expected] and "" in list(table["Date"])
    assert list(table["Indexed (UTC)"]) == [
        d.indexed_at.replace("T", " ")[:16] for d in expected
    ]  # fmt: skip
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", t) for t in table["Indexed (UTC)"])
    assert [m.label for m in at.metric] == ["Documents", "Passages", "Dimension"]
    assert [m.value for m in at.metric] == ["5", str(sum(d.passages for d in expected)), "384"]
    caption = shown(at.caption[0].value)
    assert "Model sentence-transformers/all-MiniLM-L6-v2" in caption
    assert f"index {index.resolve()}" in caption
    assert f"uploads stored in {library}" in caption


@pytest.mark.slow
def test_an_uploaded_text_file_is_indexed_and_then_found(
    index: Path, library: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = upload(page(index, monkeypatch), ("notes.txt", NOTES))
    assert not at.exception and not at.error
    assert [shown(s.value) for s in at.success] == [
        "Added 1 document (1 passage embedded, 0 from the cache); the index now holds "
        "6 documents and " + str(sum(d.passages for d in state(index)[0])) + " passages."
    ]
    assert files_in(library) == ["notes.txt"]
    assert at.metric[0].value == "6"
    assert "notes.txt" in list(at.dataframe[0].value["File"])
    hits = Searcher(Index(index), embedder).search(
        "Who records the ships that pass the lighthouse?", k=3, mode="dense"
    )
    assert hits[0].source == str((library / "notes.txt").resolve())
    assert hits[0].title == "Lighthouse keeping on Skellig Rock"


@pytest.mark.slow
def test_an_upload_is_processed_once_not_on_every_rerun(
    index: Path, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = upload(page(index, monkeypatch), ("notes.txt", NOTES))
    after = state(index)
    at.run()
    at.checkbox[0].check().run()  # any other interaction
    assert state(index) == after
    assert files_in(library) == ["notes.txt"]
    assert not at.success  # the message was shown once


def test_store_and_index_reports_progress_and_adds_only_the_upload(
    index: Path, library: Path, embedder: Embedder
) -> None:
    before, generation = state(index)
    calls: list[tuple[int, int]] = []
    result = store_and_index(
        [("notes.txt", NOTES)],
        Searcher(Index(index), embedder),
        library,
        lambda d, t: calls.append((d, t)),
    )
    assert result.rejected == []
    assert result.stored == [library / "notes.txt"]
    assert result.report is not None
    assert result.report.added == [str((library / "notes.txt").resolve())]
    assert calls[0] == (0, 0) and calls[-1] == (1, 1)
    after, new_generation = state(index)
    assert new_generation == generation + 1
    assert [d for d in after if d.path.startswith(str(SAMPLE))] == before


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("binary.txt", BINARY, "binary data, not text"),
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\t\n", "empty file"),
        ("broken.pdf", b"%PDF-1.4\nthis is not a pdf\n", "malformed PDF (PdfStreamError)"),
        ("huge.txt", b"a" * (MAX_UPLOAD_BYTES + 1), "20.0 MB is over the 20 MB upload limit"),
        (
            "notes.exe",
            NOTES,
            "unsupported file type '.exe' (supported: .txt, .md, .markdown, .html, .htm, "
            ".pdf, .docx)",
        ),
    ],
)
def test_a_bad_upload_is_rejected_and_changes_nothing(
    index: Path, library: Path, embedder: Embedder, name: str, data: bytes, reason: str
) -> None:
    before = state(index)
    result = store_and_index([(name, data)], Searcher(Index(index), embedder), library)
    assert [(r.name, r.reason) for r in result.rejected] == [(name, reason)]
    assert result.stored == [] and result.report is None
    assert state(index) == before
    assert files_in(library) == []


@pytest.mark.slow
def test_the_page_names_a_bad_upload_and_leaves_the_index_alone(
    index: Path, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state(index)
    at = upload(page(index, monkeypatch), ("photo_as.txt", BINARY), ("empty.txt", b""))
    assert not at.exception and not at.success
    assert [shown(e.value) for e in at.error] == [
        "'photo_as.txt' was not added: binary data, not text.",
        "'empty.txt' was not added: empty file.",
    ]
    assert state(index) == before
    assert files_in(library) == []
    assert len(at.dataframe[0].value) == 5


def test_good_uploads_are_indexed_beside_a_bad_one(
    index: Path, library: Path, embedder: Embedder
) -> None:
    result = store_and_index(
        [("bad.txt", BINARY), ("notes.md", NOTES)], Searcher(Index(index), embedder), library
    )
    assert [r.name for r in result.rejected] == ["bad.txt"]
    assert files_in(library) == ["notes.md"]
    assert len(state(index)[0]) == 6


@pytest.mark.slow
def test_a_hostile_name_is_stored_inside_the_library_with_a_safe_name(
    tmp_path: Path, index: Path, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = upload(page(index, monkeypatch), ("../../evil name.txt", NOTES))
    assert not at.exception and not at.error
    assert files_in(library) == ["evil_name.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "library"]
    paths = [d.path for d in state(index)[0]]
    assert str((library / "evil_name.txt").resolve()) in paths


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\notes.md", "notes.md"),
        (".hidden.txt", "hidden.txt"),
        ("-rf.txt", "rf.txt"),
        ("a report (final) é.PDF", "a_report_final_.pdf"),
        ("..", "upload"),
        ("", "upload"),
        ("x" * 300 + ".txt", "x" * 100 + ".txt"),
    ],
)
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_a_traversal_name_or_a_planted_link_cannot_write_outside_the_library(
    tmp_path: Path, index: Path, library: Path, embedder: Embedder
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_bytes(b"precious")
    library.mkdir()
    (library / "notes.txt").symlink_to(outside / "notes.txt")
    uploads = [("../../etc/passwd", NOTES), ("../outside/notes.txt", NOTES)]
    result = store_and_index(uploads, Searcher(Index(index), embedder), library)
    assert [(r.name, r.reason) for r in result.rejected] == [
        ("../../etc/passwd", "unsupported file type '' (supported: .txt, .md, .markdown, .html, "
         ".htm, .pdf, .docx)")
    ]  # fmt: skip
    assert result.stored == [library / "notes-1.txt"]  # beside the link, never through it
    assert (outside / "notes.txt").read_bytes() == b"precious"
    assert (library / "notes.txt").is_symlink()
    assert files_in(library) == ["notes-1.txt", "notes.txt"]
    assert files_in(outside) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "library", "outside"]


def test_an_upload_never_overwrites_a_different_file(
    index: Path, library: Path, embedder: Embedder
) -> None:
    first = store_and_index([("notes.txt", NOTES)], Searcher(Index(index), embedder), library)
    other = NOTES.replace(b"Skellig Rock", b"Fastnet Rock")
    second = store_and_index([("notes.txt", other)], Searcher(Index(index), embedder), library)
    assert second.stored == [library / "notes-1.txt"]
    assert (library / "notes.txt").read_bytes() == NOTES
    assert (library / "notes-1.txt").read_bytes() == other
    again = store_and_index([("notes.txt", NOTES)], Searcher(Index(index), embedder), library)
    assert again.stored == first.stored
    assert again.report is not None and again.report.unchanged == [str(first.stored[0])]
    assert files_in(library) == ["notes-1.txt", "notes.txt"]
    assert len(state(index)[0]) == 7


@pytest.mark.slow
def test_a_locked_index_is_an_error_and_keeps_no_file(
    index: Path, library: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(index, monkeypatch)
    before = state(index)
    with Writer(index, embedder):
        with pytest.raises(IndexLockedError):
            store_and_index([("notes.txt", NOTES)], Searcher(Index(index), embedder), library)
        assert files_in(library) == []
        upload(at, ("notes.txt", NOTES))
    assert not at.exception and not at.success
    assert [shown(e.value) for e in at.error] == [
        f"Index '{index}' is being written by another paraseek process; wait for it to "
        "finish, then try again."
    ]
    assert files_in(library) == []
    assert state(index) == before


def remove(at: AppTest, document: DocumentInfo, confirm: bool = True) -> AppTest:
    at.selectbox[0].select(document.id)
    if confirm:
        at.checkbox[0].check()
    at.button(key="FormSubmitter:remove-Remove").click()
    return at.run()


@pytest.mark.slow
def test_removing_an_upload_removes_it_from_the_index_and_the_library(
    index: Path, library: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_and_index([("notes.txt", NOTES)], Searcher(Index(index), embedder), library)
    before, _ = state(index)
    notes = next(d for d in before if d.title == "Lighthouse keeping on Skellig Rock")
    at = remove(page(index, monkeypatch), notes)
    assert not at.exception and not at.error
    assert [shown(s.value) for s in at.success] == [
        "Removed 'Lighthouse keeping on Skellig Rock' from the index and deleted notes.txt "
        "from the library."
    ]
    assert state(index)[0] == [d for d in before if d.id != notes.id]
    assert files_in(library) == []
    assert len(at.dataframe[0].value) == 5
    assert notes.id not in at.selectbox[0].options


@pytest.mark.slow
def test_removing_a_document_outside_the_library_keeps_its_file(
    tmp_path: Path, index: Path, library: Path, embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "own.txt").write_bytes(NOTES)
    with Writer(index, embedder) as writer:
        writer.update([mine])
    before, _ = state(index)
    own = next(d for d in before if d.path == str((mine / "own.txt").resolve()))
    at = remove(page(index, monkeypatch), own)
    assert [shown(s.value) for s in at.success] == [
        "Removed 'Lighthouse keeping on Skellig Rock' from the index."
    ]
    assert state(index)[0] == [d for d in before if d.id != own.id]
    assert (mine / "own.txt").read_bytes() == NOTES


@pytest.mark.slow
def test_removal_needs_the_confirmation(
    index: Path, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = state(index)
    at = remove(page(index, monkeypatch), before[0][0], confirm=False)
    assert [w.value for w in at.warning] == ["Tick the box to confirm the removal."]
    assert not at.success
    assert state(index) == before


def test_an_upload_leaves_other_documents_alone_even_when_their_file_is_gone(
    tmp_path: Path, index: Path, library: Path, embedder: Embedder
) -> None:
    """Writer.update() would drop a document whose file has gone; an upload removes nothing."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "own.txt").write_bytes(NOTES)
    with Writer(index, embedder) as writer:
        writer.update([mine])
    (mine / "own.txt").unlink()
    before, _ = state(index)
    store_and_index(
        [("other.txt", NOTES.replace(b"Skellig", b"Fastnet"))],
        Searcher(Index(index), embedder),
        library,
    )
    after, _ = state(index)
    assert {d.id for d in after} == {d.id for d in before} | {
        next(d.id for d in after if d.path == str((library / "other.txt").resolve()))
    }
    assert len(after) == len(before) + 1 == 7


@pytest.mark.slow
def test_every_document_opens_on_the_read_page_and_its_date_is_not_cut(
    index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = page(index, monkeypatch)
    table = at.dataframe[0]
    documents = state(index)[0]
    assert list(table.value["Read"]) == [f"read?doc={d.id}" for d in documents]
    columns = json.loads(table.proto.columns)
    assert columns["Read"]["type_config"] == {"type": "link", "display_text": "Open"}
    # A date (YYYY-MM-DD) needs about 85 px at the grid's font; the default cut it to "2024-03-".
    assert columns["Date"]["width"] >= 100
    assert "2024-03-03" in list(table.value["Date"])
