"""The `paraseek` command: argument parsing and printing only."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TextIO

from . import __version__
from .errors import ParaseekError, SourceNotFoundError

if TYPE_CHECKING:
    from .search import Hit, Searcher

APP = Path(__file__).resolve().parent.parent / "app.py"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage, 130 interrupted)."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ParaseekError as exc:
        print(f"paraseek: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("paraseek: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _parser() -> argparse.ArgumentParser:
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

    def mode_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--mode", choices=["dense", "keyword", "hybrid"],
            help="dense (embeddings), keyword (BM25) or hybrid (both; the default, or $PARASEEK_MODE)",
        )  # fmt: skip

    def model_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--model", metavar="M",
            help="sentence-transformers model name or folder (default: $PARASEEK_MODEL, else "
            "the index's model, else the bundled all-MiniLM-L6-v2)",
        )  # fmt: skip

    def precision_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--precision", choices=["auto", "fp32"],
            help="auto: the fastest embedding path on this CPU that matches fp32 (int8 "
            "OpenVINO where it passes the check); fp32: plain PyTorch (default: "
            "$PARASEEK_PRECISION, else auto)",
        )  # fmt: skip

    def ann_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--ann", choices=["auto", "flat", "hnsw", "ivf"],
            help="vector index: auto (exact while small, then approximate), flat (exact), "
            "hnsw or ivf (default: the index's setting, else auto)",
        )  # fmt: skip

    def store_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--store", choices=["faiss", "milvus"],
            help="where the vectors live: faiss (files in the index folder) or milvus (default: "
            "$PARASEEK_STORE, else the index's store, else faiss); indexing into another store "
            "moves the vectors there from the embedding cache",
        )  # fmt: skip
        sub.add_argument(
            "--milvus-uri", metavar="URI",
            help="Milvus server (http://host:19530) or Milvus Lite file (*.db) for --store "
            "milvus (default: $PARASEEK_MILVUS_URI, else the index's, else milvus.db in the "
            "index folder); credentials: $PARASEEK_MILVUS_TOKEN",
        )  # fmt: skip

    sub = command("index", _index, "Index files and folders (again: only changes are embedded).")
    sub.add_argument(
        "paths", nargs="+", metavar="PATH", help=".txt .md .html .pdf .docx files or folders"
    )
    model_option(sub)
    precision_option(sub)
    ann_option(sub)
    store_options(sub)
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

    sub = command("search", _search, "Search for the passages closest to a query.")
    sub.add_argument(
        "query", metavar="QUERY", help="the query, or - to read one query per line from stdin"
    )
    sub.add_argument("-k", type=int, default=10, metavar="N", help="number of hits (default 10)")
    sub.add_argument(
        "--doc",
        action="append",
        metavar="DOC",
        help="only this document (id, path or file name); repeatable",
    )
    sub.add_argument("--json", action="store_true", help="one JSON object per hit and line")
    sub.add_argument(
        "--explain", action="store_true",
        help="mark each hit's sentence closest to the query (best_sentence in --json)",
    )  # fmt: skip
    sub.add_argument(
        "--reranker", metavar="MODEL",
        help="re-score the top 30 hits with this CrossEncoder (name or folder; default "
        "$PARASEEK_RERANKER, else none)",
    )  # fmt: skip
    mode_option(sub)
    model_option(sub)
    precision_option(sub)
    store_options(sub)

    sub = command("similar", _similar, "Passages most like a given passage (more like this).")
    sub.add_argument(
        "passage_id", type=int, metavar="PASSAGE_ID", help="a passage_id from search results"
    )
    sub.add_argument("-k", type=int, default=10, metavar="N", help="number of hits (default 10)")
    sub.add_argument(
        "--other-documents", action="store_true", help="only passages of other documents"
    )
    sub.add_argument("--json", action="store_true", help="one JSON object per hit and line")
    model_option(sub)
    precision_option(sub)
    store_options(sub)

    sub = command(
        "compare", _compare, "How each document answers one question: its best passage(s)."
    )
    sub.add_argument(
        "query", metavar="QUERY", help="the question, or - to read one per line from stdin"
    )
    sub.add_argument(
        "--per-document", type=int, default=1, metavar="N", help="passages per document (default 1)"
    )
    sub.add_argument("--json", action="store_true", help="one JSON object per passage and line")
    model_option(sub)
    precision_option(sub)
    store_options(sub)

    sub = command("eval", _eval, "Measure retrieval quality on a BEIR-format dataset.")
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
    mode_option(sub)
    model_option(sub)
    precision_option(sub)
    ann_option(sub)
    store_options(sub)

    sub = command("info", _info, "Show the index: model, counts, documents.")
    sub.add_argument("--json", action="store_true", help="one JSON object")
    store_options(sub)

    sub = command(
        "check", _check,
        "Verify that the index's manifest, database, keyword index and vectors agree; exit 1 "
        "if not.",
    )  # fmt: skip
    sub.add_argument("--json", action="store_true", help="one JSON object with every finding")

    sub = command("remove", _remove, "Remove documents from the index.")
    sub.add_argument("documents", nargs="+", metavar="DOC", help="document id, path or file name")
    precision_option(sub)
    store_options(sub)

    sub = command("serve", _serve, "Start the Streamlit app on this index.")
    sub.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    model_option(sub)
    precision_option(sub)
    store_options(sub)

    sub = command("api", _api, "Serve a JSON API on this index (FastAPI; spec at /docs).")
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sub.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sub.add_argument(
        "--cors-origin", action="append", dest="cors_origins", metavar="ORIGIN",
        help="let pages from this origin call the API; repeatable (default: "
        "$PARASEEK_CORS_ORIGINS, comma-separated, else none)",
    )  # fmt: skip
    model_option(sub)
    precision_option(sub)
    store_options(sub)
    return parser


# --- commands ------------------------------------------------------------------------------


def _index(args: argparse.Namespace) -> int:
    from .embedder import Embedder
    from .index import Writer, read_manifest
    from .index.executors import executor_for
    from .search import index_path

    folder = index_path(args.index)
    for path in args.paths:  # before the model loads: a typo fails in a second
        if not os.path.exists(path):
            raise SourceNotFoundError(
                f"Path '{path}' does not exist; give files or folders to index."
            )
    executor = executor_for(args.executor, args.ray_address, args.ray_workers)
    model = args.model or os.environ.get("PARASEEK_MODEL")
    if model is None and (folder / "manifest.json").exists():
        model = str(read_manifest(folder)["model"])
    embedder = Embedder(model, precision=args.precision)
    with (
        Writer(folder, embedder, ann=args.ann, store=args.store, milvus_uri=args.milvus_uri) as writer,
        _ProgressBar() as bar,
    ):  # fmt: skip
        report = writer.update(args.paths, log=_stderr, progress=bar.update, executor=executor)
    if report.moved:
        _stderr(f"moved the vectors here from {report.moved} (from the embedding cache)")
    print(
        f"{folder}: {report.documents} documents, {report.passages} passages "
        f"({len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, "
        f"{len(report.skipped)} skipped; {report.embedded} passages embedded with "
        f"{embedder.runtime}, {report.reused} from cache; vectors: {report.ann})"
    )
    return 0


def _search(args: argparse.Namespace) -> int:
    from .index import check_k
    from .search import check_query

    queries = [check_query(q) for q in _queries(args.query)]  # before the model loads
    check_k(args.k)
    searcher = _searcher(args)
    results = searcher.search_many(queries, args.k, args.doc, mode=args.mode, explain=args.explain)
    for query, hits in zip(queries, results, strict=True):
        _print_hits(query, hits, args, many=len(queries) > 1 or args.query == "-")
    return 0


def _similar(args: argparse.Namespace) -> int:
    from .index import check_k

    check_k(args.k)
    searcher = _searcher(args)
    hits = searcher.similar(args.passage_id, args.k, other_documents_only=args.other_documents)
    _print_hits(None, hits, args, many=False)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .search import check_query

    queries = [check_query(q) for q in _queries(args.query)]
    searcher = _searcher(args)
    for query in queries:
        hits = searcher.compare(query, args.per_document)
        _print_hits(query, hits, args, many=args.query == "-", compare=True)
    return 0


def _eval(args: argparse.Namespace) -> int:
    import tempfile

    from .evaluate import evaluate, load_beir

    dataset = load_beir(args.dataset, args.split)
    with tempfile.TemporaryDirectory(prefix="paraseek-eval-") as scratch:
        folder = args.index or os.path.join(scratch, "index")
        with _ProgressBar() as bar:
            scores = evaluate(
                dataset, folder, args.mode, progress=bar.update, model=args.model,
                first_passage=args.first_passage, precision=args.precision, ann=args.ann,
                store=args.store, milvus_uri=args.milvus_uri,
            )  # fmt: skip
    if args.json:
        print(json.dumps(scores.to_dict()))
        return 0
    print(
        f"{scores.dataset} ({scores.split}), mode {scores.mode}: {scores.queries} queries, {scores.passages} passages"
    )
    print(f"  nDCG@10     {scores.ndcg_at_10:.4f}")
    print(f"  Recall@100  {scores.recall_at_100:.4f}")
    print(f"  MRR@10      {scores.mrr_at_10:.4f}")
    print(
        f"  time        {scores.index_seconds:.1f} s indexing, {scores.search_seconds:.1f} s searching"
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    from .index import Index
    from .search import index_path

    index = Index(index_path(args.index), store=args.store, milvus_uri=args.milvus_uri)
    stats = index.stats()
    documents = index.documents()
    if args.json:
        stats["document_list"] = [
            {"id": d.id, "title": d.title, "date": d.date, "source": d.path, "passages": d.passages}
            for d in documents
        ]
        print(json.dumps(stats, ensure_ascii=False))
        return 0
    embedding: Any = stats.get("embedding") or {}
    ann: Any = stats.get("ann") or {}
    stats["embedding_runtime"] = (
        f"{embedding.get('runtime')} (precision {embedding.get('precision')})"
        + (f"; note: {embedding['note']}" if embedding.get("note") else "")
    )
    store: Any = stats.get("store") or {}
    stats["vector_index"] = f"{store.get('description')} (--ann {ann.get('setting', 'auto')})"
    stats["vector_store"] = store.get("kind")
    for key in ("path", "model", "dimension", "embedding_runtime", "documents", "passages",
                "cached_embeddings", "vector_store", "vector_index", "keyword", "hybrid",
                "format_version",
                "paraseek_version", "created", "updated"):  # fmt: skip
        print(f"{key + ':':<19}{stats.get(key)}")
    print()
    for d in documents:
        print(f"{d.id}  {d.date or '          '}  {d.passages:>5} passages  {d.title[:60]}")
        print(f"{'':14}{d.path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from .index.check import check
    from .search import index_path

    folder = index_path(args.index)
    findings = check(folder)
    healthy = not any(f.level == "error" for f in findings)
    if args.json:
        print(json.dumps({"index": str(folder), "healthy": healthy,
                          "findings": [vars(f) for f in findings]}))  # fmt: skip
    else:
        for f in findings:
            print(f"{f.level:<8}{f.part:<10}{f.message}")
        print(f"{folder}: {'healthy' if healthy else 'DAMAGED'}")
    return 0 if healthy else 1


def _remove(args: argparse.Namespace) -> int:
    from .embedder import Embedder
    from .index import Index, Writer
    from .search import index_path

    folder = index_path(args.index)
    index = Index(folder, store=args.store, milvus_uri=args.milvus_uri)
    ids = index.resolve_documents(args.documents)
    embedder = Embedder(index.model, precision=args.precision)
    with Writer(folder, embedder, milvus_uri=args.milvus_uri) as writer:
        removed = writer.remove(ids)
    print(f"{folder}: removed {removed} document(s)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .index import read_manifest
    from .search import index_path

    folder = index_path(args.index)
    read_manifest(folder)
    if not APP.exists():
        raise SourceNotFoundError(
            f"The app '{APP}' is missing; run paraseek serve from a checkout."
        )
    env = dict(os.environ, PARASEEK_INDEX=str(folder.resolve()))
    if args.model:
        env["PARASEEK_MODEL"] = args.model
    if args.precision:
        env["PARASEEK_PRECISION"] = args.precision
    if args.store:
        env["PARASEEK_STORE"] = args.store
    if args.milvus_uri:
        env["PARASEEK_MILVUS_URI"] = args.milvus_uri
    # The interpreter running paraseek has streamlit, whether or not its bin/ is on PATH.
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", args.host,
               "--server.port", str(args.port), "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "minimal",
               # headless: no first-run e-mail prompt on the terminal; the URL is printed
               "--server.headless", "true"]  # fmt: skip
    print(f"paraseek: serving {folder} on http://{args.host}:{args.port}", file=sys.stderr)
    return subprocess.call(command, env=env)


def _api(args: argparse.Namespace) -> int:
    from .api import serve

    # The key comes only from $PARASEEK_API_KEY: a flag would show it in `ps`.
    serve(
        args.index, args.host, args.port, cors_origins=args.cors_origins, model=args.model,
        precision=args.precision, store=args.store, milvus_uri=args.milvus_uri,
    )  # fmt: skip
    return 0


# --- helpers -------------------------------------------------------------------------------


def _searcher(args: argparse.Namespace) -> Searcher:
    from .search import Searcher

    return Searcher.open(
        args.index, model=args.model, reranker=getattr(args, "reranker", None),
        precision=args.precision, store=args.store, milvus_uri=args.milvus_uri,
    )  # fmt: skip


def _queries(query: str) -> list[str]:
    from .errors import EmptyQueryError

    if query != "-":
        return [query]
    queries = [line.strip() for line in sys.stdin if line.strip()]
    if not queries:
        raise EmptyQueryError("No queries on standard input; give one query per line.")
    return queries


def _print_hits(
    query: str | None, hits: list[Hit], args: argparse.Namespace, many: bool, compare: bool = False,
    out: TextIO = sys.stdout,
) -> None:  # fmt: skip
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


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


class _ProgressBar:
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


if __name__ == "__main__":
    sys.exit(main())
