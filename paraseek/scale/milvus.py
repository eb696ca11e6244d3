"""The scale-out store: one Milvus collection per index, through pymilvus's MilvusClient.

The URI is a Milvus server (http://host:19530, a Zilliz Cloud endpoint) or a Milvus Lite file
(a path ending in .db; by default milvus.db in the index folder). The collection holds the id
and the vector; passage text, keyword search and everything else stay in the index's SQLite
database, so a Milvus index answers exactly as a FAISS one. Every search, query and delete
passes an explicit consistency level (Strong unless $PARASEEK_MILVUS_CONSISTENCY says
otherwise), and the dense index is AUTOINDEX (FLAT for --ann flat), so the same code runs on
Milvus Lite and a cluster. This module is the only reader of the Milvus settings.

There is no transaction across SQLite and Milvus, so the order makes it safe:
1. New vectors are upserted before the database commits. Their ids are above the last
   committed one (SQLite AUTOINCREMENT), and readers filter `id <= last_id`, so they stay
   invisible until the commit; a failed commit leaves only such rows, purged by the next writer.
2. Ids of removed passages are written to the database's `retired` table in the commit and
   deleted from Milvus after it (`commit`); a crash in between is finished by the next writer.
   Meanwhile readers drop hits whose passage their database snapshot lacks.

Milvus Lite serves a `.db` folder from a gRPC server in a thread of the process that opened
it, and holds an flock on `<folder>/LOCK` while it runs: one process per file. pymilvus keeps
that server until the process exits; paraseek stops it when the last store using the file
closes, so a process that closed its index frees the file for others.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from .. import settings
from ..errors import (
    IndexFormatError,
    InvalidArgumentError,
    StoreLockedError,
    StoreUnavailableError,
)
from ..index.ann import AnnSpec
from ..index.rows import index_key, sample
from ..index.stores import MIN_COSINE_PQ, SAMPLE, Sample, StoreConfig, Version

CONSISTENCY = ("Strong", "Bounded", "Session", "Eventually")
MAX_LIMIT = 16_384  # Milvus's largest top-k
UPSERT_BATCH = 1_000  # rows a request (about 1.6 MB at 384-d)
DELETE_BATCH = 10_000  # ids a delete request
LITE_FILE = "milvus.db"  # the default URI: a Milvus Lite file in the index folder

_lock = threading.Lock()
_users: dict[str, int] = {}  # Milvus Lite folder -> stores open on it in this process


def refuse_settings() -> None:
    """Raise InvalidArgumentError when a Milvus URI is set for an index that is not Milvus's."""
    uri = settings.current().milvus_uri
    if uri:
        raise InvalidArgumentError(
            f"--milvus-uri {uri} is for the milvus store; add --store milvus."
        )


def place(path: Path, current: StoreConfig | None, ann: str) -> tuple[str, str, str]:
    """Where a writer keeps the index's vectors: (URI, collection, dense index).

    The URI is $PARASEEK_MILVUS_URI (or --milvus-uri), else the recorded one, else a Milvus
    Lite file milvus.db in the index folder; "flat" `ann` makes the dense index FLAT (exact),
    others AUTOINDEX.

    Args:
        path: the index folder.
        current: the store the index records, None for a new index.
    """
    uri = settings.current().milvus_uri or ""
    if uri:
        uri = public_uri(os.path.abspath(uri) if is_lite(uri) else uri, path)
    elif current is not None and current.kind == "milvus":
        uri = current.uri
    else:
        uri = LITE_FILE
    dense_index = "FLAT" if ann == "flat" else "AUTOINDEX"
    if current is not None and current.kind == "milvus" and current.dense_index == dense_index:
        name = current.collection
    else:
        name = collection_name(path, dense_index)
    return uri, name, dense_index


