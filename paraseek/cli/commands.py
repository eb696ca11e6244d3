"""What each `paraseek` command does: one run_ function per command, given parsed arguments."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import settings
from ..errors import SourceNotFoundError
from .output import (
    ProgressBar,
    print_alignment,
    print_grid,
    print_hits,
    print_points,
    print_positions,
    print_reading,
    read_queries,
    stderr,
)

if TYPE_CHECKING:
    from ..search import Hit, Searcher

APP = Path(__file__).resolve().parents[2] / "app.py"


def run_index(args: argparse.Namespace) -> int:
    """`paraseek index`: add, update and remove documents; prints the counts."""
    from ..embedder import Embedder
    from ..embedder.models import resolve_device, resolve_model
    from ..errors import InvalidArgumentError, ModelMismatchError
    from ..index import Writer, read_manifest
    from ..index.executors import LocalExecutor, executor_for
    from ..search import index_path

    folder = index_path(args.index)
    for path in args.paths:  # before the model loads: a typo fails in a second
        if not os.path.exists(path):
            raise SourceNotFoundError(
                f"Path '{path}' does not exist; give files or folders to index."
            )
    executor = executor_for(args.executor, args.ray_address, args.ray_workers)
    model = settings.current(model=args.model).model
    if (folder / "manifest.json").exists():
        built = read_manifest(folder)
        if model is None:
            model = str(built["model"])
        elif resolve_model(model)[0] != built["model"]:  # refused before OTHER loads (seconds)
            raise ModelMismatchError(
                f"Index '{folder}' was built with {built['model']} ({built['dimension']}-d) "
                f"but the embedder is {resolve_model(model)[0]}; index with --model "
                f"{built['model']}, or into a new --index folder."
            )
    device = args.device
    if not isinstance(executor, LocalExecutor):  # Ray's actors embed on their CPUs
        if resolve_device(device) == "cuda":
            raise InvalidArgumentError(
                "--device cuda does not combine with --executor ray: the Ray workers embed on "
                "their CPUs; use --device cpu, or index on this machine's GPU without Ray."
            )
        device = "cpu"  # the vectors' cache key names the runtime: the driver's must match
    embedder = Embedder(model, precision=args.precision, device=device)
    with (
        Writer(folder, embedder, ann=args.ann, store=args.store) as writer,
        ProgressBar() as bar,
    ):  # fmt: skip
        report = writer.update(args.paths, log=stderr, progress=bar.update, executor=executor)
    for repair in report.repaired:
        stderr(f"repaired: {repair}")
    if report.moved:
        stderr(f"moved the vectors here from {report.moved} (from the embedding cache)")
    print(
        f"{folder}: {report.documents} documents, {report.passages} passages "
        f"({len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, "
        f"{len(report.skipped)} skipped; {report.embedded} passages embedded with "
        f"{embedder.runtime}, {report.reused} from cache; vectors: {report.ann})"
    )
    return 0


def run_search(args: argparse.Namespace) -> int:
    """`paraseek search`: the hits for one query, or for each line of stdin."""
    from ..index import check_k
    from ..search import check_query

    queries = [check_query(q) for q in read_queries(args.query)]  # before the model loads
    check_k(args.k)
    searcher = open_searcher(args)
    documents = searcher.documents_by(args.author, args.doc)
    results = searcher.search_many(queries, args.k, documents, mode=args.mode, explain=args.explain)
    notes: list[str | None] = [None] * len(queries)
    if not args.json and searcher.mode(args.mode) != "keyword":
        notes = far_notes(searcher, queries, results, documents)
    for query, hits, note in zip(queries, results, notes, strict=True):
        print_hits(query, hits, args, many=len(queries) > 1 or args.query == "-", note=note)
    return 0


def far_notes(
    searcher: Searcher, queries: list[str], results: list[list[Hit]], documents: list[str] | None
) -> list[str | None]:
    """For each query, compare.far_note: a line when no passage comes close to it in meaning."""
    from ..compare import closest_score, far_note, silence_floor

    floor = silence_floor(searcher)
    return [
        far_note(closest_score(searcher, q, documents), floor, any(h.matched for h in hits), q)
        if hits else None
        for q, hits in zip(queries, results, strict=True)
    ]  # fmt: skip


def run_similar(args: argparse.Namespace) -> int:
    """`paraseek similar`: the passages most like a given passage."""
    from ..index import check_k

    check_k(args.k)
    searcher = open_searcher(args)
    hits = searcher.similar(args.passage_id, args.k, other_documents_only=args.other_documents)
    print_hits(None, hits, args, many=False)
    return 0


def run_show(args: argparse.Namespace) -> int:
    """`paraseek show`: a document's metadata and passages, numbered; or those around one."""
    from ..errors import InvalidArgumentError
    from ..search import MAX_PAGE, Searcher

    if args.around < 0:
        raise InvalidArgumentError(f"--around must be 0 or more, got {args.around}.")
    if args.document is None and args.hit is None:
        raise InvalidArgumentError(
            "Give a document (its id, path or file name) or --hit PASSAGE_ID, the passage "
            "number a search printed."
        )
    if args.hit is not None and args.passage is not None:
        raise InvalidArgumentError("Give --hit or --passage, not both.")
    searcher = Searcher.open(args.index, store=args.store, reading=True)  # no model: ~2 s
    with searcher.snapshot():
        if args.hit is not None:
            hit = searcher.passages([args.hit])[0]
            info = searcher.document(hit.document_id)
            if args.document is not None and searcher.document(args.document).id != info.id:
                raise InvalidArgumentError(
                    f"Passage {args.hit} is in '{info.title}', not in '{args.document}'."
                )
            args.passage = hit.ordinal + 1
        else:
            info = searcher.document(args.document)
        if args.passage is None:
            first, last = 1, max(info.passages, 1)
        else:
            if not 1 <= args.passage <= info.passages:
                raise InvalidArgumentError(
                    f"--passage {args.passage}: '{info.title}' has passages 1 to {info.passages}."
                )
            first = max(1, args.passage - args.around)
            last = min(info.passages, args.passage + args.around)
        readings = [
            searcher.read(info.id, start, min(MAX_PAGE, last - start + 1))
            for start in range(first, last + 1, MAX_PAGE)
        ]
    print_reading(readings, args.passage, args)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """`paraseek compare`: each document's best passage(s) for one question, silent ones last."""
    from ..compare import SILENCE, compare, first_documents, grid, silent_documents
    from ..errors import InvalidArgumentError
    from ..search import check_query

    if args.limit < 0:
        raise InvalidArgumentError(f"--limit must be 0 (every document) or more, got {args.limit}.")
    queries = [check_query(q) for q in read_queries(args.query)]
    if args.floor is not None and not 0.0 <= args.floor <= 1.0:
        raise InvalidArgumentError(
            f"--floor must be a score from 0 to 1 (0.5 is the index's silence floor), got "
            f"{args.floor}; leave it out for the silence floor."
        )
    searcher = open_searcher(args)
    with searcher.snapshot():  # the floor and the hits of one version of the index
        documents = searcher.documents_by(args.author, args.doc)
        floor = SILENCE if args.floor is None else args.floor
        if args.grid:
            print_grid(grid(searcher, queries, floor, args.comments, documents), floor, args)
            return 0
        for query in queries:
            every = compare(searcher, query, args.per_document, args.comments, documents)
            hits = first_documents(every, args.limit)
            if args.explain:
                hits = searcher.explain(query, hits)
            left = {h.document_id for h in every} - {h.document_id for h in hits}
            more = (len(left), len(left - silent_documents(every, floor)))
            print_positions(query, hits, floor, args, many=args.query == "-", more=more)
    return 0


