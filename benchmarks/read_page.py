"""The Read page on a document of 50,000 passages: how long the page takes to draw.

Run: .venv/bin/python benchmarks/read_page.py [--passages 50000] [--keep DIR]

Builds an index holding one generated document of N one-paragraph passages (a 300-page PDF has
a few thousand; N = 50,000 is far past that). Embedding 50,000 passages would take minutes on a
CPU, so their vectors are put in the embedding cache first (random unit vectors: the page never
looks at them) and `Writer.update` indexes the document without embedding, as
benchmarks/search_latency.py does. Then the Read page (ui/read.py, through app.py) runs in
Streamlit's AppTest:

- first open: `?doc=ID&p=25000`, in a fresh session whose caches are empty (the document's
  passages and text are read from SQLite once per index version);
- again: the same URL in a new session of the same process (what every later visitor, and
  every rerun of the page, pays);
- with a query: `&q=...`, which also searches the document for the passages to mark.

Each figure is the median of 5 runs (AppTest.run wall time, so it includes Streamlit's own
script run but not a browser's drawing); the page draws WINDOW passages whatever N is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(folder: Path, passages: int) -> Path:
    """An index of one document of `passages` passages, with pre-cached vectors."""
    import numpy as np

    from paraseek.corpus import read_document, split_document
    from paraseek.embedder import Embedder
    from paraseek.index import Writer
    from paraseek.index.database import connect, transaction
    from paraseek.index.rows import model_key, store, text_hash

    embedder = Embedder()
    source = folder / "corpus" / "long-record.txt"
    source.parent.mkdir(parents=True)
    lines = (
        f"Item {i}: the assembly discussed part {i} of the plan and voted on it."
        for i in range(passages)
    )
    source.write_text("A Very Long Record\n\n" + "\n\n".join(lines) + "\n", encoding="utf-8")
    split = split_document(read_document(source), embedder.token_spans, embedder.max_tokens)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(split), embedder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = folder / "index"
    with Writer(index, embedder):
        pass  # creates the schema
    conn = connect(index / "paraseek.db")
    with transaction(conn):
        store(conn, model_key(embedder), [text_hash(p.embedded_text) for p in split], vectors)
    conn.close()
    with Writer(index, embedder) as writer:
        report = writer.update([source.parent])
    assert report.embedded == 0, report  # every vector came from the cache
    return index


def timed(index: Path, params: dict[str, str], runs: int = 5) -> list[float]:
    """Wall seconds of AppTest runs of the Read page with `params`, each a new session."""
    from streamlit.testing.v1 import AppTest

    os.environ["PARASEEK_INDEX"] = str(index)
    seconds = []
    for _ in range(runs):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        for name, value in params.items():
            at.query_params[name] = value
        at.switch_page("ui/read.py")
        started = time.perf_counter()
        at.run()
        seconds.append(time.perf_counter() - started)
        assert not at.exception and not at.error, (at.exception, at.error)
        assert len(at.get("html")) == 1
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=50_000)
    parser.add_argument("--keep", type=Path, help="build the index here and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="paraseek-read-"))
    started = time.perf_counter()
    index = build(folder, args.passages) if not (folder / "index").exists() else folder / "index"
    print(f"index of 1 document, {args.passages:,} passages: {time.perf_counter() - started:.0f} s")
    middle = str(args.passages // 2)
    first = timed(index, {"doc": "long-record", "p": middle}, runs=1)[0]
    again = timed(index, {"doc": "long-record", "p": middle})
    query = timed(index, {"doc": "long-record", "p": middle, "q": "the vote on part 25000"})
    print(f"first open (empty caches): {first:.2f} s")
    print(f"again (new session):       {statistics.median(again):.2f} s (median of 5)")
    print(f"with a query to mark:      {statistics.median(query):.2f} s (median of 5)")


if __name__ == "__main__":
    main()