def collection_name(index: Path, dense_index: str) -> str:
    """A collection name for the index folder: its name, a hash of its path, the index type."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", index.resolve().name).strip("_")[:40] or "index"
    digest = hashlib.sha1(str(index.resolve()).encode()).hexdigest()[:8]
    return f"paraseek_{slug}_{digest}_{dense_index.lower()}"


def public_uri(uri: str, index: Path) -> str:
    """`uri` as recorded in the manifest: without user or password; a Lite file inside the
    index folder relative to it (so the folder can move), another one absolute."""
    if is_lite(uri):
        path = Path(uri).resolve()
        with contextlib.suppress(ValueError):
            return str(path.relative_to(index.resolve()))
        return str(path)
    parts = urlsplit(uri)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def check_consistency(level: str) -> str:
    """`level` if it is a Milvus consistency level, else InvalidArgumentError."""
    if level not in CONSISTENCY:
        raise InvalidArgumentError(
            f"Unknown Milvus consistency level {level!r}; valid: {', '.join(CONSISTENCY)}."
        )
    return level


class MilvusStore:
    """The vectors of one index in a Milvus collection (see the module docstring)."""

    kind = "milvus"

    def __init__(
        self, index: Path, dimension: int, uri: str, collection: str, dense_index: str,
        writable: bool = False,
    ) -> None:  # fmt: skip
        """Connect, and (when `writable`) create the collection if it does not exist.

        Args:
            index: the index folder; a relative Lite path is relative to it.
            dimension: the embedding dimension.
            uri: the recorded server URI or Lite file; $PARASEEK_MILVUS_URI (or --milvus-uri)
                reaches the same collection elsewhere (the same server seen from another
                machine, or a Lite file now served by `milvus-lite server`). Credentials come
                from $PARASEEK_MILVUS_TOKEN.
            collection: the collection's name.
            dense_index: "FLAT" (exact) or "AUTOINDEX" (the server's choice; HNSW on Lite).
            writable: opened by the index's writer.

        Raises:
            StoreUnavailableError: pymilvus is missing or the server cannot be reached.
            StoreLockedError: the Lite file is open in another process.
            IndexFormatError: a reader finds no collection.
        """
        self.index = index
        self.dimension = dimension
        self.collection = collection
        self.dense_index = dense_index
        chosen = settings.current()
        self.consistency = check_consistency(chosen.milvus_consistency)
        self.token = chosen.milvus_token
        if chosen.milvus_uri:  # a Lite path given here: from the working directory
            uri = (
                os.path.abspath(chosen.milvus_uri)
                if is_lite(chosen.milvus_uri)
                else chosen.milvus_uri
            )
        self.writable = writable
        self.lite = is_lite(uri)
        self.uri = str(index / uri) if self.lite and not os.path.isabs(uri) else uri
        self.public = public_uri(self.uri, index)
        self._last_id = 0
        self._retired: list[int] = []  # deletions waiting for the database's commit
        self._synced: int | None = None  # committed generation known to be held exactly
        self._saved: int | None = None
        self._client = self._connect()
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # --- connection -----------------------------------------------------------------------

    def _connect(self) -> Any:
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise StoreUnavailableError(
                "The milvus store needs pymilvus; install it with: pip install 'paraseek[scale]'"
            ) from exc
        # paraseek reports every failure itself, on one line; these would log it again.
        for name in ("pymilvus", "milvus_lite"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        if self.lite:
            key = os.path.abspath(self.uri)
            _acquire(key)
            try:
                return MilvusClient(self.uri)
            except Exception as exc:
                _release(key)
                if _locked_elsewhere(Path(key)):
                    raise StoreLockedError(
                        f"Milvus Lite file '{key}' is open in another process (Milvus Lite allows "
                        "one process per file: the app, the API or another paraseek command); "
                        f"stop it, or serve the file with `milvus-lite server --data-dir {key} "
                        "--host 127.0.0.1` and pass --milvus-uri http://127.0.0.1:19530 everywhere."
                    ) from exc
                raise self._unavailable("open", exc) from exc
        try:
            return MilvusClient(uri=self.uri, token=self.token)
        except Exception as exc:
            raise self._unavailable("connect to", exc) from exc

    def _unavailable(self, what: str, exc: Exception) -> StoreUnavailableError:
        message = " ".join(str(getattr(exc, "message", "") or exc).split())
        return StoreUnavailableError(
            f"Could not {what} Milvus at {self.public} (collection {self.collection}): "
            f"{message}; check --milvus-uri (or $PARASEEK_MILVUS_URI) and that the server runs."
        )

    @contextlib.contextmanager
    def _call(self, what: str) -> Iterator[None]:
        """Turn a pymilvus failure into StoreUnavailableError naming `what` failed."""
        try:
            yield
        except Exception as exc:
            if type(exc).__module__.startswith(("pymilvus", "grpc")):
                raise self._unavailable(what, exc) from exc
            raise

    def _open(self) -> None:
        client = self._client
        with self._call("open the collection of"):
            exists = client.has_collection(self.collection)
        if not exists and not self.writable:
            raise IndexFormatError(
                f"Milvus collection {self.collection} is missing at {self.public}; index again "
                "(paraseek index) to send the vectors from the embedding cache."
            )
        if not exists:
            with self._call("create a collection on"):
                self._create()
        with self._call("load the collection of"):
            client.load_collection(self.collection)

    def _create(self) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        indexes = self._client.prepare_index_params()
        indexes.add_index("vector", index_type=self.dense_index, metric_type="IP")
        self._client.create_collection(
            self.collection, schema=schema, index_params=indexes,
            consistency_level=self.consistency,
        )  # fmt: skip

    # --- what it is -----------------------------------------------------------------------

    @property
    def count(self) -> int:
        with self._call("count the rows of"):
            rows = self._client.query(
                self.collection, filter=f"id <= {self._last_id}" if not self.writable else "",
                output_fields=["count(*)"], consistency_level=self.consistency,
            )  # fmt: skip
        return int(rows[0]["count(*)"])

    def describe(self) -> str:
        exact = "exact" if self.dense_index == "FLAT" else "approximate"
        return f"Milvus {self.dense_index} ({exact}) collection {self.collection} at {self.public}"

    def spec(self) -> AnnSpec | None:
        return None

    # --- reads ----------------------------------------------------------------------------

    def refresh(self, version: Version) -> bool:
        """Serve `version`: readers then see rows with id <= its last id.

        A writer also purges rows above that id (left by a commit that failed) and checks that
        the collection holds exactly the committed passages; False means it needs them all.
        """
        self._last_id = version.last_id
        if not self.writable:
            return True
        self._retired = []  # a new commit starts from the committed version
        if self._synced == version.generation:
            return True
        with self._call("update"):
            self._client.delete(
                self.collection, filter=f"id > {version.last_id}",
                consistency_level=self.consistency,
            )  # fmt: skip
        held = self.count
        if held == version.passages:
            self._synced = version.generation
        return held == version.passages

    def search(
        self, queries: np.ndarray, k: int, allow: Sequence[int] | np.ndarray | None = None,
        exclude: Sequence[int] | np.ndarray = (),
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise InvalidArgumentError(
                f"Query vectors have shape {queries.shape}; expected (n, {self.dimension})."
            )
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        expression = self._filter(allow, exclude)
        if expression is None or not len(queries):
            return scores, ids
        with self._call("search"):
            rows = self._client.search(
                self.collection, data=queries, anns_field="vector", limit=min(k, MAX_LIMIT),
                filter=expression, search_params={"metric_type": "IP"}, output_fields=["id"],
                consistency_level=self.consistency,
            )  # fmt: skip
        for i, hits in enumerate(rows):
            for j, hit in enumerate(hits):
                ids[i, j], scores[i, j] = int(hit["id"]), float(hit["distance"])
        return scores, ids

    def _filter(
        self, allow: Sequence[int] | np.ndarray | None, exclude: Sequence[int] | np.ndarray
    ) -> str | None:
        """The boolean expression of a read; None when it can match nothing."""
        parts = [f"id <= {self._last_id}"]
        if allow is not None:
            if not len(allow):
                return None
            parts.append(f"id in [{','.join(str(int(i)) for i in allow)}]")
        if len(exclude):
            parts.append(f"id not in [{','.join(str(int(i)) for i in exclude)}]")
        return " and ".join(parts)

    # --- writes ---------------------------------------------------------------------------

    def delete(self, ids: Sequence[int] | np.ndarray) -> None:
        """Deferred to `commit`: until the database commits, readers still need these rows."""
        self._retired.extend(int(i) for i in ids)

    def rebuild(self, count: int, sample: Sample) -> bool:
        return self._synced is None

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        for begin in range(0, len(ids), UPSERT_BATCH):
            rows = [{"id": int(ids[j]), "vector": matrix[j]}
                    for j in range(begin, min(begin + UPSERT_BATCH, len(ids)))]  # fmt: skip
            with self._call("write to"):
                self._client.upsert(self.collection, rows)
        self._synced = None  # until the commit: a failure leaves rows the next refresh purges

    def save(self, generation: int) -> None:
        """Nothing to write: an acknowledged upsert is durable (Milvus's write-ahead log)."""
        self._saved = generation

    def commit(self) -> None:
        """Delete the rows of passages the committed generation removed."""
        retired, self._retired = self._retired, []
        with self._call("delete from"):
            for begin in range(0, len(retired), DELETE_BATCH):
                self._client.delete(
                    self.collection, ids=retired[begin : begin + DELETE_BATCH],
                    consistency_level=self.consistency,
                )  # fmt: skip
        if self._saved is not None:
            self._synced, self._saved = self._saved, None

    def drop(self) -> None:
        with self._call("drop the collection of"):
            self._client.drop_collection(self.collection)

    def close(self) -> None:
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if self.lite and client is not None:
            _release(os.path.abspath(self.uri))

    def verify(self, conn: sqlite3.Connection, version: Version) -> Iterator[tuple[str, str]]:
        """One row per passage (plus removed ones awaiting deletion), and a sample of passages
        each found by its own exact vector (or one of the same text)."""
        retired = conn.execute("SELECT count(*) FROM retired").fetchone()[0]
        where = f"Milvus collection {self.collection} at {self.public}"
        self.refresh(version)
        count, passages = self.count, version.passages
        if count < passages or count > passages + retired:
            yield (
                "error",
                (
                    f"the {where} holds {count} vectors for {passages} passages; run "
                    "`paraseek index` on the index again to resend them."
                ),
            )
            return
        if retired:
            yield (
                "warning",
                (
                    f"{retired} removed passages wait to be deleted from the Milvus collection (a "
                    "write was stopped after its commit); searches skip them and the next "
                    "`paraseek index` deletes them."
                ),
            )
        yield "ok", f"{self.describe()}, {passages} vectors"
        ids, hashes, queries = sample(conn, index_key(conn), SAMPLE)
        if not len(ids):
            return
        scores, found = self.search(queries, 1, allow=ids)
        by_id = dict(zip(ids.tolist(), hashes, strict=True))
        wrong = [
            i for i, f, s in zip(ids.tolist(), found[:, 0].tolist(), scores[:, 0], strict=True)
            if by_id.get(f) != by_id[i] or s < MIN_COSINE_PQ
        ]  # fmt: skip
        if wrong:
            yield (
                "error",
                (
                    f"the {where} does not return passage {wrong[0]} for its own vector "
                    f"({len(wrong)} of {len(ids)} sampled); re-index into a new folder."
                ),
            )
        else:
            yield "ok", f"{len(ids)} sampled passages found by their own vectors"


# --- Milvus Lite files: one process per file ----------------------------------------------


def is_lite(uri: str) -> bool:
    """Whether `uri` names a Milvus Lite file (a path ending in .db) rather than a server."""
    return "://" not in uri and uri.endswith(".db")


def _acquire(folder: str) -> None:
    """One more store on the Lite folder `folder` (an absolute path)."""
    with _lock:
        _users[folder] = _users.get(folder, 0) + 1


def _release(folder: str) -> None:
    """One store fewer on `folder`; the last one stops the in-process server, which frees
    the folder's lock for other processes."""
    with _lock:
        _users[folder] = _users.get(folder, 1) - 1
        if _users[folder] > 0:
            return
        del _users[folder]
    with contextlib.suppress(Exception):
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(folder)


def _locked_elsewhere(folder: Path) -> bool:
    """Whether another process holds the Milvus Lite folder's LOCK (an advisory flock)."""
    lock = folder / "LOCK"
    if not lock.exists():
        return False
    try:
        import fcntl
    except ImportError:  # Windows: Milvus Lite locks otherwise; say what we know
        return True
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)