def run_points(args: argparse.Namespace) -> int:
    """`paraseek points`: groups of passages of several documents that say nearly the same thing."""
    from ..compare import talking_points
    from ..errors import InvalidArgumentError

    similarity = _similarity(args.similarity)
    if args.limit < 0:
        raise InvalidArgumentError(f"--limit must be 0 (all) or more, got {args.limit}.")
    searcher = open_searcher(args)
    with searcher.snapshot():  # the documents and the points of one version
        chosen = searcher.resolve_documents(args.doc) if args.doc else None
        points = talking_points(searcher, similarity, document_ids=chosen, comments=args.comments)
        titles = {d.id: d.title for d in searcher.documents()}
    shown = points[: args.limit] if args.limit else points
    print_points(shown, titles, similarity, args, more=len(points) - len(shown))
    return 0


def run_align(args: argparse.Namespace) -> int:
    """`paraseek align`: each passage of one document with its closest passage of another."""
    from ..compare import align
    from ..errors import InvalidArgumentError

    similarity = _similarity(args.similarity)
    searcher = open_searcher(args)
    with searcher.snapshot():
        first, second = (searcher.document(n).id for n in (args.document, args.against))
        if first == second:
            raise InvalidArgumentError(
                f"'{args.document}' and '{args.against}' are the same document; give two."
            )
        rows = align(searcher, first, second, similarity, comments=args.comments)
        titles = {d.id: d.title for d in searcher.documents()}
    print_alignment(rows, titles[first], titles[second], similarity, args)
    return 0


def _similarity(value: float | None) -> float:
    """--similarity, checked: a score from 0 to 1, as search scores (default
    compare.SHARED_THRESHOLD)."""
    from ..compare import SHARED_THRESHOLD
    from ..errors import InvalidArgumentError

    if value is None:
        return SHARED_THRESHOLD
    if not 0.0 <= value <= 1.0:
        raise InvalidArgumentError(
            f"--similarity must be a score from 0 to 1 (0.5 is the index's silence floor), got "
            f"{value}."
        )
    return value


