"""What the `paraseek` command prints: hits as text or JSON lines, and the indexing progress bar."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Any, Self, TextIO, cast

if TYPE_CHECKING:
    from ..compare import Alignment, Point
    from ..corpus import Passage
    from ..search import Hit, Reading

SILENT_LINES = 10  # silent documents listed by name in text; --json lists every one


def read_queries(query: str) -> list[str]:
    """`query` itself, or for "-" one query per line of stdin (blank lines skipped)."""
    from ..errors import EmptyQueryError, InvalidTextError

    if query != "-":
        return [query]
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidTextError(
            f"Standard input is not valid UTF-8 text: line {line} holds byte "
            f"0x{data[exc.start]:02x}; give the queries in UTF-8."
        ) from exc
    queries = [line.strip() for line in text.splitlines() if line.strip()]
    if not queries:
        raise EmptyQueryError("No queries on standard input; give one query per line.")
    return queries


def print_hits(
    query: str | None, hits: list[Hit], args: argparse.Namespace, many: bool,
    out: TextIO | None = None, note: str | None = None,
) -> None:  # fmt: skip
    """Print `hits` as text (wrapped to the terminal) or, with --json, one JSON object per line.

    Args:
        note: a line for people before the hits (compare.far_note); not part of --json.
    """
    out = out or sys.stdout  # the stream of now, not of import time
    if args.json:
        _write_json(out, query if many else None, hits, {})
        return
    if many and query is not None:
        out.write(f"== {query}\n\n")
    if not hits:
        out.write("No passages found.\n\n")
    elif note:
        width = min(shutil.get_terminal_size((100, 20)).columns, 100)
        out.write(textwrap.fill(note, width) + "\n\n")
    for hit in hits:
        _write_hit(out, hit, f"{hit.rank}.")


def print_positions(
    query: str, hits: list[Hit], floor: float, args: argparse.Namespace, many: bool,
    out: TextIO | None = None, more: tuple[int, int] = (0, 0),
) -> None:  # fmt: skip
    """Print compare's hits: the documents that address the question, then those that do not.

    A document "doesn't address" the question when its best passage scores under `floor`; with
    --json every hit is printed with "silent" (its document's verdict) and "floor".

    Args:
        more: documents left out by --limit, and how many of them address the question.
    """
    out = out or sys.stdout  # the stream of now, not of import time
    from ..compare import silent_documents

    silent = silent_documents(hits, floor)
    if args.json:
        rows = {h.passage_id: {"silent": h.document_id in silent, "floor": floor} for h in hits}
        _write_json(out, query if many else None, hits, rows)
        return
    if many:
        out.write(f"== {query}\n\n")
    for hit in hits:
        if hit.document_id not in silent:
            _write_hit(out, hit, f"[{hit.rank}]")
    if silent:
        documents = {h.document_id for h in hits}
        lead = "No document addresses this" if silent == documents else "Doesn't address this"
        out.write(f"{lead} (best passage scores under {_floor(floor)}):\n")
        quiet = [h for h in hits if h.document_id in silent and h.rank == 1]
        for hit in quiet[:SILENT_LINES]:
            date = f", {hit.date}" if hit.date else ""
            out.write(
                f"   {hit.title}{date}  best score {hit.score:.3f}  (passage {hit.passage_id})\n"
            )
        if len(quiet) > SILENT_LINES:
            out.write(f"   ... and {len(quiet) - SILENT_LINES:,} more (--json lists every one)\n")
        out.write("\n")
    if more[0]:
        out.write(
            f"... and {more[0]:,} more documents, {more[1]:,} of which address it "
            "(--limit 0 shows every document).\n\n"
        )


def print_grid(
    rows: list[dict[str, Any]], floor: float, args: argparse.Namespace, out: TextIO | None = None
) -> None:
    """Print compare.grid's rows: a row per document, a column per question.

    A score under `floor` (the document doesn't address the question) is in brackets; with
    --json, one row per line.
    """
    out = out or sys.stdout  # the stream of now, not of import time
    if args.json:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        return
    for n, row in enumerate(rows, 1):
        out.write(f"Q{n}  {row['query']}\n")
    documents = rows[0]["documents"] if rows else []
    width = min(max([len(d["title"]) for d in documents] + [12]), 40)
    out.write(
        f"\n{'document':<{width}}" + "".join(f"{f'Q{n}':>9}" for n in range(1, len(rows) + 1))
    )
    out.write("\n")
    for i, d in enumerate(documents):
        title = d["title"] if len(d["title"]) <= width else d["title"][: width - 1] + "…"
        cells = []
        for row in rows:
            cell = row["documents"][i]
            score = cell["score"]
            text = "-" if score is None else f"({score:.3f})" if cell["silent"] else f"{score:.3f}"
            cells.append(f"{text:>9}")
        out.write(f"{title:<{width}}" + "".join(cells) + "\n")
    tally = "".join(f"{str(row['addressed']) + ' of ' + str(len(documents)):>9}" for row in rows)
    out.write(f"{'addressed by':<{width}}{tally}")
    out.write(f"\n\n(score): under {_floor(floor)}, the document doesn't address the question.\n")


def _floor(floor: float) -> str:
    """ "the silence floor 0.500", or "the floor 0.600" for another (--floor)."""
    from ..compare import SILENCE

    return f"the silence floor {floor:.3f}" if floor == SILENCE else f"the floor {floor:.3f}"


def print_points(
    points: list[Point], titles: dict[str, str], similarity: float, args: argparse.Namespace,
    more: int = 0, out: TextIO | None = None,
) -> None:  # fmt: skip
    """Print talking points, each with its words and passages; with --json, one per line.

    Args:
        more: how many points were left out (--limit); said after the text.
    """
    out = out or sys.stdout  # the stream of now, not of import time
    if args.json:
        out.writelines(json.dumps(p.to_dict(titles), ensure_ascii=False) + "\n" for p in points)
        return
    if not points:
        out.write(
            f"No passages of different documents are that similar (mean score >= "
            f"{similarity:.2f}); lower --similarity.\n"
        )
        return
    for n, point in enumerate(points, 1):
        out.write(
            f"Point {n} · {', '.join(point.words)} · {len(point.passages)} passages in "
            f"{point.documents} documents\n"
        )
        for passage, score in point.passages:
            title = titles.get(passage.document_id, passage.document_id)
            out.write(f"   {title}  score {score:.3f}  (passage {passage.id}{_said(passage)})\n")
            out.write(_wrapped(passage.text, "     ") + "\n")
        out.write("\n")
    if more:
        out.write(f"{more} more points, less shared; --limit 0 shows them all.\n")


def print_alignment(
    rows: list[Alignment], title: str, against: str, similarity: float,
    args: argparse.Namespace, out: TextIO | None = None,
) -> None:  # fmt: skip
    """Print each passage of a document, shared or unique, with its closest counterpart in
    another; with --json, one passage per line."""
    out = out or sys.stdout  # the stream of now, not of import time
    if args.json:
        out.writelines(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in rows)
        return
    shared = sum(r.shared for r in rows)
    out.write(
        f"{shared} of {len(rows)} passages of {title} have a counterpart in {against} (score "
        f">= {similarity:.2f}); the rest are unique to it.\n\n"
    )
    for row in rows:
        verdict = "shared" if row.shared else "unique"
        out.write(f"[{verdict} {row.score:.3f}] (passage {row.passage.id}{_said(row.passage)})\n")
        out.write(_wrapped(row.passage.text, "   ") + "\n")
        if row.match is not None:
            said = _said(row.match)
            out.write(_wrapped(f"(passage {row.match.id}{said}) {row.match.text}", "   ~ ") + "\n")
        out.write("\n")


def _said(passage: Passage) -> str:
    """ ", comment by NAME" (or ", quoting NAME") for a passage someone other than the author
    says (corpus.voice)."""
    from ..corpus import voice

    said = voice(passage.context, passage.text)
    return f", {said}" if said else ""


def _wrapped(text: str, indent: str) -> str:
    """`text` on lines as wide as the terminal (at most 100), each after `indent`."""
    width = min(shutil.get_terminal_size((100, 20)).columns, 100)
    flat = " ".join(text.split())
    return textwrap.fill(flat, width, initial_indent=indent, subsequent_indent=" " * len(indent))


def _write_json(
    out: TextIO, query: str | None, hits: list[Hit], extra: dict[int, dict[str, Any]]
) -> None:
    for hit in hits:
        row = {**hit.to_dict(), **extra.get(hit.passage_id, {})}
        out.write(json.dumps(row if query is None else {"query": query, **row}, ensure_ascii=False))
        out.write("\n")


def _write_hit(out: TextIO, hit: Hit, label: str) -> None:
    width = min(shutil.get_terminal_size((100, 20)).columns, 100)
    date = f", {hit.date}" if hit.date else ""
    author = f", by {hit.author}" if hit.author else ""
    notes = "".join(f", {note}" for note in hit.notes())
    out.write(
        f"{label} {hit.title}{author}{date}  score {hit.score:.3f}  "
        f"(passage {hit.passage_id}{notes})\n"
    )
    lines = hit.context.split("\n") if hit.context else []
    out.writelines(
        textwrap.fill(line, width, initial_indent="   > ", subsequent_indent="     ") + "\n"
        for line in (lines[1:] if lines and lines[0] == hit.title else lines)
    )
    text = " ".join(hit.text.split())
    out.write(textwrap.fill(text, width, initial_indent="   ", subsequent_indent="   ") + "\n")
    if hit.best_sentence:
        best = " ".join(hit.text[slice(*hit.best_sentence)].split())
        out.write(textwrap.fill(best, width, initial_indent="   * ", subsequent_indent="     "))
        out.write("\n")
    out.write(f"   {hit.source}\n\n")


def print_reading(
    readings: list[Reading], marked: int | None, args: argparse.Namespace,
    out: TextIO | None = None,
) -> None:  # fmt: skip
    """Print a document's pages (Searcher.read): a header of its facts, then each passage with
    its number; passage `marked` starts with ">". With --json, one object: the document's
    fields and every passage printed as `items`."""
    from ..corpus import voice

    out = out or sys.stdout  # looked up now: a caller (a test) may have replaced it
    document = readings[0].document
    if args.json:
        data = readings[0].to_dict()
        items: list[object] = []
        for reading in readings:
            items.extend(cast("list[object]", reading.to_dict()["items"]))
        data["items"] = items
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    width = min(shutil.get_terminal_size((100, 20)).columns, 100)
    author = getattr(document, "author", None)
    facts = [f"by {author}" if author else "", document.date or "",
             f"{document.passages} passages", document.path]  # fmt: skip
    out.write(f"{document.title}\n{'  '.join(f for f in facts if f)}\n\n")
    for reading in readings:
        for n, passage in enumerate(reading.passages, reading.first):
            said = voice(passage.context, passage.text)
            lead = "question" if passage.id in reading.leads else ""
            notes = ", ".join(x for x in (said, lead) if x)
            mark = ">" if n == marked else " "
            out.write(f"{mark}{n:>5}  (passage {passage.id}{', ' + notes if notes else ''})\n")
            for line in passage.text.splitlines() or [""]:
                out.write(
                    textwrap.fill(line, width, initial_indent="       ",
                                  subsequent_indent="       ") + "\n"
                )  # fmt: skip
            out.write("\n")


def stderr(message: str) -> None:
    """Print a line for people on stderr, keeping stdout for results.

    A message is one line whatever it quotes: a newline or other control character in a file
    name is shown escaped (\\n), and so is a byte that is not UTF-8 (\\xff).
    """
    from ..corpus.read import shown

    print(shown(message), file=sys.stderr)


class ProgressBar:
    """A tqdm bar on stderr: passages per second and time left, shown once there is work.

    The total is an estimate (passages so far scaled by the share of input read) until the
    last update, so the time left firms up as indexing goes.
    """

    def __init__(self) -> None:
        self._bar: Any = None
        self._started: float | None = None

    def update(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self._started is None:
            self._started = time.time()  # the first call comes before the first batch
        if total == 0:
            return
        if self._bar is None:
            self._bar = tqdm(
                total=total, unit="passage", desc="indexing", file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1,
            )  # fmt: skip
            # count the first batch's time in the rate, not just the batches after it
            self._bar.start_t = self._bar.last_print_t = self._started
        if total != self._bar.total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
