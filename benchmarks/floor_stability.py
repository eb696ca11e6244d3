"""How far adding an unrelated document moves the silence floor: the sample corpus, then the
sample corpus and a three-paragraph note about bees (tests/test_compare.py's BEES).

Run: .venv/bin/python benchmarks/floor_stability.py   (a minute; nothing here is timed)

Prints, for each rule, the floor without and with the note: the pooled rule (the mean plus 5
standard deviations of every document's best scores for the null questions, the floor until
2026-12-04) and the rule in use (calibration.Floor: the median over documents of each one's
mean plus FLOOR_DEVIATIONS standard deviations).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paraseek.calibration import FLOOR_DEVIATIONS, NULL_QUESTIONS, calibrate  # noqa: E402
from paraseek.embedder import Embedder  # noqa: E402
from paraseek.index import Index, Writer  # noqa: E402
from tests.test_compare import BEES  # noqa: E402


def pooled(embedder: Embedder, index: Index) -> float:
    """The mean plus 5 standard deviations of every document's best null-question cosine."""
    vectors = embedder.embed_queries(list(NULL_QUESTIONS))
    found = index.best_per_document(vectors, 1, {d.id for d in index.documents()})
    best = np.array([scores[0] for per_query in found for _, _, scores in per_query])
    return float(best.mean() + 5 * best.std())


def main() -> None:
    embedder = Embedder()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, bees in (("sample corpus", False), ("sample corpus + bees note", True)):
            folder = Path(tmp) / name / "corpus"
            shutil.copytree(ROOT / "data" / "corpus", folder)
            if bees:
                (folder / "bees.txt").write_text(BEES, encoding="utf-8")
            with Writer(folder.parent / "index", embedder) as writer:
                writer.update([folder])
            index = Index(folder.parent / "index")
            rows.append((name, pooled(embedder, index), calibrate(embedder, index).score))
    print(
        f"| collection | pooled mean + 5 sd | median of per-document mean + {FLOOR_DEVIATIONS:g} sd (now) |"
    )
    print("|---|---:|---:|")
    for name, old, new in rows:
        print(f"| {name} | {old:.3f} | {new:.3f} |")
    print(f"| moved by | {rows[1][1] - rows[0][1]:+.3f} | {rows[1][2] - rows[0][2]:+.3f} |")


if __name__ == "__main__":
    main()
