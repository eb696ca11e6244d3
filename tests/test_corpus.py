"""Reading files into Documents, and splitting them into Passages."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from paraseek.corpus import (
    Skipped,
    find_date,
    find_files,
    is_lead,
    paragraph_spans,
    read_document,
    read_documents,
    sentence_spans,
    speaker,
    split_document,
    voice,
)
from paraseek.corpus.read import UnreadableFile, plain
from paraseek.corpus.structure import metadata_spans
from paraseek.embedder import Embedder, bundled_model_path
from paraseek.errors import SourceNotFoundError

from .conftest import INTERVIEW, NEWS, SAMPLE


def _documents() -> list:
    return [d for d in read_documents([SAMPLE]) if not isinstance(d, Skipped)]


def _split(folder: Path, name: str, text: str, embedder: Embedder) -> list:
    """The passages of a file `name` holding `text`, written in `folder`."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return split_document(read_document(path), embedder.token_spans, embedder.max_tokens)


# --- reading -------------------------------------------------------------------------------


def test_sample_corpus_titles_and_dates() -> None:
    docs = {Path(d.path).name[:3]: d for d in _documents()}
    assert len(docs) == 5
    assert docs["001"].title.startswith("What’s Behind the Russia-Trump Furor")
    assert docs["001"].date == "2017-03-20"
    # the date line comes first in this one; the title is the first line that is not a date
    assert docs["003"].title == "Stop the Extremist Attacks of the Trump Regime and its Supporters"
    assert docs["003"].date == "2024-03-03"
    assert docs["004"].title == "Haz: what is MAGA Communism"
    # The first line is the site's header ("From [Revolution](#) | Original Article"), and the
    # article has no headline: it is named by its opening words.
    assert docs["000"].title == (
        "Pulling the Lens Back: The whole episode of Mike Flynn's resignation …"
    )
    assert {k: d.author for k, d in docs.items()} == {
        "000": None, "001": None, "002": "Sean O'Torain", "003": None,
        "004": "Хаз, Matvey Korchagin (interviewer)",
    }  # fmt: skip


def test_title_is_the_headline_not_site_chrome_in_every_format(
    tmp_path: Path, embedder: Embedder
) -> None:
    from fpdf import FPDF

    (tmp_path / "page.html").write_text(
        "<html><head><title>Bees in Winter | The Garden Site</title></head><body>"
        "<nav>Home | About | Contact</nav><h1>Bees in Winter</h1><p>By Ann Lee</p>"
        "<p>Bees cluster together to keep warm through the cold months.</p></body></html>",
        encoding="utf-8",
    )
    (tmp_path / "nav.html").write_text(
        "<html><head><title>Home | Blog</title></head><body><p>Home | Blog | Contact</p>"
        "<h1>Why Hives Hum</h1><p>The hum of a hive comes from thousands of wings.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    (tmp_path / "note.md").write_text(
        "[Home](/) | [Blog](/blog)\n\n# How Honey Keeps\n\nBy Jane Doe\n\n"
        "Honey keeps for years because it holds so little water.",
        encoding="utf-8",
    )
    (tmp_path / "plain.txt").write_text(
        "From [Garden News](#) | Original Article\n\n1) The Long View: Beekeepers have kept "
        "records of their hives for centuries, and those records tell a story of slow change "
        "in the seasons. Each year the first flight comes a little earlier.",
        encoding="utf-8",
    )
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.set_title("Skip to content")  # chrome in the metadata: the text's headline wins
    pdf.multi_cell(0, 10, "A Year of Swarms\n\nBy Tom Field\n\nSwarms leave in May.")
    pdf.output(str(tmp_path / "swarms.pdf"))
    import docx

    word = docx.Document()
    word.add_paragraph("Skip to content")
    word.add_paragraph("Queens and Workers")
    word.add_paragraph("Interviewed by Maria Ruiz.")
    word.add_paragraph("A queen lays up to two thousand eggs a day in summer.")
    word.save(str(tmp_path / "queens.docx"))

    docs = {Path(d.path).name: d for d in read_documents([tmp_path])}
    note = split_document(docs["note.md"], embedder.token_spans, embedder.max_tokens)
    assert [p.context for p in note] == ["How Honey Keeps"]  # plain text, not "# How..."
    assert {n: (d.title, d.author) for n, d in docs.items()} == {
        "page.html": ("Bees in Winter", "Ann Lee"),
        "nav.html": ("Why Hives Hum", None),
        "note.md": ("How Honey Keeps", "Jane Doe"),
        "plain.txt": (
            "The Long View: Beekeepers have kept records of their hives for centuries …",
            None,
        ),
        "swarms.pdf": ("A Year of Swarms", "Tom Field"),
        "queens.docx": ("Queens and Workers", "Maria Ruiz (interviewer)"),
    }


