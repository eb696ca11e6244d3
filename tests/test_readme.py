"""The README's Python examples run as written, and its console examples print what it shows."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from .conftest import ROOT, cli


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


_HIT = re.compile(r"^\s*(?:\d+\.|\[1\])?\s*(?P<title>\S.*?)\s+(?:best )?score (?P<score>[\d.]+)\s+"
                  r"\(passage (?P<passage>\d+)")  # fmt: skip


def _hits(text: str) -> list[tuple[str, int, float]]:
    """(title, passage, score) of every hit line of `paraseek search` or `compare` output."""
    found = [_HIT.match(line) for line in text.splitlines()]
    return [(m["title"], int(m["passage"]), float(m["score"])) for m in found if m]


@pytest.mark.parametrize("command", ["search", "compare"])
def test_readme_console_examples_show_what_the_commands_print(
    command: str, sample_index: Path
) -> None:
    readme = (ROOT / "README.md").read_text()
    shown = next(
        block for block in re.findall(r"```console\n(.*?)```", readme, re.DOTALL)
        if block.lstrip().startswith(f"$ paraseek {command} ")
    )  # fmt: skip
    line = shown.lstrip().splitlines()[0]
    args = shlex.split(line)[2:]  # after "$ paraseek"
    done = cli(*args, "--index", sample_index)
    assert done.returncode == 0, done.stderr
    printed = done.stdout
    expected, actual = _hits(shown), _hits(printed)
    assert expected and [h[:2] for h in actual] == [h[:2] for h in expected]  # same passages
    assert [h[2] for h in actual] == pytest.approx([h[2] for h in expected], abs=0.01)
