"""Milvus Lite files: which URIs name one, and sharing one file within a process.

Milvus Lite (pymilvus's local mode) serves a `.db` folder from a gRPC server in a thread of the
process that opened it, and holds an flock on `<folder>/LOCK` while it runs: one process per
file. pymilvus keeps that server until the process exits; paraseek stops it when the last store
using the file closes, so a process that closed its index frees the file for others.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

LITE_FILE = "milvus.db"  # the default URI: a Milvus Lite file in the index folder

_lock = threading.Lock()
_users: dict[str, int] = {}  # Milvus Lite folder -> stores open on it in this process


def is_lite(uri: str) -> bool:
    """Whether `uri` names a Milvus Lite file (a path ending in .db) rather than a server."""
    return "://" not in uri and uri.endswith(".db")


def acquire(folder: str) -> None:
    """One more store on the Lite folder `folder` (an absolute path)."""
    with _lock:
        _users[folder] = _users.get(folder, 0) + 1


def release(folder: str) -> None:
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


def locked_elsewhere(folder: Path) -> bool:
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