def test_bylines_datelines_and_site_headers_are_metadata_not_passages(
    embedder: Embedder,
) -> None:
    for document in _documents():
        passages = split_document(document, embedder.token_spans, embedder.max_tokens)
        for p in passages:
            for line in ("Sean O'Torain.", "Хаз", "Interviewed by", "Original Article",
                         "March 20, 2017", "Sunday, March 3, 2024"):  # fmt: skip
                assert not p.text.startswith(line) and line not in p.context, (line, p)


def test_document_ids_are_stable_and_hash_follows_content(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Title\n\nSome text here.", encoding="utf-8")
    first = read_document(path)
    assert read_document(path).id == first.id
    path.write_text("Title\n\nOther text.", encoding="utf-8")
    second = read_document(path)
    assert second.id == first.id and second.content_hash != first.content_hash


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Title\n\nMarch 20, 2017\n\nBody", "2017-03-20"),
        ("Sunday, March 3, 2024\n\nTitle", "2024-03-03"),
        ("Posted 2023-11-05 by x", "2023-11-05"),
        ("Written on 5 June 2021.", "2021-06-05"),
        ("No date here at all.", None),
        ("February 30, 2020 is not a date", None),
    ],
)
def test_find_date(text: str, expected: str | None) -> None:
    assert find_date(text) == expected


def test_reads_markdown_html_pdf_docx(tmp_path: Path) -> None:
    (tmp_path / "note.md").write_text("# A Markdown Note\n\nBody of the note.\n", encoding="utf-8")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Page Title</title><style>p{}</style></head><body><h1>Heading</h1>"
        "<p>First paragraph.</p><script>alert(1)</script><p>Second <b>bold</b> one.</p></body></html>",
        encoding="utf-8",
    )
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.set_title("PDF Title")
    pdf.multi_cell(0, 10, "A sentence inside a PDF file about elections.")
    pdf.output(str(tmp_path / "doc.pdf"))
    import docx

    word = docx.Document()
    word.core_properties.title = "Word Title"
    word.add_paragraph("First Word paragraph.")
    word.add_paragraph("Second Word paragraph.")
    word.save(str(tmp_path / "doc.docx"))

    docs = {Path(d.path).suffix: d for d in read_documents([tmp_path])}
    assert docs[".md"].title == "A Markdown Note"
    assert docs[".html"].title == "Page Title"
    assert "First paragraph.\n\nSecond bold one." in docs[".html"].text
    assert "alert" not in docs[".html"].text and "p{}" not in docs[".html"].text
    assert docs[".pdf"].title == "PDF Title"
    assert "elections" in docs[".pdf"].text
    assert docs[".docx"].title == "Word Title"
    assert docs[".docx"].text == "First Word paragraph.\n\nSecond Word paragraph."


def test_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    (tmp_path / "p.htm").write_text("<body><h1>Only H1</h1><p>Text.</p></body>", encoding="utf-8")
    assert read_document(tmp_path / "p.htm").title == "Only H1"


def test_html_is_read_as_a_browser_shows_it(tmp_path: Path) -> None:
    (tmp_path / "p.html").write_text(
        "<!DOCTYPE html><html><head><title>  Caf&eacute;\n  Menu </title><meta charset='utf-8'>"
        "<body><!-- a comment --><noscript><p>Enable JavaScript.</p></noscript>"
        "<template><p>Hidden row</p></template><ul><li>Tea &amp; cake</li><li>Soup</li></ul>"
        "<p>Line one<br>line two</p><table><tr><td>a</td><td>b</td></tr></table></body></html>",
        encoding="utf-8",
    )
    document = read_document(tmp_path / "p.html")
    assert document.title == "Café Menu"
    # the <head> left open ends where the body starts, as in a browser, instead of hiding it
    assert document.text == "Tea & cake\n\nSoup\n\nLine one\n\nline two\n\nab"


