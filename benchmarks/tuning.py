"""What the tuning scripts (tune_*.py) share: their common arguments, the golden questions and
the older golden count."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paraseek.evaluate import load_golden
from paraseek.search import Searcher

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = load_golden(ROOT / "tests" / "golden.json")  # the questions of tests/test_golden.py


def arguments(description: str | None = None) -> argparse.ArgumentParser:
    """A parser with the arguments every tuning script takes: the BEIR dataset folder, its
    index, the split to tune on and an index of data/corpus for the golden questions."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("dataset")
    parser.add_argument("--index", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--sample-index", help="an index of data/corpus, for the golden questions")
    return parser


def older_golden(searcher: Searcher) -> int:
    """How many of the 15 questions of tests/test_search.py have an answer in the top 3."""
    from tests.test_search import GOLDEN as OLDER

    results = searcher.search_many([q for q, _ in OLDER], k=3, mode="hybrid")
    return sum(
        any(a in h.text for h in hits for a in answers)
        for (_, answers), hits in zip(OLDER, results, strict=True)
    )
