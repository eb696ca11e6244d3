"""Settings: a flag, else the PARASEEK_* variable, else the default; all read in one module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paraseek import settings
from paraseek.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parent.parent


def test_a_flag_beats_the_variable_which_beats_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PARASEEK_MODE", raising=False)
    assert settings.current().mode == "hybrid"
    monkeypatch.setenv("PARASEEK_MODE", "keyword")
    assert settings.current().mode == "keyword"
    settings.use(mode="dense")
    try:
        assert settings.current().mode == "dense"
        assert settings.current(mode="hybrid").mode == "hybrid"  # an argument wins over both
    finally:
        settings.use(mode=None)
    assert settings.current().mode == "keyword"


def test_the_device_has_one_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARASEEK_DEVICE", raising=False)
    assert settings.current().device == settings.Settings().device == "auto"
    assert settings.VARIABLES["device"].default == "auto"


def test_a_bad_value_names_the_flag_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARASEEK_EXECUTOR", "dask")
    with pytest.raises(
        InvalidArgumentError,
        match=r"'dask'; use one of local, ray \(--executor or PARASEEK_EXECUTOR\)",
    ):
        settings.choose("executor", None, ("local", "ray"))
    with pytest.raises(InvalidArgumentError, match="No setting 'colour'"):
        settings.use(colour="red")


def test_every_variable_is_documented_in_docs_cli_md() -> None:
    documented = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    source = (ROOT / "paraseek" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r"PARASEEK_[A-Z_]+", source))
    assert len(read) == len(settings.VARIABLES) == 17
    for name in sorted(read):
        assert re.search(rf"^\| `{name}` \|", documented, re.M), f"{name} is not in docs/cli.md"


def test_settings_py_is_the_only_reader_of_paraseek_variables() -> None:
    readers = []
    for folder in ("paraseek", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if path.name != "settings.py" and re.search(
                r"environ(\.get)?[(\[]\s*\"PARASEEK_", text
            ):
                readers.append(str(path.relative_to(ROOT)))
    app = (ROOT / "app.py").read_text(encoding="utf-8")
    assert "environ" not in app and readers == []
