"""The README and docs/api.md: their Python examples run as written, the README's console
examples print what it shows, its quickstart works in a fresh clone, and it stays short."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from .conftest import ROOT, cli, copy_index

README = ROOT / "README.md"
PAGES = ["app", "cli", "api", "quality", "speed", "scaling", "reliability", "architecture"]


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, sample_index: Path) -> Path:
    """A folder that looks like the repository's root (its data/) after `make run`: with
    paraseek-index, the sample corpus indexed (a copy of the session's, which the examples
    update: every vector from its cache). The examples share it, as a reader running them
    one after the other would."""
    path = tmp_path_factory.mktemp("clone")
    (path / "data").symlink_to(ROOT / "data", target_is_directory=True)
    copy_index(sample_index, path / "paraseek-index")
    return path


@pytest.fixture
def clone(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`folder` as the working folder, with no PARASEEK_INDEX."""
    monkeypatch.chdir(folder)
    monkeypatch.delenv("PARASEEK_INDEX", raising=False)
    return folder


@pytest.mark.slow
def test_readme_python_example_runs(clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example,) = _python_blocks(README)
    exec(compile(example, "README example", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"\[.*\]", printed[0])  # the files the index added, if any
    assert [line.split()[0] for line in printed[1:]] == ["1", "2", "3"]
    assert os.path.isdir(clone / "paraseek-index")


@pytest.mark.slow
def test_api_page_python_examples_run(clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index_example, search_example = _python_blocks(ROOT / "docs" / "api.md")
    exec(compile(index_example, "docs/api.md index example", "exec"), {})
    added, embedded, reused = capsys.readouterr().out.strip().rsplit(" ", 2)
    assert added.startswith("[") and embedded.isdigit() and reused.isdigit()
    namespace: dict[str, object] = {}
    exec(compile(search_example, "docs/api.md search example", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and printed[0].startswith("1 ")
    assert len(namespace["more"]) == 5 and len(namespace["positions"]) == 5  # type: ignore[arg-type]


_HIT = re.compile(r"^\s*(?:\d+\.|\[1\])?\s*(?P<title>\S.*?)\s+(?:best )?score (?P<score>[\d.]+)\s+"
                  r"\(passage (?P<passage>\d+)")  # fmt: skip


def _hits(text: str) -> list[tuple[str, int, float]]:
    """(title, passage, score) of every hit line of `paraseek search` or `compare` output."""
    found = [_HIT.match(line) for line in text.splitlines()]
    return [(m["title"], int(m["passage"]), float(m["score"])) for m in found if m]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["search", "compare"])
def test_readme_console_examples_show_what_the_commands_print(
    command: str, sample_index: Path
) -> None:
    readme = README.read_text()
    shown = next(
        block for block in re.findall(r"```console\n(.*?)```", readme, re.DOTALL)
        if block.lstrip().startswith(f"$ paraseek {command} ")
    )  # fmt: skip
    line = shown.lstrip().splitlines()[0]
    args = shlex.split(line)[2:]  # after "$ paraseek"
    done = cli(*args, "--index", sample_index)
    assert done.returncode == 0, done.stderr
    expected, actual = _hits(shown), _hits(done.stdout)
    assert expected and [h[:2] for h in actual] == [h[:2] for h in expected]  # same passages
    assert [h[2] for h in actual] == pytest.approx([h[2] for h in expected], abs=0.01)


def test_the_quickstart_puts_paraseek_on_the_path_before_it_runs() -> None:
    """In a fresh clone `paraseek` exists only in .venv/bin: the quickstart installs and
    activates before its first `paraseek` command, in the order a reader types them."""
    typed = [
        line.strip()[2:]
        for block in re.findall(r"```(?:console|bash|sh)\n(.*?)```", README.read_text(), re.DOTALL)
        for line in block.splitlines()
        if line.strip().startswith("$ ")
    ]
    first = next(i for i, command in enumerate(typed) if command.startswith("paraseek "))
    assert "make install" in typed[:first] and ". .venv/bin/activate" in typed[:first], typed


def test_the_readme_is_short_and_links_one_page_per_subject() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    for page in PAGES:
        assert f"](docs/{page}.md)" in text, page
        assert (ROOT / "docs" / f"{page}.md").exists(), page
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).exists(), link
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    assert len(architecture.splitlines()) <= 120  # a page a newcomer reads through
