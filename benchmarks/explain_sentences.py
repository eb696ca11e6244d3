"""explain's best sentence from the stored in-context sentence vectors against each sentence
embedded on its own: how often they pick the same sentence, and what each costs.

Run: .venv/bin/python benchmarks/explain_sentences.py [--index DIR] [--k 10] [--rounds 3]
The index is built from data/corpus into DIR if DIR does not hold it yet (as golden.py does).
For every golden question (tests/golden.json), its top k hybrid hits:
- the share of hits of two sentences or more whose best sentence is the same both ways;
- where the hit that answers it (golden.json's accepted text) has several sentences, whether
  each way's best sentence overlaps that text;
- the warm latency of finding the best sentences of the k hits both ways (median and p95 per
  query, `--rounds` times over the golden questions), and of 100 hits of one question (the
  API's cap on explain). The query is embedded beforehand, as `search(..., explain=True)` has.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paraseek.corpus import sentence_spans  # noqa: E402
from paraseek.embedder import Embedder  # noqa: E402
from paraseek.evaluate import answer_rank, load_golden  # noqa: E402
from paraseek.explain import best_sentences, embedded_best_sentences  # noqa: E402
from paraseek.index import Index, Writer  # noqa: E402
from paraseek.search import Searcher  # noqa: E402


def _ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {1000 * statistics.median(ordered):.1f} ms, p95 {1000 * p95:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="/tmp/paraseek-golden-index")
    parser.add_argument("--golden", default=str(ROOT / "tests" / "golden.json"))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    embedder = Embedder()
    with Writer(args.index, embedder) as writer:
        writer.update([ROOT / "data" / "corpus"])
    index = Index(args.index)
    searcher = Searcher(index, embedder)
    questions = [g.question for g in load_golden(args.golden)]
    found = {q: searcher.search(q, args.k) for q in questions}
    vectors = {q: searcher.embed([q])[0] for q in questions}

    same = several = top_same = top_several = 0
    for q, hits in found.items():
        stored = best_sentences(index, embedder, vectors[q], [(h.passage_id, h.text) for h in hits])
        embedded = embedded_best_sentences(embedder, vectors[q], [h.text for h in hits])
        for rank, (hit, a, b) in enumerate(zip(hits, stored, embedded, strict=True), 1):
            if len(sentence_spans(hit.text)) < 2:
                continue
            several += 1
            same += a == b
            if rank == 1:
                top_several += 1
                top_same += a == b
    # Where the golden answer's hit has several sentences: does the best sentence overlap the
    # accepted answer text (the substring golden.json names)?
    overlap = {"stored": 0, "embedded": 0}
    answered = 0
    for golden in load_golden(args.golden):
        hits = found[golden.question]
        rank = answer_rank(golden, hits)
        if rank is None or len(sentence_spans(hits[rank - 1].text)) < 2:
            continue
        hit = hits[rank - 1]
        answer = next(a for a in golden.answers if a in hit.text)
        start = hit.text.index(answer)
        end = start + len(answer)
        answered += 1
        vector = vectors[golden.question]
        for name, (span,) in (
            ("stored", best_sentences(index, embedder, vector, [(hit.passage_id, hit.text)])),
            ("embedded", embedded_best_sentences(embedder, vector, [hit.text])),
        ):
            overlap[name] += span is not None and span[0] < end and span[1] > start
    hits_total = sum(len(h) for h in found.values())
    print(f"{len(questions)} golden questions, top {args.k} hybrid hits, {embedder.runtime}")
    print(f"hits: {hits_total}, of two sentences or more: {several}")
    print(f"same best sentence: {same}/{several} ({same / several:.1%}); first hits: "
          f"{top_same}/{top_several} ({top_same / max(top_several, 1):.1%})")  # fmt: skip
    print(f"answer hits of two sentences or more: {answered}; best sentence overlaps the "
          f"accepted answer: stored {overlap['stored']}, embedded {overlap['embedded']}")  # fmt: skip

    timings: dict[str, list[float]] = {"stored": [], "embedded": []}
    for _ in range(args.rounds):
        for q, hits in found.items():
            started = time.perf_counter()
            best_sentences(index, embedder, vectors[q], [(h.passage_id, h.text) for h in hits])
            timings["stored"].append(time.perf_counter() - started)
            started = time.perf_counter()
            embedded_best_sentences(embedder, vectors[q], [h.text for h in hits])
            timings["embedded"].append(time.perf_counter() - started)
    for name, seconds in timings.items():
        print(f"explain of {args.k} hits, {name}: {_ms(seconds)}")

    question = "Did Russia interfere in the election?"
    hits = searcher.search(question, 100)
    vector = vectors.get(question, searcher.embed([question])[0])
    timings = {"stored": [], "embedded": []}
    for _ in range(args.rounds):
        started = time.perf_counter()
        best_sentences(index, embedder, vector, [(h.passage_id, h.text) for h in hits])
        timings["stored"].append(time.perf_counter() - started)
        started = time.perf_counter()
        embedded_best_sentences(embedder, vector, [h.text for h in hits])
        timings["embedded"].append(time.perf_counter() - started)
    for name, seconds in timings.items():
        print(f"explain of 100 hits ({question!r}), {name}: {_ms(seconds)}")


if __name__ == "__main__":
    main()