def run_eval(args: argparse.Namespace) -> int:
    """`paraseek eval`: nDCG@10, Recall@100 and MRR@10 on a BEIR-format dataset."""
    import tempfile

    from ..evaluate import evaluate, load_beir

    dataset = load_beir(args.dataset, args.split)
    with tempfile.TemporaryDirectory(prefix="paraseek-eval-") as scratch:
        folder = args.index or os.path.join(scratch, "index")
        with ProgressBar() as bar:
            scores = evaluate(
                dataset, folder, args.mode, progress=bar.update, model=args.model,
                first_passage=args.first_passage, precision=args.precision, ann=args.ann,
                store=args.store, device=args.device,
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


def run_info(args: argparse.Namespace) -> int:
    """`paraseek info`: the index's settings and counts, then its documents."""
    from ..index import Index
    from ..search import index_path

    index = Index(index_path(args.index), store=args.store)
    stats = index.stats()
    documents = index.documents()
    if args.json:
        stats["document_list"] = [
            {
                "id": d.id,
                "title": d.title,
                "author": d.author,
                "date": d.date,
                "source": d.path,
                "passages": d.passages,
            }
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
    if stats.get("comments"):
        stats["comments"] = (
            f"{stats['comments']} passages under a line like 'Name said...' (comments, and "
            "quotations after 'Name said:'; compare, points and align leave them out unless "
            "--comments)"
        )
    for key in ("path", "model", "dimension", "embedding_runtime", "documents", "passages",
                "comments", "cached_embeddings", "vector_store", "vector_index", "keyword", "hybrid",
                "format_version",
                "paraseek_version", "created", "updated"):  # fmt: skip
        print(f"{key + ':':<19}{stats.get(key)}")
    print()
    for d in documents:
        print(f"{d.id}  {d.date or '          '}  {d.passages:>5} passages  {d.title[:60]}")
        print(f"{'':14}{d.path}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """`paraseek check`: the findings; exit status 1 if the index is damaged."""
    from ..index.check import check
    from ..search import index_path

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


def run_remove(args: argparse.Namespace) -> int:
    """`paraseek remove`: drop documents from the index."""
    from ..embedder import Embedder
    from ..index import Index, Writer
    from ..search import index_path

    folder = index_path(args.index)
    index = Index(folder, store=args.store)
    ids = index.resolve_documents(args.documents)
    embedder = Embedder(index.model, precision=args.precision, device="cpu")  # embeds nothing
    with Writer(folder, embedder) as writer:
        removed = writer.remove(ids)
    print(f"{folder}: removed {removed} document(s)")
    return 0


def run_repair(args: argparse.Namespace) -> int:
    """`paraseek repair [PATH...]`: mend what `paraseek check` finds (saying each repair on
    stderr), then index PATH... as `paraseek index` does."""
    from ..embedder import Embedder
    from ..index import Writer, read_manifest
    from ..search import index_path

    folder = index_path(args.index)
    embedder = Embedder(str(read_manifest(folder)["model"]), precision=args.precision,
                        device=args.device)  # fmt: skip
    with Writer(folder, embedder) as writer:
        report = writer.repair(log=stderr)
        for repair in report.repaired:
            stderr(f"repaired: {repair}")
        if args.paths:
            report = writer.update(args.paths, log=stderr)
    print(f"{folder}: {'repaired' if report.repaired else 'nothing to repair'}; "
          f"{report.documents} documents, {report.passages} passages")  # fmt: skip
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """`paraseek serve`: run the Streamlit app on the index until it stops."""
    from ..index import read_manifest
    from ..search import index_path

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
    sys.stderr.flush()
    # Streamlit takes this process's place, so a signal to it (Ctrl+C, a service manager's
    # SIGTERM) stops the server too; a child would be left running.
    os.execve(sys.executable, command, env)
    return 0  # not reached


def run_api(args: argparse.Namespace) -> int:
    """`paraseek api`: serve the JSON API on the index until it stops."""
    from ..api import serve

    # The key comes only from $PARASEEK_API_KEY: a flag would show it in `ps`.
    serve(
        args.index, args.host, args.port, cors_origins=args.cors_origins, model=args.model,
        precision=args.precision, store=args.store,
    )  # fmt: skip
    return 0


def open_searcher(args: argparse.Namespace) -> Searcher:
    """A Searcher on the index, model, precision and store the arguments name."""
    from ..search import Searcher

    return Searcher.open(
        args.index, model=args.model, reranker=getattr(args, "reranker", None),
        precision=args.precision, store=args.store,
    )  # fmt: skip
