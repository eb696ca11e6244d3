"""What the `paraseek` command prints: hits as text or JSON lines, and the indexing progress bar."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Any, Self, TextIO

if TYPE_CHECKING:
    from ..search import Hit


def read_queries(query: str) -> list[str]:
    """`query` itself, or for "-" one query per line of stdin (blank lines skipped)."""
    from ..errors import EmptyQueryError

    if query != "-":
        return [query]
    queries = [line.strip() for line in sys.stdin if line.strip()]
    if not queries:
        raise EmptyQueryError("No queries on standard input; give one query per line.")
    return queries


def print_hits(
    query: str | None, hits: list[Hit], args: argparse.Namespace, many: bool, compare: bool = False,
    out: TextIO = sys.stdout,
) -> None:  # fmt: skip
    """Print `hits` as text (wrapped to the terminal) or, with --json, one JSON object per line."""
    if args.json:
        for hit in hits:
            row = hit.to_dict()
            if many and query is not None:
                row = {"query": query, **row}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    if many and query is not None:
        out.write(f"== {query}\n\n")
    if not hits:
        out.write("No passages found.\n\n")
    width = min(shutil.get_terminal_size((100, 20)).columns, 100)
    for hit in hits:
        date = f", {hit.date}" if hit.date else ""
        label = f"[{hit.rank}]" if compare else f"{hit.rank}."
        out.write(f"{label} {hit.title}{date}  score {hit.score:.3f}  (passage {hit.passage_id})\n")
        out.writelines(
            textwrap.fill(line, width, initial_indent="   > ", subsequent_indent="     ") + "\n"
            for line in hit.context.split("\n")[1:]
        )
        out.write(
            textwrap.fill(
                " ".join(hit.text.split()), width, initial_indent="   ", subsequent_indent="   "
            )
            + "\n"
        )
        if hit.best_sentence:
            best = " ".join(hit.text[slice(*hit.best_sentence)].split())
            out.write(
                textwrap.fill(best, width, initial_indent="   * ", subsequent_indent="     ") + "\n"
            )
        out.write(f"   {hit.source}\n\n")


def stderr(message: str) -> None:
    """Print a line for people on stderr, keeping stdout for results."""
    print(message, file=sys.stderr)


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
