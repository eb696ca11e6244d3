"""A setting chosen from a few named values: the argument, else its environment variable, else a default."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .errors import InvalidArgumentError


def choose(name: str, given: str | None, default: str, valid: Sequence[str]) -> str:
    """`given`, else `$PARASEEK_<NAME>`, else `default`, checked against `valid`.

    Args:
        name: the setting's name, as its flag spells it ("precision" for --precision).

    Raises:
        InvalidArgumentError: the value is not one of `valid`; the message names the flag and
            the variable.
    """
    variable = f"PARASEEK_{name.upper()}"
    value = given or os.environ.get(variable) or default
    if value not in valid:
        raise InvalidArgumentError(
            f"Unknown {name} '{value}'; use one of {', '.join(valid)} (--{name} or {variable})."
        )
    return value
