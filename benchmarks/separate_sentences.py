"""For comparison only: replace an index's sentence vectors with sentences embedded one by one.

Run: .venv/bin/python benchmarks/separate_sentences.py IDX
(on a copy: `cp -r IDX IDX-separate` while nothing has it open). The index keeps its passage
vectors; each stored sentence is embedded again on its own, without the passage around it, as
a separate forward pass would at index time. Then tune_sentences.py compares the two kinds.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paraseek.corpus import embedded_text
from paraseek.embedder import Embedder
from paraseek.index import sentence_vectors
from paraseek.index.database import DATABASE, connect, transaction
from paraseek.index.rows import index_key


def main() -> None:
    path = Path(sys.argv[1])
    embedder = Embedder()
    conn = connect(path / DATABASE)
    key = index_key(conn)
    rows = conn.execute(
        "SELECT s.text_hash, p.text, p.context FROM sentence_vectors s JOIN passages p "
        "ON p.text_hash = s.text_hash WHERE s.model = ? GROUP BY s.text_hash",
        (key,),
    ).fetchall()
    start = time.perf_counter()
    sentences = 0
    for begin in range(0, len(rows), 256):
        chunk = rows[begin : begin + 256]
        pieces = [
            [embedded_text(c, t)[a:b] for a, b in sentence_vectors.spans(c, t)] for _, t, c in chunk
        ]
        vectors = embedder.embed_documents([s for group in pieces for s in group])
        blobs, offset = {}, 0
        for (digest, _, _), group in zip(chunk, pieces, strict=True):
            blobs[digest] = sentence_vectors.encode(vectors[offset : offset + len(group)])
            offset += len(group)
        sentences += offset
        with transaction(conn):
            sentence_vectors.store(conn, key, blobs)
    print(f"{len(rows)} passages, {sentences} sentences embedded one by one in "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
