"""Silence: does the floor tell the documents that address a question from those that don't?

Run by hand (the floor is the same on any machine; nothing here is timed):

    .venv/bin/python benchmarks/silence.py --sample paraseek-index \
        [--scifact INDEX --beir ../shared/eval/scifact]

- Sample corpus: 40 questions x 5 documents labelled by hand (tests/silence_labels.json).
  For each floor: the share of "addresses" pairs called addressed (recall), the share of
  "silent" pairs called addressed (false), their accuracy, and where "mentions" pairs fall.
- SciFact (an index of ../shared/eval/scifact's corpus, e.g. `paraseek eval`'s): each claim
  put to every abstract. A judged abstract addresses its claim; the rest mostly do not, though
  some unjudged ones do, so "other abstracts called addressed" is an upper bound on the false
  share. Reports both splits: the floor's deviations were chosen on the sample and on train.

Each floor is a rule of `silence_floor`'s null scores (each document's best score for each of
NULL_QUESTIONS): their 95th percentile (the floor until 2026-11-23), or the median over
documents of each one's mean plus k standard deviations (calibration.Floor; k = 5.5).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEVIATIONS = (3.0, 4.0, 4.5, 5.0, 5.5, 6.0)


def floors(searcher) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Each rule's floor on this index, by name."""
    from paraseek.compare import FLOOR_DOCUMENTS, NULL_QUESTIONS, silence_floor

    documents = searcher.documents()
    step = max(1, -(-len(documents) // FLOOR_DOCUMENTS))
    vectors = searcher.embedder.embed_queries(list(NULL_QUESTIONS))
    found = searcher.index.best_per_document(vectors, 1, {d.id for d in documents[::step]})
    best = [scores[0] for per_query in found for _, _, scores in per_query]
    out = {"95th percentile (before)": float(np.percentile(best, 95))}
    for k in DEVIATIONS:
        out[f"median over documents of mean + {k:g} sd"] = silence_floor(
            searcher, deviations=k
        ).score
    return out


def sample(index: str) -> list[dict[str, object]]:
    """The hand-labelled sample questions, per floor."""
    from paraseek import Searcher

    searcher = Searcher.open(index)
    labelled = json.loads((ROOT / "tests" / "silence_labels.json").read_text())["questions"]
    pairs = []  # (label, best score)
    for row in labelled:
        best = {Path(h.source).name: h.cosine for h in searcher.compare(row["question"])}
        pairs += [(label, best[name]) for name, label in row["labels"].items()]
    rows = []
    for name, floor in floors(searcher).items():
        called = {
            label: [score >= floor for lab, score in pairs if lab == label]
            for label in ("addresses", "silent", "mentions")
        }
        right = sum(called["addresses"]) + len(called["silent"]) - sum(called["silent"])
        rows.append({
            "floor": name, "value": round(floor, 3),
            "recall": float(np.mean(called["addresses"])),
            "false": float(np.mean(called["silent"])),
            "accuracy": right / (len(called["addresses"]) + len(called["silent"])),
            "mentions": float(np.mean(called["mentions"])),
        })  # fmt: skip
    return rows


def scifact(index: str, beir: str) -> list[dict[str, object]]:
    """Every claim of both splits put to every abstract, per floor."""
    from paraseek import Searcher
    from paraseek.evaluate import load_beir

    searcher = Searcher.open(index)
    documents = searcher.documents()
    column = {d.id: j for j, d in enumerate(documents)}
    external = {d.path.rsplit(":", 1)[-1]: j for j, d in enumerate(documents)}
    rules = floors(searcher)
    rows = []
    for split in ("train", "test"):
        data = load_beir(beir, split)
        claims = list(data.queries)
        best = np.zeros((len(claims), len(documents)), np.float32)
        judged = np.zeros(best.shape, bool)
        for start in range(0, len(claims), 100):
            chunk = claims[start : start + 100]
            vectors = searcher.embedder.embed_queries([data.queries[c] for c in chunk])
            for i, per_claim in enumerate(searcher.index.best_per_document(vectors, 1)):
                for document, _, scores in per_claim:
                    best[start + i, column[document]] = scores[0]
        for i, claim in enumerate(claims):
            for abstract in data.qrels[claim]:
                judged[i, external[abstract]] = True
        for name, floor in rules.items():
            called = best >= floor
            rows.append({
                "split": f"{split} ({len(claims)} claims)", "floor": name, "value": round(floor, 3),
                "recall": float(called[judged].mean()), "false": float(called[~judged].mean()),
                "addressed": float(np.median(called.sum(axis=1))),
            })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", default=str(ROOT / "paraseek-index"), help="sample index")
    parser.add_argument("--scifact", help="an index of the SciFact corpus")
    parser.add_argument("--beir", default=str(ROOT.parent / "shared" / "eval" / "scifact"))
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    out: dict[str, object] = {"sample": sample(args.sample)}
    print("| floor | value | addresses called addressed | silent called addressed | accuracy "
          "| mentions called addressed |\n|---|---:|---:|---:|---:|---:|")  # fmt: skip
    for r in out["sample"]:  # type: ignore[attr-defined]
        print(f"| {r['floor']} | {r['value']:.3f} | {r['recall']:.2f} | {r['false']:.2f} "
              f"| {r['accuracy']:.3f} | {r['mentions']:.2f} |")  # fmt: skip
    if args.scifact:
        out["scifact"] = scifact(args.scifact, args.beir)
        print("\n| split | floor | value | judged abstracts called addressed "
              "| other abstracts called addressed | abstracts addressed per claim (median) |"
              "\n|---|---|---:|---:|---:|---:|")  # fmt: skip
        for r in out["scifact"]:  # type: ignore[attr-defined]
            print(f"| {r['split']} | {r['floor']} | {r['value']:.3f} | {r['recall']:.3f} "
                  f"| {r['false']:.3f} | {r['addressed']:.0f} |")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
