"""Documents named by people: an id, a path, a file name or a file stem -> document ids."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import InvalidArgumentError, UnknownDocumentError
from .rows import DocumentInfo


def resolve(
    documents: Sequence[DocumentInfo], names_given: Sequence[str], index: Path
) -> list[str]:
    """Ids of the documents `names_given` name, in order; a name may match several.

    Raises:
        UnknownDocumentError: a name matches no document; the message lists valid ids.
    """
    ids = []
    for name in names_given:
        matches = [
            d.id for d in documents
            if name in (d.id, d.path, Path(d.path).name, Path(d.path).stem)
            or os.path.abspath(name) == d.path
        ]  # fmt: skip
        if not matches:
            valid = ", ".join(f"{d.id} ({Path(d.path).name})" for d in documents[:8])
            raise UnknownDocumentError(
                f"No document '{name}' in index '{index}'; give an id, path or file "
                f"name, for example: {valid}."
            )
        ids.extend(matches)
    return ids


def resolve_one(documents: Sequence[DocumentInfo], name: str, index: Path) -> str:
    """The id of the one document `name` names.

    Raises:
        UnknownDocumentError: it names none.
        InvalidArgumentError: it names several (files of the same name in two folders).
    """
    found = resolve(documents, [name], index)
    if len(found) > 1:
        raise InvalidArgumentError(
            f"'{name}' names {len(found)} documents ({', '.join(found[:5])}); give one id."
        )
    return found[0]
