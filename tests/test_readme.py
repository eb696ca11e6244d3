"""The README's Python examples run as written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .conftest import ROOT


def test_readme_python_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert len(blocks) == 2
    search_example, index_example = blocks
    (tmp_path / "data").symlink_to(ROOT / "data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARASEEK_INDEX", raising=False)
    exec(compile(index_example, "README index example", "exec"), {})
    assert "['" in capsys.readouterr().out  # the report printed the added files
    namespace: dict[str, object] = {}
    exec(compile(search_example, "README search example", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and printed[0].startswith("1 ")
    assert len(namespace["more"]) == 5 and len(namespace["positions"]) == 5  # type: ignore[arg-type]
    assert os.path.isdir(tmp_path / "paraseek-index")
