"""The `paraseek` command: argument parsing and printing only.

parser.py builds the arguments, commands.py runs each command, output.py prints hits and progress.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import settings
from ..errors import ParaseekError
from .parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        settings.use(milvus_uri=getattr(args, "milvus_uri", None))  # read by scale.milvus
        _check_text(args)
        return int(args.run(args) or 0)
    except ParaseekError as exc:
        print(f"paraseek: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("paraseek: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (sqlite3.Error, OSError, Exception) as exc:  # the net: one line, never a traceback
        from .failures import explain

        print(f"paraseek: error: {explain(exc, _index(args))}", file=sys.stderr)
        return 1


# Arguments that name files: any bytes are valid there, as the file system allows them.
_PATHS = ("paths", "index", "dataset")


def _check_text(args: object) -> None:
    """Refuse text arguments (queries, document names) holding bytes that are not UTF-8."""
    from ..search import check_text

    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if name not in _PATHS and isinstance(item, str):
                shown = item.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                check_text(item, f"The argument '{shown}'")


def _index(args: object) -> Path | None:
    """The index folder a command works on (None for eval without --index)."""
    from ..search import index_path

    given = getattr(args, "index", None)
    if getattr(args, "command", None) == "eval" and given is None:
        return None
    try:
        return index_path(given)
    except Exception:  # never fail while explaining a failure
        return None