def test_docx_tables_breaks_and_text_boxes_are_read(tmp_path: Path) -> None:
    import zipfile

    import docx

    word = docx.Document()
    run = word.add_paragraph().add_run("Name")
    run.add_tab()
    run.add_text("Value")
    run.add_break()
    run.add_text("next line")
    table = word.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Cell one"
    table.cell(0, 1).text = "Cell two"
    word.save(str(tmp_path / "plain.docx"))
    assert read_document(tmp_path / "plain.docx").text == (
        "Name\tValue\nnext line\n\nCell one\n\nCell two"
    )
    # A text box is kept twice, for new readers (mc:Choice) and old ones (mc:Fallback).
    with zipfile.ZipFile(tmp_path / "plain.docx") as source:
        parts = {name: source.read(name) for name in source.namelist()}
    box = (
        b'<w:p xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><w:r>'
        b"<w:t>Before the box. </w:t></w:r><w:r><mc:AlternateContent><mc:Choice><w:txbxContent>"
        b"<w:p><w:r><w:t>Inside the box.</w:t></w:r></w:p></w:txbxContent></mc:Choice>"
        b"<mc:Fallback><w:txbxContent><w:p><w:r><w:t>Inside the box.</w:t></w:r></w:p>"
        b"</w:txbxContent></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>After.</w:t>"
        b"</w:r></w:p>"
    )
    parts["word/document.xml"] = parts["word/document.xml"].replace(b"<w:body>", b"<w:body>" + box)
    with zipfile.ZipFile(tmp_path / "box.docx", "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    assert read_document(tmp_path / "box.docx").text.startswith(
        "Inside the box.\n\nBefore the box. After.\n\nName"
    )
    parts["word/document.xml"] = parts["word/document.xml"].replace(b"</w:body>", b"")
    with zipfile.ZipFile(tmp_path / "broken.docx", "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    with pytest.raises(UnreadableFile, match=r"^malformed DOCX \(ParseError\)$"):
        read_document(tmp_path / "broken.docx")


def test_damaged_utf8_keeps_its_text(tmp_path: Path) -> None:
    # a cut multi-byte character, a stray byte: the rest is UTF-8, so it stays UTF-8
    (tmp_path / "cut.txt").write_bytes("Déjà vu, naïve café".encode() + b"\xe2\x80 and \xff.")
    assert read_document(tmp_path / "cut.txt").text == "Déjà vu, naïve café\ufffd and \ufffd."


def test_detects_non_utf8_encodings(tmp_path: Path) -> None:
    text = "Déjà vu: l’économie française\n\nLe président a dit « non » à la réforme."
    (tmp_path / "latin.txt").write_bytes(text.replace("’", "'").encode("cp1252"))
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16"))
    russian = (
        "Интервью с американским коммунистом.\n\nМы публикуем интервью нашего товарища о политике."
    )
    (tmp_path / "cyrillic.txt").write_bytes(russian.encode("cp1251"))
    assert read_document(tmp_path / "latin.txt").text == text.replace("’", "'")
    assert read_document(tmp_path / "cyrillic.txt").text == russian
    assert read_document(tmp_path / "utf16.txt").text == text


def test_bad_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good\n\nA readable paragraph.", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("   \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "broken.docx").write_bytes(b"PK not a zip")
    (tmp_path / "ignored.bin").write_bytes(b"abc")
    results = {Path(r.path).name: r for r in read_documents([tmp_path])}
    assert set(results) == {"good.txt", "empty.txt", "binary.txt", "broken.pdf", "broken.docx"}
    assert not isinstance(results["good.txt"], Skipped)
    assert results["empty.txt"].reason == "empty file"
    assert "binary" in results["binary.txt"].reason
    assert "PDF" in results["broken.pdf"].reason
    assert "DOCX" in results["broken.docx"].reason
    for name in ("empty.txt", "binary.txt", "broken.pdf", "broken.docx"):
        assert "\n" not in results[name].reason


