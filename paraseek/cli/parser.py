"""The command line's arguments: one subcommand per command, each naming its run_ function."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .. import __version__
from .commands import (
    run_align,
    run_api,
    run_check,
    run_compare,
    run_eval,
    run_index,
    run_info,
    run_points,
    run_remove,
    run_repair,
    run_search,
    run_serve,
    run_show,
    run_similar,
)

# Options that several commands share: flags and add_argument keywords, by name.
SHARED: dict[str, tuple[str, dict[str, Any]]] = {
    "doc": ("--doc", {
        "action": "append", "metavar": "DOC",
        "help": "only this document (id, path or file name); repeatable",
    }),
    "author": ("--author", {
        "metavar": "NAME",
        "help": "only documents by this author: a byline's name, or part of it (case and "
        "accents aside)",
    }),
    "similarity": ("--similarity", {
        "type": float, "metavar": "S",
        "help": "the score (0 to 1, as search scores: 0.5 is the silence floor) at which "
        "passages say the same thing (default 0.7); a point's passages must reach it on average",
    }),
    "explain": ("--explain", {
        "action": "store_true",
        "help": "mark each hit's sentence closest to the query (best_sentence in --json)",
    }),
    "comments": ("--comments", {
        "action": "store_true",
        "help": "let comments speak for their document too: passages under a line like "
        "'Anonymous said...', as in a blog's reader comments, and quotations after a line like "
        "'The minister said:' (left out by default, unless a document has nothing else)",
    }),
    "mode": ("--mode", {
        "choices": ["dense", "keyword", "hybrid"],
        "help": "dense (embeddings), keyword (BM25) or hybrid (both; the default, or $PARASEEK_MODE)",
    }),
    "model": ("--model", {
        "metavar": "M",
        "help": "sentence-transformers model name or folder (default: $PARASEEK_MODEL, else the "
        "index's model, else the bundled all-MiniLM-L6-v2)",
    }),
    "precision": ("--precision", {
        "choices": ["auto", "fp32"],
        "help": "auto: the fastest embedding path on this CPU that matches fp32 (int8 OpenVINO "
        "where it passes the check); fp32: plain PyTorch (default: $PARASEEK_PRECISION, else auto)",
    }),
    "device": ("--device", {
        "choices": ["auto", "cpu", "cuda"],
        "help": "where passages are embedded: auto (a CUDA GPU where torch sees one, in float16 "
        "if it matches fp32, else the CPU), cpu or cuda (default: $PARASEEK_DEVICE, else auto)",
    }),
    "ann": ("--ann", {
        "choices": ["auto", "flat", "hnsw", "ivf"],
        "help": "vector index: auto (exact while small, then approximate), flat (exact), hnsw or "
        "ivf (default: the index's setting, else auto)",
    }),
    "store": ("--store", {
        "choices": ["faiss", "milvus"],
        "help": "where the vectors live: faiss (files in the index folder) or milvus (default: "
        "$PARASEEK_STORE, else the index's store, else faiss); indexing into another store "
        "moves the vectors there from the embedding cache",
    }),
    "milvus-uri": ("--milvus-uri", {
        "metavar": "URI",
        "help": "Milvus server (http://host:19530) or Milvus Lite file (*.db) for --store milvus "
        "(default: $PARASEEK_MILVUS_URI, else the index's, else milvus.db in the index folder); "
        "credentials: $PARASEEK_MILVUS_TOKEN",
    }),
}  # fmt: skip


def _shared(sub: argparse.ArgumentParser, *names: str) -> None:
    """Add the SHARED options `names` to the command `sub`."""
    for name in names:
        flag, keywords = SHARED[name]
        sub.add_argument(flag, **keywords)


def build_parser() -> argparse.ArgumentParser:
    """The `paraseek` parser; each subcommand sets `run`, the function that carries it out."""
    parser = argparse.ArgumentParser(
        prog="paraseek", description="Semantic search over a collection of documents."
    )
    parser.add_argument("--version", action="version", version=f"paraseek {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, run: Callable[[argparse.Namespace], int | None], help: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        sub.add_argument(
            "--index", metavar="DIR",
            help="index folder (default: $PARASEEK_INDEX, else ./paraseek-index)",
        )  # fmt: skip
        return sub

    sub = command("index", run_index, "Index files and folders (again: only changes are embedded).")
    sub.add_argument(
        "paths", nargs="+", metavar="PATH", help=".txt .md .html .pdf .docx files or folders"
    )
    _shared(sub, "model", "precision", "device", "ann", "store", "milvus-uri")
    sub.add_argument(
        "--executor", choices=["local", "ray"],
        help="where passages are read, split and embedded: local (this process) or ray (a Ray "
        "Data actor pool, here or on a cluster; needs paraseek[scale]) (default: "
        "$PARASEEK_EXECUTOR, else local)",
    )  # fmt: skip
    sub.add_argument(
        "--ray-address", metavar="ADDR",
        help="Ray cluster to join with --executor ray: host:6379 or ray://host:10001 (default: "
        "$PARASEEK_RAY_ADDRESS, else $RAY_ADDRESS, else a local Ray started for this run)",
    )  # fmt: skip
    sub.add_argument(
        "--ray-workers", type=int, metavar="N",
        help="embedding actors with --executor ray, 1 CPU and one model each (default: "
        "$PARASEEK_RAY_WORKERS, else one per CPU of the cluster)",
    )  # fmt: skip

    sub = command("search", run_search, "Search for the passages closest to a query.")
    sub.add_argument(
        "query", metavar="QUERY", help="the query, or - to read one query per line from stdin"
    )
    sub.add_argument("-k", type=int, default=10, metavar="N", help="number of hits (default 10)")
    sub.add_argument("--json", action="store_true", help="one JSON object per hit and line")
    _shared(sub, "explain")
    sub.add_argument(
        "--reranker", metavar="MODEL",
        help="re-score the top 30 hits with this CrossEncoder (name or folder; default "
        "$PARASEEK_RERANKER, else none)",
    )  # fmt: skip
    _shared(sub, "doc", "author", "mode", "model", "precision", "store", "milvus-uri")

    sub = command("similar", run_similar, "Passages most like a given passage (more like this).")
    sub.add_argument(
        "passage_id", type=int, metavar="PASSAGE_ID", help="a passage_id from search results"
    )
    sub.add_argument("-k", type=int, default=10, metavar="N", help="number of hits (default 10)")
    sub.add_argument(
        "--other-documents", action="store_true", help="only passages of other documents"
    )
    sub.add_argument("--json", action="store_true", help="one JSON object per hit and line")
    _shared(sub, "model", "precision", "store", "milvus-uri")

    sub = command(
        "show", run_show,
        "Read a document: its title, author, date and source, then its passages, numbered.",
    )  # fmt: skip
    sub.add_argument(
        "document", metavar="DOC", nargs="?",
        help="the document (id, path or file name); may be left out with --hit",
    )  # fmt: skip
    sub.add_argument(
        "--hit", type=int, metavar="PASSAGE_ID",
        help="the passage a search printed as '(passage PASSAGE_ID)': opens its document there",
    )  # fmt: skip
    sub.add_argument(
        "--passage", type=int, metavar="N",
        help="show passage N (1 for the first; a hit's `ordinal` + 1) marked, with --around "
        "passages either side; without it, the whole document",
    )  # fmt: skip
    sub.add_argument(
        "--around", type=int, default=2, metavar="A",
        help="passages shown either side of --passage (default 2)",
    )  # fmt: skip
    sub.add_argument(
        "--json", action="store_true",
        help="one JSON object: the document's fields and its passages as `items`",
    )  # fmt: skip
    _shared(sub, "store", "milvus-uri")

    sub = command(
        "compare", run_compare, "How each document answers one question: its best passage(s)."
    )
    sub.add_argument(
        "query", metavar="QUERY", help="the question, or - to read one per line from stdin"
    )
    sub.add_argument(
        "--per-document", type=int, default=1, metavar="N", help="passages per document (default 1)"
    )
    sub.add_argument(
        "--floor", type=float, metavar="SCORE",
        help="a score from 0 to 1 (as search scores): a document whose best passage scores "
        "under it doesn't address the question (default 0.5, the index's silence floor: the "
        "median over documents of the mean plus 5.5 standard deviations of the best cosines "
        "each gives to 40 questions on unrelated subjects)",
    )  # fmt: skip
    sub.add_argument(
        "--limit", type=int, default=0, metavar="N",
        help="only the N documents that answer best (default 0: every document)",
    )  # fmt: skip
    sub.add_argument(
        "--grid", action="store_true",
        help="a table of each document's best score for each question, silences in brackets "
        "(many questions: QUERY -)",
    )  # fmt: skip
    sub.add_argument(
        "--json", action="store_true",
        help='one JSON object per passage and line, with "silent" and "floor"; with --grid, '
        "one per question",
    )  # fmt: skip
    _shared(
        sub, "doc", "author", "comments", "explain", "model", "precision", "store", "milvus-uri"
    )

    sub = command(
        "points", run_points,
        "Shared talking points: groups of passages of several documents that say nearly the "
        "same thing, each named by the words that set it apart.",
    )  # fmt: skip
    sub.add_argument(
        "--limit", type=int, default=20, metavar="N",
        help="the N points most shared (default 20; 0 for all)",
    )  # fmt: skip
    sub.add_argument("--json", action="store_true", help="one JSON object per point and line")
    _shared(sub, "similarity", "doc", "comments", "model", "precision", "store", "milvus-uri")

    sub = command(
        "align", run_align,
        "Two documents side by side: each passage of one with its closest passage of the "
        "other, shared or unique.",
    )  # fmt: skip
    sub.add_argument("document", metavar="DOC", help="the document (id, path or file name)")
    sub.add_argument("against", metavar="AGAINST", help="the document to compare it with")
    sub.add_argument("--json", action="store_true", help="one JSON object per passage and line")
    _shared(sub, "similarity", "comments", "model", "precision", "store", "milvus-uri")

    sub = command("eval", run_eval, "Measure retrieval quality on a BEIR-format dataset.")
    for (
        action
    ) in sub._actions:  # never $PARASEEK_INDEX: an evaluation must not fill the user's index
        if action.dest == "index":
            action.help = "index folder to build and reuse (default: a temporary folder)"
    sub.add_argument(
        "dataset", metavar="DATASET_DIR", help="folder with corpus.jsonl, queries.jsonl, qrels/"
    )
    sub.add_argument("--split", default="test", help="qrels split to score (default test)")
    sub.add_argument("--json", action="store_true", help="one JSON object with the figures")
    sub.add_argument(
        "--first-passage", action="store_true",
        help="score each document by its first passage only (= truncation, as MTEB reports)",
    )  # fmt: skip
    _shared(sub, "mode", "model", "precision", "device", "ann", "store", "milvus-uri")

    sub = command("info", run_info, "Show the index: model, counts, documents.")
    sub.add_argument("--json", action="store_true", help="one JSON object")
    _shared(sub, "store", "milvus-uri")

    sub = command(
        "check", run_check,
        "Verify that the index's manifest, database, keyword index and vectors agree; exit 1 "
        "if not.",
    )  # fmt: skip
    sub.add_argument("--json", action="store_true", help="one JSON object with every finding")

    sub = command(
        "repair", run_repair,
        "Mend the damage `paraseek check` finds: re-embed vectors, split documents again from "
        "their files, rebuild the vector file.",
    )  # fmt: skip
    sub.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="the files and folders you index: indexed again after the repair, which adds back "
        "documents whose row was lost from the database",
    )  # fmt: skip
    _shared(sub, "precision", "device")

    sub = command("remove", run_remove, "Remove documents from the index.")
    sub.add_argument("documents", nargs="+", metavar="DOC", help="document id, path or file name")
    _shared(sub, "precision", "store", "milvus-uri")

    sub = command("serve", run_serve, "Start the Streamlit app on this index.")
    sub.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    _shared(sub, "model", "precision", "store", "milvus-uri")

    sub = command("api", run_api, "Serve a JSON API on this index (FastAPI; spec at /docs).")
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sub.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sub.add_argument(
        "--cors-origin", action="append", dest="cors_origins", metavar="ORIGIN",
        help="let pages from this origin call the API; repeatable (default: "
        "$PARASEEK_CORS_ORIGINS, comma-separated, else none)",
    )  # fmt: skip
    _shared(sub, "model", "precision", "store", "milvus-uri")
    return parser
