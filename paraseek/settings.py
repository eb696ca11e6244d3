"""The settings: a command-line flag, else a `PARASEEK_*` environment variable, else a default.

This module is the only reader of `PARASEEK_*`. `current()` resolves every setting once into
a typed, frozen `Settings`; a front end records its flags with `use` first (the CLI does), and
a caller may pass an argument that wins over both (`current(store="milvus")`). `VARIABLES` is
the table docs/cli.md prints, one row a variable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields

from .errors import InvalidArgumentError


@dataclass(frozen=True)
class Variable:
    """One setting: its environment variable, flag, default and meaning, for docs/cli.md."""

    name: str  # the environment variable
    flag: str  # the command-line flag, or "" where there is none
    default: str  # as people read it
    meaning: str


# fmt: off
VARIABLES = {
    "index": Variable("PARASEEK_INDEX", "--index", "./paraseek-index", "the index folder"),
    "model": Variable("PARASEEK_MODEL", "--model", "the index's model, else all-MiniLM-L6-v2",
                      "sentence-transformers model name or folder"),
    "precision": Variable("PARASEEK_PRECISION", "--precision", "auto",
                          "auto (int8 OpenVINO where it passes its check) or fp32"),
    "device": Variable("PARASEEK_DEVICE", "--device", "auto",
                       "where to embed: auto (a CUDA GPU if torch sees one), cpu or cuda"),
    "mode": Variable("PARASEEK_MODE", "--mode", "hybrid", "search mode: dense, keyword or hybrid"),
    "reranker": Variable("PARASEEK_RERANKER", "--reranker", "none",
                         "a CrossEncoder that re-scores the top 30 hits"),
    "store": Variable("PARASEEK_STORE", "--store", "the index's store, else faiss",
                      "where the vectors live: faiss or milvus"),
    "milvus_uri": Variable("PARASEEK_MILVUS_URI", "--milvus-uri",
                           "the index's, else milvus.db in the index folder",
                           "a Milvus server URI or Milvus Lite file"),
    "milvus_token": Variable("PARASEEK_MILVUS_TOKEN", "", "none",
                             "Milvus credentials (user:password or an API key)"),
    "milvus_consistency": Variable("PARASEEK_MILVUS_CONSISTENCY", "", "Strong",
                                   "Milvus consistency level of every read: Strong, Bounded, "
                                   "Session or Eventually"),
    "executor": Variable("PARASEEK_EXECUTOR", "--executor", "local",
                         "who embeds while indexing: local or ray"),
    "ray_address": Variable("PARASEEK_RAY_ADDRESS", "--ray-address",
                            "$RAY_ADDRESS, else a local Ray started for the run",
                            "the Ray cluster to embed on"),
    "ray_workers": Variable("PARASEEK_RAY_WORKERS", "--ray-workers", "one per CPU of the cluster",
                            "Ray embedding actors, each with a copy of the model"),
    "api_key": Variable("PARASEEK_API_KEY", "", "none (a warning when the API serves beyond "
                        "this machine)", "the key API clients send (no flag: `ps` would show it)"),
    "cors_origins": Variable("PARASEEK_CORS_ORIGINS", "--cors-origin", "none",
                             "origins allowed to call the API (comma-separated; the flag "
                             "repeats)"),
    "library": Variable("PARASEEK_LIBRARY", "", "library/ in the index folder",
                        "where the app stores uploaded files"),
    "cache": Variable("PARASEEK_CACHE", "", "~/.cache/paraseek",
                      "where converted models (the int8 build) are kept"),
}
# fmt: on

DEFAULT_INDEX = "paraseek-index"


@dataclass(frozen=True)
class Settings:
    """Every setting, resolved: see `VARIABLES` for what each means. None: not set."""

    index: str = DEFAULT_INDEX
    model: str | None = None
    precision: str = "auto"
    device: str = "auto"
    mode: str = "hybrid"
    reranker: str | None = None
    store: str | None = None
    milvus_uri: str | None = None
    milvus_token: str = ""
    milvus_consistency: str = "Strong"
    executor: str = "local"
    ray_address: str | None = None
    ray_workers: str | None = None
    api_key: str = ""
    cors_origins: str = ""
    library: str | None = None
    cache: str = "~/.cache/paraseek"


_flags: dict[str, str] = {}  # the command line's flags, recorded by `use`


def use(**flags: str | None) -> None:
    """Record flags given on the command line (None: not given) for this process.

    Raises:
        InvalidArgumentError: a name that is no setting.
    """
    for name, value in flags.items():
        if name not in VARIABLES:
            raise InvalidArgumentError(f"No setting '{name}'; settings: {', '.join(VARIABLES)}.")
        if value:
            _flags[name] = value
        else:
            _flags.pop(name, None)


def current(**given: str | None) -> Settings:
    """Every setting: `given` (an argument), else the flag `use` recorded, else its
    environment variable, else the default."""
    values: dict[str, object] = {}
    for field in fields(Settings):
        value = given.get(field.name) or _flags.get(field.name)
        value = value or os.environ.get(VARIABLES[field.name].name)
        if value:
            values[field.name] = value
    return Settings(**values)  # type: ignore[arg-type]


def choose(name: str, given: str | None, valid: Sequence[str]) -> str:
    """The setting `name` (`given`, else its flag, else its variable, else the default),
    checked against `valid`.

    Raises:
        InvalidArgumentError: the value is not one of `valid`; the message names the flag and
            the variable.
    """
    value = str(getattr(current(**{name: given}), name))
    if value not in valid:
        variable = VARIABLES[name]
        raise InvalidArgumentError(
            f"Unknown {name} '{value}'; use one of {', '.join(valid)} "
            f"({variable.flag} or {variable.name})."
        )
    return value
