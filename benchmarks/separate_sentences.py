"""For comparison only: replace an index's sentence vectors with sentences embedded one by one.

Run: .venv/bin/python benchmarks/separate_sentences.py IDX
(on a copy: `cp -r IDX IDX-separate` while nothing has it open). The index keeps its passage
vectors; each stored sentence is embedded again on its own, without the passage around it, as
a separate forward pass would at index time. Then tune_sentences.py compares the two kinds.

Cost only: .venv/bin/python benchmarks/separate_sentences.py IDX --cost 400 reads 400 passages
of IDX (nothing is written) and times, alternating over 3 rounds, the embedding of the passages
against that of their sentences, each one by one (length-sorted batches, as indexing does),
and of the sentences of passages over 128 tokens only; medians and the embedding-only speed
ratio that indexing the sentences too would give (passages / (passages + sentences)).
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


def cost(path: Path, count: int) -> None:
    """Time passages against their sentences embedded one by one (see the module docstring)."""
    import statistics

    embedder = Embedder()
    conn = connect(path / DATABASE)
    rows = conn.execute(
        "SELECT text, context FROM passages ORDER BY id LIMIT ? OFFSET 3000", (count,)
    ).fetchall()
    passages = [embedded_text(c, t) for t, c in rows]
    spans = [sentence_vectors.spans(c, t) for t, c in rows]
    sentences = [p[a:b] for p, found in zip(passages, spans, strict=True) for a, b in found]
    long = [
        p[a:b]
        for p, found in zip(passages, spans, strict=True)
        if len(embedder.token_spans(p)) > 128
        for a, b in found
    ]
    print(f"{len(passages)} passages, {len(sentences)} sentences, {len(long)} of longer passages")
    embedder.embed_documents(passages[:20])  # warm up
    times: dict[str, list[float]] = {"passages": [], "sentences": [], "long": []}
    for _ in range(3):
        for name, texts in (("passages", passages), ("sentences", sentences), ("long", long)):
            start = time.perf_counter()
            embedder.embed_documents(texts)
            times[name].append(time.perf_counter() - start)
    p, s, lo = (statistics.median(times[n]) for n in ("passages", "sentences", "long"))
    print(f"passages {p:.1f} s, sentences {s:.1f} s ({s / p:.2f}x), sentences of passages over "
          f"128 tokens {lo:.1f} s ({lo / p:.2f}x); embedding speed with every sentence "
          f"{p / (p + s):.2f}x, with those of long passages {p / (p + lo):.2f}x")  # fmt: skip


def main() -> None:
    path = Path(sys.argv[1])
    if len(sys.argv) > 3 and sys.argv[2] == "--cost":
        cost(path, int(sys.argv[3]))
        return
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
