"""The `paraseek` command: argument parsing and printing only.

parser.py builds the arguments, commands.py runs each command, output.py prints hits and progress.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .. import settings
from ..errors import ParaseekError
from .parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        settings.use(milvus_uri=getattr(args, "milvus_uri", None))  # read by scale.milvus
        return int(args.run(args) or 0)
    except ParaseekError as exc:
        print(f"paraseek: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("paraseek: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
