"""Failures of the file system and of SQLite, as one-line messages naming the file and the fix.

The index package turns the damage it knows into ParaseekErrors; this is the net under it, so
that no command ends with a traceback, whatever the disk or the database does.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from ..errors import IndexFormatError, IndexLockedError, ParaseekError, StorageError

DATABASE = "paraseek.db"


def explain(exc: BaseException, index: Path | None) -> ParaseekError:
    """A ParaseekError with one line for `exc`, a failure no layer below turned into one.

    Args:
        exc: an OSError, an sqlite3.Error, or any other exception.
        index: the index folder the command works on, where it has one.
    """
    if isinstance(exc, sqlite3.Error):
        return _database(exc, index)
    if isinstance(exc, OSError):
        return _file(exc, index)
    where = f" on '{index}'" if index is not None else ""
    return ParaseekError(
        f"unexpected {type(exc).__name__}{where}: {_line(exc)} (a bug in paraseek; please "
        f"report it with the command that caused it)."
    )


def _line(exc: BaseException) -> str:
    """The first line of `exc`'s message, printable (no control characters), at most 300."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:300]


def _database(exc: sqlite3.Error, index: Path | None) -> ParaseekError:
    name = getattr(exc, "sqlite_errorname", "") or ""
    file = f"'{index / DATABASE}'" if index is not None else "the index database"
    check = f"paraseek check --index {index}" if index is not None else "paraseek check"
    reason = _line(exc)
    if name == "SQLITE_FULL":
        return StorageError(
            f"The disk holding {file} is full ({reason}); free some space and run the command "
            "again (the index keeps its last complete version)."
        )
    if name.startswith("SQLITE_READONLY") or name.startswith("SQLITE_CANTOPEN"):
        return StorageError(
            f"Cannot write {file} ({reason}): the folder or file is read-only or not yours; "
            "searching works, indexing needs write permission on the index folder."
        )
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return IndexLockedError(
            f"{file} is busy ({reason}): another process holds it; try again when it is done."
        )
    if name.startswith("SQLITE_IOERR"):
        return StorageError(
            f"Reading or writing {file} failed ({reason}): the disk or file system reported an "
            f"error; check the disk, then run `{check}`."
        )
    return IndexFormatError(
        f"Index database {file} is damaged ({reason}); `{check}` names the damage; delete the "
        "index folder and re-index if it cannot be repaired."
    )


def _file(exc: OSError, index: Path | None) -> ParaseekError:
    file = exc.filename if exc.filename is not None else index
    named = f"'{os.fsdecode(file)}'" if file is not None else "a file"
    named = named.encode("utf-8", "backslashreplace").decode("utf-8")
    reason = exc.strerror or _line(exc)
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(
            f"The disk holding {named} is full ({reason}); free some space and run the command "
            "again (the index keeps its last complete version)."
        )
    if code == errno.EROFS:
        return StorageError(
            f"Cannot write {named}: the file system is read-only; searching works, indexing "
            "needs a writable index folder (copy it elsewhere, or give another --index)."
        )
    if code in (errno.EACCES, errno.EPERM):
        return StorageError(
            f"Cannot use {named}: permission denied; give this user access to it, or give "
            "another --index."
        )
    if code == errno.EISDIR:
        return StorageError(
            f"{named} is a folder where paraseek keeps a file; move the folder away and run the "
            "command again."
        )
    if code in (errno.ENOTDIR, errno.EEXIST):
        return StorageError(
            f"{named} is a file, not a folder; give --index a folder (new or holding an index)."
        )
    return StorageError(f"Cannot use {named}: {reason}.")
