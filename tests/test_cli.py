"""The `paraseek` command: every command and every error.

The CLI's own logic runs in this process (`cli`, through `paraseek.cli.main`); a few runs of the
real console script (`script`) prove the installed command, its exit codes and that no error
ends in a traceback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from filelock import FileLock

from paraseek.embedder.models import cuda_available
from paraseek.search import Searcher

from .conftest import (
    HIT_FIELDS,
    INTERVIEW,
    SAMPLE,
    SCRIPT,
    TRAM_QUESTION,
    cli,
    copy_index,
    free_port,
    script,
)


def assert_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    """One line on stderr, starting with paraseek: error:, non-zero exit, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("paraseek: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory, sample_index: Path) -> Path:
    """This module's own copy of the shared sample index (its commands may write to it)."""
    return copy_index(sample_index, tmp_path_factory.mktemp("cli") / "index")


@pytest.mark.slow
def test_the_console_script_indexes_the_sample_corpus(tmp_path: Path) -> None:
    result = script("index", SAMPLE, "--index", tmp_path / "index")
    assert result.returncode == 0, result.stderr
    assert (
        "5 documents" in result.stdout
        and "5 added" in result.stdout
        and "0 from cache" in result.stdout
    )
    assert cli("search", "tram", "--index", tmp_path / "index", "-k", "1").returncode == 0


def test_index_again_embeds_nothing(cli_index: Path) -> None:
    result = cli("index", SAMPLE, "--index", cli_index)
    assert result.returncode == 0
    assert "5 unchanged" in result.stdout and "0 passages embedded" in result.stdout


@pytest.mark.slow
def test_index_reports_skipped_and_removed_files(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text(
        "Good File\n\nA paragraph long enough to be a passage about canal boats and locks."
    )
    (folder / "gone.txt").write_text(
        "Gone File\n\nA paragraph long enough to be a passage about mountain huts and trails."
    )
    (folder / "empty.txt").write_text("")
    first = cli("index", folder, "--index", tmp_path / "index")
    assert first.returncode == 0 and "2 added" in first.stdout and "1 skipped" in first.stdout
    assert f"skipped {folder / 'empty.txt'}: empty file" in first.stderr
    (folder / "gone.txt").unlink()
    second = cli("index", folder, "--index", tmp_path / "index")
    assert (
        "1 removed" in second.stdout
        and f"removed {folder / 'gone.txt'}: the file no longer exists" in second.stderr
    )


@pytest.mark.slow
def test_search_text_output(cli_index: Path) -> None:
    result = cli(
        "search", "Why did Haz stop studying to become a lawyer?", "--index", cli_index, "-k", "3"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("score ") == 3
    assert "Haz: what is MAGA Communism" in result.stdout and "law school" in result.stdout
    assert (
        "> - Tell Us about yourself, a brief biography." in result.stdout
    )  # the question, as context
    assert str(SAMPLE / "004_04f89b89d737b294.txt") in result.stdout


@pytest.mark.slow
def test_search_gives_the_answer_to_an_interviewers_question(cli_index: Path) -> None:
    question = "Can someone be both a communist and a believer in God?"
    result = cli("search", question, "--index", cli_index, "-k", "3", "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert not any(r["lead"] for r in rows)
    answers = [r for r in rows if r["asked"] is not None]  # the question matched; its answer
    assert [r["text"][:40] for r in answers] == ["- Traditionally, Communism was a form of"]
    assert "- I've noticed that you often bring up religion" in answers[0]["context"]
    text = cli("search", question, "--index", cli_index, "-k", "3").stdout
    note = f"(passage {answers[0]['passage_id']}, answers the question above)"
    assert text.count("answers the question above") == 1 and note in text


@pytest.mark.slow
def test_search_says_when_no_passage_addresses_the_question(cli_index: Path) -> None:
    far = cli("search", "How do whales sleep?", "--index", cli_index, "-k", "2")
    assert far.returncode == 0, far.stderr
    first = far.stdout.split("\n\n")[0]
    assert first.startswith("No passage seems to address this") and "silence floor" in first
    assert far.stdout.count("score ") == 2  # the nearest passages follow
    near = cli("search", "Why did Haz stop studying?", "--index", cli_index, "-k", "2")
    assert near.stdout.startswith("1. ") and "silence floor" not in near.stdout
    rows = cli("search", "How do whales sleep?", "--index", cli_index, "-k", "2", "--json")
    assert [json.loads(line)["rank"] for line in rows.stdout.splitlines()] == [1, 2]


@pytest.mark.slow
def test_search_and_compare_by_author(cli_index: Path) -> None:
    result = cli("search", "Putin", "--index", cli_index, "--author", "sean", "-k", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("by Sean O'Torain") == 3
    compared = cli("compare", "Putin", "--index", cli_index, "--author", "Korchagin", "--json")
    rows = [json.loads(line) for line in compared.stdout.splitlines()]
    assert rows and {r["author"] for r in rows} == {"Хаз, Matvey Korchagin (interviewer)"}
    unknown = cli("search", "Putin", "--index", cli_index, "--author", "Nobody")
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    assert "No document by 'Nobody'; authors: Sean O'Torain; Хаз" in unknown.stderr


def test_search_json_lines(cli_index: Path) -> None:
    result = cli(
        "search", "Whose interests does Putin serve?", "--index", cli_index, "-k", "4", "--json"
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    for row in rows:
        assert HIT_FIELDS <= set(row)
        assert Path(row["source"]).read_text()[row["start"] : row["end"]] == row["text"]
    assert any("Putin is the new brutal representative" in r["text"] for r in rows[:3])


@pytest.mark.slow
def test_search_reads_queries_from_stdin(cli_index: Path) -> None:
    result = cli(
        "search",
        "-",
        "--index",
        cli_index,
        "-k",
        "2",
        "--json",
        stdin="Russia and elections\n\nreligion and communism\n",
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["query"] for r in rows] == ["Russia and elections"] * 2 + [
        "religion and communism"
    ] * 2
    plain = cli(
        "search", "-", "--index", cli_index, "-k", "1", stdin="Russia and elections\nreligion\n"
    )
    assert "== Russia and elections" in plain.stdout and "== religion" in plain.stdout


@pytest.mark.slow
def test_search_document_filter(cli_index: Path) -> None:
    result = cli(
        "search",
        "elections",
        "--index",
        cli_index,
        "--doc",
        "002_068334134ee8bc4f.txt",
        "--json",
        "-k",
        "5",
    )
    assert {json.loads(line)["title"] for line in result.stdout.splitlines()} == {
        "Interfering In Elections: Staggering Hypocrisy Of US Capitalism."
    }


@pytest.mark.slow
def test_similar_and_compare(cli_index: Path) -> None:
    seed = json.loads(
        cli(
            "search", "Putin intervened in the elections", "--index", cli_index, "-k", "1", "--json"
        ).stdout
    )
    similar = cli(
        "similar",
        seed["passage_id"],
        "--index",
        cli_index,
        "-k",
        "3",
        "--other-documents",
        "--json",
    )
    rows = [json.loads(line) for line in similar.stdout.splitlines()]
    assert len(rows) == 3 and all(r["document_id"] != seed["document_id"] for r in rows)
    compare = cli(
        "compare", "Did Russia interfere in the US election?", "--index", cli_index, "--json"
    )
    rows = [json.loads(line) for line in compare.stdout.splitlines()]
    assert len(rows) == 5 and len({r["document_id"] for r in rows}) == 5
    floor = rows[0]["floor"]
    assert all(r["floor"] == floor for r in rows)
    # Four discuss it; the 2024 statement, which never names Russia, comes last and silent.
    assert [r["silent"] for r in rows] == [False] * 4 + [True]
    assert rows[-1]["source"].endswith("003_1416103580240b3d.txt")
    assert all((r["score"] >= floor) is not r["silent"] for r in rows)
    text = cli(
        "compare", "-", "--index", cli_index,
        stdin="Did Russia interfere in the US election?\nWhat role does religion and the Church play?\n",
    ).stdout  # fmt: skip
    election, religion = text.split("== What role does religion")
    answered, unanswered = election.split("Doesn't address this")
    assert answered.count("[1] ") == 4 and "Stop the Extremist" in unanswered
    # Only the interview talks about religion: the other four are listed as silent, each once.
    addressed, silent = religion.split("Doesn't address this")
    assert addressed.count("[1] ") == 1 and "Haz: what is MAGA Communism" in addressed
    assert len(silent.strip().splitlines()) == 5 and "Haz:" not in silent
    assert f"under the silence floor {floor:.3f}" in silent
    nobody = cli("compare", "How do I bake sourdough bread at home?", "--index", cli_index)
    assert nobody.stdout.startswith("No document addresses this (best passage scores under")
    assert "[1] " not in nobody.stdout and len(nobody.stdout.strip().splitlines()) == 6
    strict = cli(
        "compare", "Did Russia interfere in the US election?", "--index", cli_index,
        "--floor", "0.99", "--json",
    )  # fmt: skip
    assert {(r["silent"], r["floor"]) for r in map(json.loads, strict.stdout.splitlines())} == {
        (True, 0.99)
    }
    # --limit keeps to the documents that answer best, and says how many it left out.
    religion = "What role does religion and the Church play?"
    every = [json.loads(x) for x in cli("compare", religion, "--index", cli_index, "--json",
                                        "--per-document", "2").stdout.splitlines()]  # fmt: skip
    two = [json.loads(x) for x in cli("compare", religion, "--index", cli_index, "--json",
                                      "--per-document", "2", "--limit", "2").stdout.splitlines()]  # fmt: skip
    assert two == every[:4] and len({r["document_id"] for r in two}) == 2
    text = cli("compare", religion, "--index", cli_index, "--limit", "1").stdout
    assert text.count("[1] ") == 1 and "Haz: what is MAGA Communism" in text
    assert "Doesn't address this" not in text  # the four silent ones are past the limit
    assert text.rstrip().endswith(
        "... and 4 more documents, 0 of which address it (--limit 0 shows every document)."
    )
    wrong = cli("compare", religion, "--index", cli_index, "--limit", "-1")
    assert_error(wrong, "--limit must be 0 (every document) or more, got -1.")


@pytest.mark.slow
def test_compare_names_ten_silent_documents_and_counts_the_rest(many_index: Path) -> None:
    text = cli("compare", TRAM_QUESTION, "--index", many_index).stdout
    answers, silent = text.split("Doesn't address this")
    assert answers.count("[1] ") == 30  # the tram documents
    named = [line for line in silent.splitlines() if "best score" in line]
    assert len(named) == 10 and all(line.lstrip().startswith("Island Rocks") for line in named)
    assert silent.rstrip().endswith("... and 5 more (--json lists every one)")
    rows = [json.loads(line) for line in cli("compare", TRAM_QUESTION, "--index", many_index,
                                             "--json").stdout.splitlines()]  # fmt: skip
    assert sum(r["silent"] for r in rows) == 15


GRID = (
    "Did Russia interfere in the US election?\n"
    "What role does religion and the Church play?\n"
    "How do I bake sourdough bread at home?\n"
)


@pytest.mark.slow
def test_compare_grid_shows_who_addresses_which_question(cli_index: Path) -> None:
    lines = cli("compare", "-", "--grid", "--index", cli_index, "--json", stdin=GRID).stdout
    rows = [json.loads(line) for line in lines.splitlines()]
    assert [r["query"] for r in rows] == GRID.splitlines()
    for row in rows:  # the same verdicts and scores as compare's, question by question
        single = cli("compare", row["query"], "--index", cli_index, "--json").stdout
        hits = {h["document_id"]: h for h in map(json.loads, single.splitlines())}
        assert {d["document_id"]: (d["score"], d["silent"]) for d in row["documents"]} == {
            i: (h["score"], h["silent"]) for i, h in hits.items()
        }
    assert [sum(not d["silent"] for d in r["documents"]) for r in rows] == [4, 1, 0]
    text = cli("compare", "-", "--grid", "--index", cli_index, stdin=GRID).stdout
    assert text.startswith("Q1  Did Russia interfere in the US election?\nQ2  ")
    interview = next(line for line in text.splitlines() if line.startswith("Haz: what is MAGA"))
    assert interview.split()[-3:][1][0] != "(" and interview.split()[-1].startswith("(")
    assert next(line for line in text.splitlines() if line.startswith("addressed by")).split()[
        2:
    ] == ["4", "of", "5", "1", "of", "5", "0", "of", "5"]
    assert "(score): under the silence floor" in text


@pytest.mark.slow
def test_points_name_what_several_documents_share(cli_index: Path) -> None:
    lines = cli("points", "--index", cli_index, "--json").stdout.splitlines()
    points = [json.loads(line) for line in lines]
    assert points and {"Russia", "Russian"} & set(points[0]["words"])
    for point in points:
        assert point["documents"] == len({p["document_id"] for p in point["passages"]}) >= 2
        assert all(p["score"] >= 0.7 and p["title"] and p["text"] for p in point["passages"])
    text = cli("points", "--index", cli_index).stdout
    assert text.startswith(f"Point 1 · {', '.join(points[0]['words'])} · ")
    assert text.count("\nPoint ") == len(points) - 1
    # At 0.65 there are more; within two documents, only what those two share.
    looser = cli("points", "--index", cli_index, "--similarity", "0.65", "--json").stdout
    assert len(looser.splitlines()) > len(points)
    two = cli("points", "--index", cli_index, "--similarity", "0.65", "--json",
              "--doc", INTERVIEW.name, "--doc", "000_eacbcdf2668e75b6")  # fmt: skip
    shared = [json.loads(line) for line in two.stdout.splitlines()]
    assert shared and all(len({p["title"] for p in s["passages"]}) == 2 for s in shared)
    one = cli("points", "--index", cli_index, "--similarity", "0.65", "--limit", "1").stdout
    left = len(looser.splitlines()) - 1
    assert one.count("Point ") == 1 and f"{left} more points, less shared" in one
    none = cli("points", "--index", cli_index, "--similarity", "0.99")
    assert none.returncode == 0 and "No passages of different documents are that similar" in (
        none.stdout
    )


@pytest.mark.slow
def test_align_pairs_each_passage_with_its_closest_in_the_other_document(
    cli_index: Path,
) -> None:
    other = SAMPLE / "001_85fcaa141348a3f3.txt"
    result = cli("align", INTERVIEW.name, str(other), "--index", cli_index, "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    info = json.loads(cli("info", "--index", cli_index, "--json").stdout)
    by_path = {d["source"]: d for d in info["document_list"]}
    # every passage, in order, but the interviewer's 19 questions kept as passages: the
    # passages that answer them align instead
    assert len(rows) == by_path[str(INTERVIEW)]["passages"] - 19
    assert all(r["match"] is not None and r["shared"] == (r["score"] >= 0.7) for r in rows)
    text = cli("align", INTERVIEW.name, str(other), "--index", cli_index, "--similarity", "0.55")
    shared = sum(r["score"] >= 0.55 for r in rows)
    assert text.stdout.startswith(f"{shared} of {len(rows)} passages of Haz: what is MAGA")
    assert text.stdout.count("[shared ") == shared


@pytest.mark.slow
def test_comments_answer_for_their_document_only_with_the_flag(cli_index: Path) -> None:
    question = "Is there evidence of election fraud in the US?"
    blog = "002_068334134ee8bc4f.txt"
    plain = cli("compare", question, "--index", cli_index).stdout
    said = cli("compare", question, "--index", cli_index, "--comments").stdout
    assert "comment by" not in plain
    first = said.splitlines()[0]  # a reader's comment is the best answer under the blog post
    assert first.startswith("[1] Interfering In Elections") and "comment by Anonymous" in first
    rows = [json.loads(x) for x in cli("compare", question, "--index", cli_index, "--comments",
                                       "--json").stdout.splitlines()]  # fmt: skip
    assert {r["speaker"] for r in rows} == {None, "Anonymous"}
    other = "001_85fcaa141348a3f3.txt"
    own = cli("align", blog, other, "--index", cli_index).stdout
    every = cli("align", blog, other, "--index", cli_index, "--comments").stdout
    assert "comment by" not in own and every.count(", comment by ") == 13
    assert " of 13 passages" in own.splitlines()[0] and " of 26 passages" in every.splitlines()[0]


@pytest.mark.slow
def test_compare_keeps_to_the_documents_given(cli_index: Path) -> None:
    question = "Did Russia interfere in the US election?"
    names = [INTERVIEW.name, "001_85fcaa141348a3f3.txt"]
    doc = [x for name in names for x in ("--doc", name)]
    rows = [json.loads(x) for x in cli("compare", question, "--index", cli_index, *doc,
                                       "--json").stdout.splitlines()]  # fmt: skip
    assert sorted(Path(r["source"]).name for r in rows) == sorted(names)
    assert all(r["best_sentence"] is None for r in rows)
    explained = [json.loads(x) for x in cli("compare", question, "--index", cli_index, *doc,
                                            "--explain", "--json").stdout.splitlines()]  # fmt: skip
    for row in explained:  # each answer's sentence closest to the question, inside its text
        start, end = row["best_sentence"]
        assert 0 <= start < end <= len(row["text"])
    text = cli("compare", question, "--index", cli_index, *doc, "--explain").stdout
    assert text.count("\n   * ") == len(explained)
    grid = json.loads(
        cli("compare", question, "--grid", "--index", cli_index, *doc, "--json").stdout
    )
    assert {d["document_id"] for d in grid["documents"]} == {r["document_id"] for r in rows}
    assert_error(cli("compare", question, "--index", cli_index, "--doc", "nowhere.txt"),
                 "No document 'nowhere.txt'")  # fmt: skip


def test_info(cli_index: Path) -> None:
    result = cli("info", "--index", cli_index, "--json")
    info = json.loads(result.stdout)
    assert info["documents"] == 5 and info["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(info["document_list"]) == 5 and info["passages"] == sum(
        d["passages"] for d in info["document_list"]
    )
    assert info["comments"] == 13  # the blog post's reader comments
    text = cli("info", "--index", cli_index).stdout
    assert "model:" in text and "2017-03-20" in text and "Haz: what is MAGA Communism" in text
    assert "comments:          13 passages under a line like 'Name said...'" in text


def test_index_defaults_to_env_then_cwd(cli_index: Path, tmp_path: Path) -> None:
    via_env = cli("info", "--json", env={"PARASEEK_INDEX": str(cli_index)})
    assert json.loads(via_env.stdout)["documents"] == 5
    missing = cli("info", cwd=tmp_path, env={"PARASEEK_INDEX": ""})
    assert_error(missing, "No index at 'paraseek-index'; build one with: paraseek index PATH")


@pytest.mark.slow
def test_remove(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.txt").write_text(
            f"File {name}\n\nA paragraph long enough to be a passage about the letter {name} and more."
        )
    cli("index", folder, "--index", tmp_path / "index")
    result = cli("remove", "a.txt", "--index", tmp_path / "index")
    assert result.returncode == 0 and "removed 1 document" in result.stdout
    assert json.loads(cli("info", "--index", tmp_path / "index", "--json").stdout)["documents"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "anything", "--index", "{missing}"), "No index at"),
        (("index", "/no/such/path", "--index", "{tmp}"), "Path '/no/such/path' does not exist"),
        (("search", "   ", "--index", "{index}"), "The query is empty"),
        (
            ("search", "x", "-k", "0", "--index", "{index}"),
            "k must be an integer from 1 to 10000, got 0",
        ),
        (("similar", "999999", "--index", "{index}"), "No passage with id 999999"),
        (("search", "x", "--doc", "nope.txt", "--index", "{index}"), "No document 'nope.txt'"),
        (
            ("search", "x", "--model", "other/model", "--index", "{index}"),
            "was built with sentence-transformers/all-MiniLM-L6-v2 (384-d) but the embedder is other/model",
        ),
        (("compare", "", "--index", "{index}"), "The query is empty"),
        (
            ("index", "{index}", "--executor", "ray", "--device", "cuda", "--index", "{tmp}"),
            "--device cuda does not combine with --executor ray",
        ),
        (
            ("compare", "x", "--floor", "1.5", "--index", "{index}"),
            "--floor must be a score from 0 to 1 (0.5 is the index's silence floor), got 1.5",
        ),
        (("remove", "nope.txt", "--index", "{index}"), "No document 'nope.txt'"),
        (
            ("points", "--similarity", "2", "--index", "{index}"),
            "--similarity must be a score from 0 to 1 (0.5 is the index's silence floor), got 2.0",
        ),
        (("align", "nope.txt", INTERVIEW.name, "--index", "{index}"), "No document 'nope.txt'"),
        (
            ("align", INTERVIEW.name, str(INTERVIEW), "--index", "{index}"),
            "are the same document; give two",
        ),
    ],
)
def test_errors_are_one_line(
    args: tuple[str, ...], message: str, cli_index: Path, tmp_path: Path
) -> None:
    filled = [
        a.format(missing=tmp_path / "missing", tmp=tmp_path / "new", index=cli_index) for a in args
    ]
    assert_error(cli(*filled), message)


@pytest.mark.skipif(cuda_available(), reason="this machine has a CUDA GPU")
def test_index_on_a_missing_gpu_fails_before_writing(tmp_path: Path) -> None:
    result = cli("index", SAMPLE, "--index", tmp_path / "new", "--device", "cuda")
    assert_error(result, "Device cuda was asked for, but torch sees no CUDA GPU here")
    assert not (tmp_path / "new").exists()


def test_empty_stdin_is_an_error(cli_index: Path) -> None:
    assert_error(
        cli("search", "-", "--index", cli_index, stdin="\n \n"), "No queries on standard input"
    )


def test_model_mismatch_when_indexing(cli_index: Path) -> None:
    """Another model is refused before it loads: a model that cannot load at all (offline,
    not in the cache) gets the mismatch, not a load error."""
    result = cli("index", SAMPLE, "--index", cli_index, "--model", "other/model")
    assert_error(
        result,
        f"Index '{cli_index}' was built with sentence-transformers/all-MiniLM-L6-v2 (384-d) but "
        "the embedder is other/model; index with --model sentence-transformers/all-MiniLM-L6-v2, "
        "or into a new --index folder.",
    )


@pytest.mark.slow
def test_second_writer_is_refused(cli_index: Path) -> None:
    lock = FileLock(str(cli_index / ".lock"))
    with lock.acquire(timeout=5):  # this process holds the lock; another paraseek asks for it
        result = script("index", SAMPLE, "--index", cli_index)
    assert_error(result, "is being written by another paraseek process; wait for it to finish")


def test_no_supported_files(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b")
    assert_error(cli("index", tmp_path, "--index", tmp_path / "index"), "No supported files in")


def test_usage_errors_exit_2() -> None:
    result = cli("search")
    assert result.returncode == 2 and "usage: paraseek search" in result.stderr
    assert cli("--version").stdout.startswith("paraseek ")


@pytest.mark.slow
def test_the_console_script_exits_as_documented(cli_index: Path, tmp_path: Path) -> None:
    """The installed command, in a process of its own: 0 with results, 1 with one line and no
    traceback, 2 for usage."""
    found = script("search", "Why did Haz leave law school?", "--index", cli_index, "--json")
    assert found.returncode == 0 and json.loads(found.stdout.splitlines()[0])["rank"] == 1
    assert_error(script("search", "x", "--index", tmp_path / "missing"), "No index at")
    assert_error(script("search", "   ", "--index", cli_index), "The query is empty")
    usage = script("search")
    assert usage.returncode == 2 and "usage: paraseek search" in usage.stderr
    assert "Traceback" not in usage.stderr
    assert script("--version").stdout.startswith("paraseek ")


def test_every_command_is_documented_in_the_readme() -> None:
    root = Path(__file__).resolve().parent.parent
    # The README's CLI table, and docs/cli.md for what the table leaves to it.
    readme = (root / "README.md").read_text() + (root / "docs" / "cli.md").read_text()
    from paraseek.cli import build_parser

    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    commands = list(subparsers.choices)  # type: ignore[union-attr]
    assert set(commands) == {
        "index",
        "api",
        "search",
        "similar",
        "compare",
        "points",
        "align",
        "eval",
        "info",
        "check",
        "remove",
        "repair",
        "serve",
        "show",
    }
    for command in commands:
        assert f"paraseek {command}" in readme, command


@pytest.mark.slow
def test_serve_starts_the_app_on_loopback(cli_index: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "--index", str(cli_index), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ) as response:
                    assert response.read() == b"ok"
                    break
            except OSError:
                assert process.poll() is None, (
                    process.stdout.read().decode() if process.stdout else ""
                )
                assert time.monotonic() < deadline, "the app did not start within 120 s"
                time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    # Stopping `paraseek serve` stops the app: no server is left behind on the port.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)


@pytest.mark.slow
def test_search_explain(cli_index: Path) -> None:
    result = cli(
        "search",
        "Why did Haz take leave from law school?",
        "--index",
        cli_index,
        "-k",
        "3",
        "--explain",
        "--json",
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    law = next(r for r in rows if "leave of absence from law school" in r["text"])
    start, end = law["best_sentence"]
    assert "leave of absence" in law["text"][start:end]
    assert {"law", "school", "leave"} <= {law["text"][a:b] for a, b in law["matched"]}
    text = cli(
        "search",
        "Why did Haz take leave from law school?",
        "--index",
        cli_index,
        "-k",
        "1",
        "--explain",
    )
    assert "   * " in text.stdout


def test_show_prints_a_document_with_its_passages_numbered(
    sample_index: Path, searcher: Searcher, capsys: pytest.CaptureFixture[str]
) -> None:
    from paraseek.cli import main

    doc = next(d for d in searcher.documents() if d.path == str(INTERVIEW))
    passages = searcher.document_passages(doc.id)
    assert main(["show", INTERVIEW.name, "--passage", "66", "--index", str(sample_index)]) == 0
    out = capsys.readouterr().out
    author = f"by {doc.author}  " if doc.author else ""
    assert out.startswith(f"{doc.title}\n{author}{doc.passages} passages  {doc.path}\n\n")
    numbers = re.findall(r"^([> ]) +(\d+)  \(passage (\d+)", out, flags=re.MULTILINE)
    assert numbers == [
        (">" if n == 66 else " ", str(n), str(passages[n - 1].id)) for n in range(64, 69)
    ]
    assert f">   66  (passage {passages[65].id}" in out
    assert main(["show", doc.id, "--json", "--index", str(sample_index)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == doc.id and data["passages"] == len(passages) == len(data["items"])
    assert [i["text"] for i in data["items"]] == [p.text for p in passages]
    assert [i["number"] for i in data["items"]] == list(range(1, len(passages) + 1))


def test_show_names_a_bad_document_or_passage_in_one_line(
    sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from paraseek.cli import main

    assert main(["show", "no-such-document", "--index", str(sample_index)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("paraseek: error: No document 'no-such-document'") and err.count("\n") == 1
    )
    assert main(["show", INTERVIEW.name, "--passage", "0", "--index", str(sample_index)]) == 1
    assert capsys.readouterr().err == (
        "paraseek: error: --passage 0: 'Haz: what is MAGA Communism' has passages 1 to 211.\n"
    )


def test_show_hit_opens_the_passage_a_search_printed(sample_index: Path) -> None:
    """`(passage N)` in a hit is a passage id, not the passage's number in its document:
    `show --hit N` opens the hit's document at that very passage."""
    found = cli("search", "Why did Haz leave law school?", "-k", "1", "--json",
                "--index", sample_index)  # fmt: skip
    hit = json.loads(found.stdout.splitlines()[0])
    shown = cli("show", "--hit", hit["passage_id"], "--around", "0", "--index", sample_index)
    assert shown.returncode == 0, shown.stderr
    marked = re.findall(r"^> +(\d+)  \(passage (\d+)", shown.stdout, flags=re.MULTILINE)
    assert marked == [(str(hit["ordinal"] + 1), str(hit["passage_id"]))]
    assert hit["text"].split()[0] in shown.stdout and shown.stdout.startswith(hit["title"])


@pytest.mark.slow
def test_show_hit_names_a_bad_id_or_a_wrong_document_in_one_line(sample_index: Path) -> None:
    for bad in ("99999999999999999999999", "-3"):
        assert_error(
            cli("show", "--hit", bad, "--index", sample_index), f"No passage with id {bad}"
        )
    assert_error(cli("show", "--index", sample_index), "Give a document")
    first = cli("search", "Flynn", "-k", "1", "--json", "--index", sample_index)
    hit = json.loads(first.stdout.splitlines()[0])
    assert hit["source"] != str(INTERVIEW)  # the Flynn article's passage, not the interview's
    wrong = cli("show", INTERVIEW.name, "--hit", hit["passage_id"], "--index", sample_index)
    assert_error(wrong, f"Passage {hit['passage_id']} is in '")


RELIGION = "What role does religion and the Church play?"


@pytest.mark.slow
def test_compare_scores_as_search_does_and_its_floor_is_a_score(cli_index: Path) -> None:
    """compare prints the 0-1 relevance dense search prints for the same passage; --floor is
    on that scale, 0.5 being the silence floor."""
    rows = [json.loads(x) for x in cli("compare", RELIGION, "--index", cli_index, "--json").stdout.splitlines()]  # fmt: skip
    found = cli("search", RELIGION, "--mode", "dense", "-k", "300", "--index", cli_index, "--json")
    dense = {h["passage_id"]: h for h in map(json.loads, found.stdout.splitlines()) if h["asked"] is None}  # fmt: skip
    for row in rows:
        assert row["score"] == pytest.approx(dense[row["passage_id"]]["score"], abs=1e-5)
        assert row["cosine"] == pytest.approx(dense[row["passage_id"]]["cosine"], abs=1e-5)
        assert row["floor"] == 0.5 and row["silent"] == (row["score"] < 0.5)
    text = cli("compare", RELIGION, "--index", cli_index).stdout
    assert "(best passage scores under the silence floor 0.500)" in text
    shown = re.findall(r"best score ([\d.]+) ", text)
    assert len(shown) == 4 and all(float(s) < 0.5 for s in shown)
    # --floor 0.5 keeps exactly the documents whose best passage reaches the silence floor
    # (a cosine calibrated on the index): here the interview alone.
    cosine = Searcher.open(cli_index).floor().score
    strict = cli("compare", RELIGION, "--index", cli_index, "--floor", "0.5", "--json").stdout
    kept = {r["document_id"] for r in map(json.loads, strict.splitlines()) if not r["silent"]}
    assert kept == {r["document_id"] for r in rows if r["cosine"] >= cosine}
    assert [r["title"] for r in rows if r["document_id"] in kept] == ["Haz: what is MAGA Communism"]
    # The grid prints the same scores, silences in brackets.
    grid = cli("compare", RELIGION, "--grid", "--index", cli_index).stdout
    interview = next(line for line in grid.splitlines() if line.startswith("Haz: what is MAGA"))
    best = next(r for r in rows if r["document_id"] in kept)
    assert interview.split()[-1] == f"{best['score']:.3f}"
    assert "(score): under the silence floor 0.500" in grid


@pytest.mark.slow
def test_show_reads_passages_without_loading_the_model(tmp_path: Path) -> None:
    """`show` only reads passages, so it never loads the model (seconds): it works even when
    the index's model can no longer be loaded, here because its folder is gone."""
    from paraseek.embedder import Embedder, bundled_model_path
    from paraseek.index import Writer

    model, docs, index = tmp_path / "model", tmp_path / "docs", tmp_path / "index"
    shutil.copytree(bundled_model_path(), model)
    docs.mkdir()
    (docs / "tides.txt").write_text(
        "Tides Explained\n\nThe moon's pull raises the tides twice a day.\n", encoding="utf-8"
    )
    with Writer(index, Embedder(str(model), precision="fp32")) as writer:
        writer.update([docs])
    shutil.rmtree(model)
    searched = cli("search", "tides", "--index", index)  # the premise: the model cannot load
    assert searched.returncode == 1 and "Cannot load embedding model" in searched.stderr
    shown = cli("show", "tides.txt", "--index", index)
    assert shown.returncode == 0, shown.stderr
    assert "Tides Explained" in shown.stdout and "The moon's pull raises the tides" in shown.stdout
