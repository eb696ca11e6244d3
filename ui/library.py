"""The library page: the indexed documents, uploading new files into the index, removing documents."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from paraseek import settings
from paraseek.corpus import SUFFIXES, Document, UnreadableFile, read_document
from paraseek.errors import ParaseekError
from paraseek.search import DocumentInfo, Searcher, UpdateReport, index_path
from ui.common import literal, plural, read_url, searcher_or_stop

MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_STEM_CHARS = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MESSAGES = "library_messages"  # session-state key: (kind, markdown) shown after the rerun


@dataclass(frozen=True)
class Rejected:
    """An uploaded file that was not indexed: its name as uploaded and a one-line reason."""

    name: str
    reason: str


@dataclass
class Upload:
    """What one batch of uploads did.

    Attributes:
        stored: the files now in the library folder that were given to the index.
        rejected: the uploads that were not indexed; none of them left a file behind.
        report: what the index writer did; None when no upload was good (nothing was written).
    """

    stored: list[Path] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    report: UpdateReport | None = None


def library_folder() -> Path:
    """Where uploads are stored: `$PARASEEK_LIBRARY`, else `library/` inside the index folder."""
    return Path(settings.current().library or index_path() / "library")


def safe_name(name: str) -> str:
    """A file name that is safe to create in one folder, made from an uploaded `name`.

    Directories are dropped (both / and \\), every run of characters outside [A-Za-z0-9._-]
    becomes one "_", and leading dots and dashes go, so the result is never hidden, never
    "..", never an option; "upload" stands in for a stem that is left empty.
    """
    base = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".-")
    path = Path(base)
    stem = (path.stem if base else "")[:MAX_STEM_CHARS] or "upload"
    return stem + path.suffix.lower()


def _free_path(library: Path, name: str, data: bytes) -> tuple[Path, bool]:
    """(where to store `data` as `name`, whether that file already holds exactly `data`).

    A different file of the same name is never overwritten: "notes-1.txt", "notes-2.txt"… follow.
    """
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = library / name, 0
    while candidate.exists() or candidate.is_symlink():
        if not candidate.is_symlink() and candidate.is_file() and candidate.read_bytes() == data:
            return candidate, True
        number += 1
        candidate = library / f"{stem}-{number}{suffix}"
    return candidate, False


def store_and_index(
    files: Sequence[tuple[str, bytes]], searcher: Searcher, library: Path,
    progress: Callable[[int, int], None] | None = None, max_bytes: int = MAX_UPLOAD_BYTES,
) -> Upload:  # fmt: skip
    """Store uploaded files in `library` under safe names and add the readable ones to the
    searcher's index.

    Each file is checked with `read_document` where it is stored; one that is too large,
    empty, binary or malformed is rejected and its stored copy deleted. Only when at least one
    file is good is the index opened for writing; only those files are added, and no other
    document is touched.

    Args:
        files: (name as uploaded, content) pairs.
        searcher: the index's searcher; it embeds with the model the index was built with.
        library: the folder uploads are stored in (created if needed).
        progress: called as (passages done, passages expected: an estimate until the end).
        max_bytes: the largest file accepted.

    Raises:
        ParaseekError: the index could not be written (IndexLockedError when another process
            writes it); the files this call stored are deleted again.
    """
    result = Upload()
    documents: dict[Path, Document] = {}
    created: list[Path] = []
    for name, data in files:
        if len(data) > max_bytes:
            size = len(data) / 2**20
            result.rejected.append(
                Rejected(name, f"{size:.1f} MB is over the {max_bytes / 2**20:g} MB upload limit")
            )
            continue
        library.mkdir(parents=True, exist_ok=True)
        path, existed = _free_path(library, safe_name(name), data)
        if not existed:
            with open(path, "xb") as f:  # "x": never through a file or link that appeared since
                f.write(data)
        try:
            document = read_document(path)
        except UnreadableFile as exc:
            if not existed:
                path.unlink()
            result.rejected.append(Rejected(name, str(exc)))
            continue
        if not existed:
            created.append(path)
        if path not in documents:
            documents[path] = document
            result.stored.append(path)
    if not documents:
        return result
    try:
        # add, not a folder update: that would also drop every indexed document whose file
        # has gone from disk, and an upload must not remove anything.
        result.report = searcher.add(documents.values(), progress=progress)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return result


def remove_document(document: DocumentInfo, searcher: Searcher, library: Path) -> bool:
    """Remove `document` from the searcher's index, and its file too if that lies inside
    `library`.

    Returns:
        True when a file was deleted; a file outside the library is the user's and stays.
    """
    searcher.remove([document.id])
    file = Path(document.path)
    if file.is_file() and file.resolve().is_relative_to(library.resolve()):
        file.unlink()
        return True
    return False


# --- the page ------------------------------------------------------------------------------


def _tell(kind: str, markdown: str) -> None:
    """Keep a message for the next run (the actions below end with st.rerun())."""
    st.session_state.setdefault(_MESSAGES, []).append((kind, markdown))


def show_messages() -> None:
    for kind, markdown in st.session_state.pop(_MESSAGES, []):
        {"success": st.success, "error": st.error, "warning": st.warning}[kind](markdown)


def show_overview(searcher: Searcher, library: Path) -> list[DocumentInfo]:
    """The corpus statistics and the table of documents; returns the documents."""
    stats = searcher.info()
    documents = searcher.documents()
    left, middle, right = st.columns(3)
    left.metric("Documents", str(stats["documents"]))
    middle.metric("Passages", str(stats["passages"]))
    right.metric("Dimension", str(stats["dimension"]))
    st.caption(
        f"Model {literal(str(stats['model']))} · index {literal(str(stats['path']))} · "
        f"uploads stored in {literal(str(library))}"
    )
    if not documents:
        st.info("The index holds no documents yet; upload some below.")
        return documents
    st.dataframe(
        [
            {
                "Title": d.title, "Read": read_url(d.id), "Date": d.date or "",
                "Passages": d.passages, "File": Path(d.path).name,
                "Indexed (UTC)": d.indexed_at.replace("T", " ")[:16],
            }
            for d in documents
        ],
        hide_index=True,
        column_config={
            "Read": st.column_config.LinkColumn("Read", display_text="Open", width="small",
                                                help="Read the document"),
            # Wide enough for a whole date (YYYY-MM-DD) and time.
            "Date": st.column_config.TextColumn("Date", width=110),
            "Indexed (UTC)": st.column_config.TextColumn("Indexed (UTC)", width=150),
        },
    )  # fmt: skip
    return documents


def upload_section(searcher: Searcher, library: Path) -> None:
    """A form to upload files; a submission is stored, checked and indexed once."""
    st.subheader("Add documents")
    with st.form("upload", clear_on_submit=True):
        uploads = st.file_uploader(
            f"Files ({', '.join(SUFFIXES)}; at most {MAX_UPLOAD_MB} MB each)",
            type=[s.lstrip(".") for s in SUFFIXES], accept_multiple_files=True,
            max_upload_size=MAX_UPLOAD_MB,
        )  # fmt: skip
        submitted = st.form_submit_button("Add to the index")
    if not submitted:
        return
    if not uploads:
        st.warning("Choose one or more files first.")
        return
    bar = st.progress(0.0, text="Reading the files…")

    def progress(done: int, total: int) -> None:
        if total:  # an estimate until the last call
            bar.progress(done / total, text=f"Indexing passages: {done} of about {total}")

    files = [(u.name, u.getvalue()) for u in uploads]
    try:
        result = store_and_index(files, searcher, library, progress)
    except ParaseekError as exc:
        _tell("error", literal(str(exc)))
        st.rerun()
    for rejected in result.rejected:
        _tell("error", literal(f"'{rejected.name}' was not added: {rejected.reason}."))
    if result.report is not None:
        _tell("success", literal(summary(result.report)))
    st.rerun()


def summary(report: UpdateReport) -> str:
    """One line on what an upload did to the index."""
    parts = []
    if report.added:
        parts.append(f"added {plural(len(report.added), 'document')}")
    if report.changed:
        parts.append(f"updated {plural(len(report.changed), 'document')}")
    if report.unchanged:
        parts.append(f"{plural(len(report.unchanged), 'document')} already indexed")
    return (
        f"{'; '.join(parts).capitalize()} ({plural(report.embedded, 'passage')} embedded, "
        f"{report.reused} from the cache); the index now holds "
        f"{plural(report.documents, 'document')} and {plural(report.passages, 'passage')}."
    )


def _label(document: DocumentInfo) -> str:
    """How a document is named in the selectbox (plain text): titles repeat, file names less."""
    return f"{document.title} ({Path(document.path).name})"


def remove_section(searcher: Searcher, library: Path, documents: list[DocumentInfo]) -> None:
    """A form to remove one document from the index (and its file, if it is an upload)."""
    if not documents:
        return
    st.subheader("Remove a document")
    by_id = {d.id: d for d in documents}
    with st.form("remove", clear_on_submit=True):
        chosen = st.selectbox("Document", list(by_id), format_func=lambda i: _label(by_id[i]))
        confirmed = st.checkbox("Yes, remove this document from the index")
        submitted = st.form_submit_button("Remove")
    if not submitted or chosen is None:
        return
    if not confirmed:
        st.warning("Tick the box to confirm the removal.")
        return
    document = by_id[chosen]
    try:
        deleted = remove_document(document, searcher, library)
    except ParaseekError as exc:
        _tell("error", literal(str(exc)))
        st.rerun()
    also = f" and deleted {Path(document.path).name} from the library" if deleted else ""
    _tell("success", literal(f"Removed '{document.title}' from the index{also}."))
    st.rerun()


def main() -> None:
    searcher = searcher_or_stop()
    library = library_folder()
    show_messages()
    documents = show_overview(searcher, library)
    upload_section(searcher, library)
    remove_section(searcher, library, documents)


if __name__ == "__main__":  # the app runs this page as __main__; tests import its functions
    main()