def test_find_files_recurses_skips_hidden_and_survives_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "deeper" / "a.txt").write_text("x", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.txt").write_text("x", encoding="utf-8")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert [p.name for p in find_files([tmp_path])] == ["a.txt"]
    with pytest.raises(SourceNotFoundError, match="does not exist"):
        list(find_files([tmp_path / "missing"]))


def test_read_document_rejects_unknown_types(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="unsupported file type"):
        read_document(tmp_path / "x.csv")


# --- splitting -----------------------------------------------------------------------------


def test_paragraph_and_sentence_spans_map_back() -> None:
    text = "  First para.\nstill first.\n\n\n Second? Yes! “Quoted.” Mr. U.S. ruling class.\n\n"
    paras = paragraph_spans(text)
    assert [text[s:e] for s, e in paras] == [
        "First para.\nstill first.",
        "Second? Yes! “Quoted.” Mr. U.S. ruling class.",
    ]
    second = text[paras[1][0] : paras[1][1]]
    sentences = [second[s:e] for s, e in sentence_spans(second)]
    assert sentences == ["Second?", "Yes!", "“Quoted.”", "Mr.", "U.S. ruling class."]


@pytest.fixture(scope="module")
def split_sample(embedder: Embedder) -> list:
    return [(d, split_document(d, embedder.token_spans, embedder.max_tokens)) for d in _documents()]


def test_offsets_map_back_to_the_exact_text(split_sample: list) -> None:
    for document, passages in split_sample:
        assert passages
        for p in passages:
            assert p.text == document.text[p.start : p.end]
            assert p.text == p.text.strip()
        assert [p.ordinal for p in passages] == list(range(len(passages)))
        assert all(a.end <= b.start for a, b in itertools.pairwise(passages))


@pytest.mark.slow
def test_no_passage_exceeds_the_model_limit(split_sample: list, embedder: Embedder) -> None:
    # the model's own Hugging Face tokenizer and limit, whatever runtime the embedder uses
    from transformers import AutoTokenizer

    folder = bundled_model_path()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    limit = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
    longest = 0
    for _, passages in split_sample:
        for p in passages:
            n = len(tokenizer(p.embedded_text)["input_ids"])  # with special tokens
            longest = max(longest, n)
            assert n <= limit, (p.document_id, p.ordinal, n)
    assert longest > limit * 0.8  # long paragraphs were packed close to the limit, not shredded


def test_no_text_is_lost(split_sample: list) -> None:
    for document, passages in split_sample:
        covered = [False] * len(document.text)
        for p in passages:
            covered[p.start : p.end] = [True] * (p.end - p.start)
        contexts = " ".join(" ".join(p.context.split()) for p in passages)
        metadata = metadata_spans(document)  # bylines, datelines, site headers
        for s, e in paragraph_spans(document.text):
            visible = [covered[i] for i in range(s, e) if not document.text[i].isspace()]
            if not all(visible) and (s, e) not in metadata:
                assert not any(visible), "a paragraph is partly in a passage"
                assert plain(" ".join(document.text[s:e].split())) in contexts, document.text[s:e]


def test_interview_questions_attach_to_their_answers(split_sample: list) -> None:
    _document, passages = next(x for x in split_sample if x[0].path == str(INTERVIEW))
    question = "- What difficulties did the Communists face in the United States?"
    answers = [p for p in passages if question in p.context]
    assert answers and answers[0].text.startswith("- The difficulties were themselves internal")
    assert (
        "III. Today's Day" not in answers[0].context
        and "II. The Historical Part" in answers[0].context
    )
    # a single-paragraph answer followed directly by the next question is still an answer
    apology = next(p for p in passages if p.text.startswith("- I have to apologize"))
    assert "what mistakes were made?" in apology.context
    # questions never stand alone as passages (short ones at least)
    assert not any(p.text.startswith("- Tell Us about yourself") for p in passages)
    # every answer paragraph of a long answer carries its question
    long_answer = [p for p in passages if "In Russia, we know very little" in p.context]
    assert len(long_answer) > 10


def test_long_questions_kept_whole_are_leads_of_their_answers(split_sample: list) -> None:
    _document, passages = next(x for x in split_sample if x[0].path == str(INTERVIEW))
    pairs = list(itertools.pairwise([*passages, None]))
    leads = [p for p, after in pairs if is_lead(p, after)]
    # Each long question is clipped in its answers' context and kept whole on its own, once.
    clipped = {line for p in passages for line in p.context.splitlines() if line.endswith(" …")}
    assert len(leads) == len(clipped) > 10
    for lead, after in pairs:
        if lead in leads:
            assert after is not None and lead.text.startswith("- ") and lead.context == ""
            assert any(
                line[:-2] in " ".join(lead.text.split()) for line in after.context.splitlines()
            )
    # Answers, short questions' answers and the other documents' passages are not leads.
    assert not any(p.text.startswith("- The difficulties were themselves internal") for p in leads)
    others = [(p, a) for d, ps in split_sample if d.path != str(INTERVIEW)
              for p, a in itertools.pairwise([*ps, None])]  # fmt: skip
    assert others and not any(is_lead(p, a) for p, a in others)
    assert not is_lead(leads[0], None)  # nothing follows: nothing it leads


def test_speaker_lines_and_headings_become_context(split_sample: list) -> None:
    passages = [p for d, ps in split_sample for p in ps]
    assert any(p.context.endswith("Jingus said...") for p in passages)
    assert not any(re.fullmatch(r".{1,60} said\.\.\.", p.text) for p in passages)
    assert not any(p.text == "What’s going on?" for p in passages)


def test_comments_are_the_passages_under_a_speaker_line(split_sample: list) -> None:
    said = {
        (Path(d.path).name[:3], speaker(p.context)) for d, ps in split_sample for p in ps
        if speaker(p.context)
    }  # fmt: skip
    # The blog post's reader comments, and nothing else in the sample corpus.
    assert said == {("002", n) for n in ("Anonymous", "Sean", "Jingus", "Richard Mellor")}
    blog = next(ps for d, ps in split_sample if Path(d.path).name.startswith("002"))
    first = next(i for i, p in enumerate(blog) if speaker(p.context))
    assert first > 5 and all(speaker(p.context) for p in blog[first:])  # the thread ends it


@pytest.mark.parametrize(
    ("context", "name"),
    [
        ("Title\nAnonymous said...", "Anonymous"),
        ("Title\nByline.\nRichard Mellor said…", "Richard Mellor"),
        ("Title\nThe minister said:", "The minister"),
        ("Title\nII. What was said", None),
        ("Title\nShe said that it rained...", None),
        ("Title\nWhat did they say?", None),
        ("", None),
    ],
)
def test_speaker_names_who_says_a_passage(context: str, name: str | None) -> None:
    assert speaker(context) == name


def test_a_question_or_a_short_line_in_a_comment_stays_in_it(
    embedder: Embedder, tmp_path: Path
) -> None:
    passages = _split(
        tmp_path, "post.txt",
        "A Post About Tides\n\nThe tides rise twice a day along this coast, pulled by the "
        "moon and the sun together.\n\nJo Reader said...\n\nI live on that coast and the "
        "tides are stranger than that.\n\nWhy would the sun matter at all here?\n\nThe "
        "harbour master told me it is the shape of the bay that counts.\n\nThanks!\n\nIt "
        "is a lovely coast to live on, all the same, and the ferries run all year.",
        embedder,
    )  # fmt: skip
    assert speaker(passages[0].context) is None
    assert len(passages) > 1 and all(speaker(p.context) == "Jo Reader" for p in passages[1:])
    said = " ".join(p.text for p in passages[1:])  # the question, and the answer after it
    assert "Why would the sun matter" in said and said.endswith("the ferries run all year.")
    assert not any("Thanks!" in p.context for p in passages)  # a short line, not a heading


@pytest.mark.parametrize(
    "quote",
    [
        "“We cannot spend what we do not have; the rail lines will have to wait a year.”",
        '"We cannot spend what we do not have.\n\n"The rail lines will have to wait a year."',
    ],
)
def test_a_quotation_is_its_speakers_and_the_article_resumes_after_it(
    quote: str, embedder: Embedder, tmp_path: Path
) -> None:
    passages = _split(tmp_path, "news.txt", NEWS.format(quote=quote), embedder)
    said = [speaker(p.context) for p in passages]
    quoted = [p for p in passages if speaker(p.context)]
    assert quoted and all(p.text.startswith(("“", '"')) for p in quoted)
    assert {voice(p.context, p.text) for p in quoted} == {"quoting The minister"}
    assert " ".join(p.text for p in quoted).count("rail lines") == 1
    after = passages[passages.index(quoted[-1]) + 1 :]  # the author's words again
    assert [p.text[:10] for p in after] == ["Opposition", "Teachers' "]
    assert said[0] is None and not any(speaker(p.context) for p in after)
    # Without quotation marks, a speaker line starts a comment that runs on, as in a thread.
    thread = _split(tmp_path, "thread.txt", NEWS.format(quote="We cannot spend it."), embedder)
    assert speaker(thread[-1].context) == "The minister"
    assert voice(thread[-1].context, thread[-1].text) == "comment by The minister"
    # In a comment thread, a comment that opens with a quotation is a comment all the same.
    replies = NEWS.format(quote=quote) + "\n\nJo said...\n\nCuts again.\n\nAl said:\n\n"
    replies += f"{quote}\n\nThat is what they always say, and the trains are still late."
    last = _split(tmp_path, "replies.txt", replies, embedder)[-1]
    assert last.text.endswith("still late.") and speaker(last.context) == "Al"


def test_a_short_closing_line_stays_with_what_it_closes(
    split_sample: list, embedder: Embedder, tmp_path: Path
) -> None:
    passages = [p for _, ps in split_sample for p in ps]
    # In the interview, an answer's one-line ending, then the next question: the ending closes
    # its answer, and the next answer starts with itself, not with the ending and the question.
    closing = next(p for p in passages if "as Lenin put it." in p.text)
    assert closing.text.endswith("as Lenin put it.") and "civilian weapons" not in closing.text
    answer = next(p for p in passages if "culture of gun ownership" in p.text)
    assert answer.text.startswith("- America has a culture of gun ownership")
    assert "civilian weapons" in answer.context  # the question it answers
    split = _split(
        tmp_path, "bakery.txt",
        "Bakery Notes\n\nThe bakery on the harbour sells rye bread, poppy seed rolls and "
        "cinnamon buns from six every morning, and closes once they are gone.\n\nGo early, "
        "before the queue forms."
        "\n\nMallory said...\n\nThe rolls were stale on Tuesday.\n",
        embedder,
    )  # fmt: skip
    assert [speaker(p.context) for p in split] == [None, "Mallory"]
    assert split[0].text.startswith("The bakery") and split[0].text.endswith("the queue forms.")
    assert split[1].text == "The rolls were stale on Tuesday."


def test_long_paragraph_splits_at_sentence_boundaries(embedder: Embedder, tmp_path: Path) -> None:
    sentences = [
        f"Sentence number {i} talks about elections and foreign policy in detail."
        for i in range(120)
    ]
    passages = _split(tmp_path, "long.txt", "Long Title\n\n" + " ".join(sentences), embedder)
    assert len(passages) > 3
    for p in passages:
        assert p.text.startswith("Sentence number") and p.text.endswith("detail.")
        assert p.context == "Long Title"
    assert " ".join(p.text for p in passages) == " ".join(sentences)


def test_a_sentence_longer_than_the_limit_splits_at_words(
    embedder: Embedder, tmp_path: Path
) -> None:
    words = " ".join(f"word{i}" for i in range(2000))
    passages = _split(tmp_path, "words.txt", "Words\n\n" + words, embedder)
    assert len(passages) > 5
    assert " ".join(p.text for p in passages) == words


def test_a_sentence_broken_by_a_blank_line_stays_whole(split_sample: list) -> None:
    passages = [p for _, ps in split_sample for p in ps]
    joined = next(p for p in passages if "where all this" in p.text)
    assert "is headed, but we do know" in joined.text


def test_a_short_document_is_one_passage_under_its_title(
    embedder: Embedder, tmp_path: Path
) -> None:
    passages = _split(
        tmp_path, "note.md", "# Fresh Note\n\nTidal energy turbines spin beneath the fjord.\n",
        embedder,
    )  # fmt: skip
    assert [(p.context, p.text) for p in passages] == [
        ("Fresh Note", "Tidal energy turbines spin beneath the fjord.")
    ]
