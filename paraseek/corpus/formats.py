"""HTML, PDF and DOCX bytes -> (text, title); HTML and DOCX as streams, memory following the text."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import IO
from xml.etree import ElementTree

MAX_TEXT_CHARS = 64 * 1024 * 1024
"""Extracted text longer than this (64 Mi characters) is refused, as a .txt over 64 MiB is."""
MAX_EXPANDED_BYTES = 256 * 1024 * 1024
"""A DOCX whose parts add up to more than this uncompressed (256 MiB) is refused as a zip bomb."""
MAX_PROPERTIES_BYTES = 1024 * 1024


class UnreadableFile(Exception):
    """A file cannot be read as text; becomes a Skipped whose reason is the one-line message."""


# --- HTML ----------------------------------------------------------------------------------

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})
_HEAD_TAGS = frozenset({"title", "meta", "link", "base", "style", "script", "noscript", "template"})
_BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "li", "ul",
    "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "tr", "h1", "h2", "h3", "h4", "h5",
    "h6", "br", "hr", "figure", "figcaption", "address",
})  # fmt: skip


class _HtmlText(HTMLParser):
    """Collects the visible text of a page as events arrive: no tree, so no depth limit.

    Blocks are separated by blank lines; `<head>`, scripts, styles, `<noscript>` and
    `<template>` contribute no text. The title is `<title>`, else the first `<h1>`.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.title: list[str] = []
        self.h1: list[str] = []
        self._skip = 0
        self._in_head = False
        self._in_title = False
        self._h1_state = "before"  # before, inside, after the first <h1>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "head":
            self._in_head = True
        elif tag == "title":
            self._in_title = True
        elif self._in_head and tag not in _HEAD_TAGS:
            self._in_head = False  # <body> or any body tag ends an unclosed <head>, as browsers do
        if tag == "h1" and self._h1_state == "before":
            self._h1_state = "inside"
        if tag in _BLOCK_TAGS:
            self.pieces.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "head":
            self._in_head = False
        elif tag == "title":
            self._in_title = False
        if tag == "h1" and self._h1_state == "inside":
            self._h1_state = "after"
        if tag in _BLOCK_TAGS:
            self.pieces.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title.append(data)
            return
        if self._h1_state == "inside":
            self.h1.append(data)
        if not self._in_head:
            self.pieces.append(data)


def html_text(data: bytes) -> tuple[str, str | None]:
    """The visible text of an HTML page, blocks separated by blank lines, and its title."""
    from bs4.dammit import UnicodeDammit

    markup = UnicodeDammit(data, is_html=True).unicode_markup
    if markup is None:
        raise UnreadableFile("HTML in no known text encoding (binary data?)")
    parser = _HtmlText()
    for at in range(0, len(markup), 1 << 20):
        parser.feed(markup[at : at + (1 << 20)])
    parser.close()
    title = " ".join("".join(parser.title).split()) or " ".join("".join(parser.h1).split())
    raw = "".join(parser.pieces)
    lines = [re.sub(r"[ \t\f\v\xa0]+", " ", line).strip() for line in raw.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, title or None


# --- PDF -----------------------------------------------------------------------------------


def pdf_text(data: bytes) -> tuple[str, str | None]:
    """The text of every page of a PDF, pages separated by blank lines, and its metadata title."""
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFile("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        title = str(meta.title or "").strip() if meta else ""
    except UnreadableFile:
        raise
    except Exception as exc:  # pypdf raises a dozen types (and RecursionError) on damaged files
        raise UnreadableFile(f"malformed PDF ({type(exc).__name__})") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip()), title or None


# --- DOCX ----------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _T, _BR = f"{_W}p", f"{_W}t", f"{_W}br"  # paragraph, text, break: once, not per element
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_RUN_TEXT = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}


def docx_text(data: bytes) -> tuple[str, str | None]:
    """The paragraphs of a Word document, separated by blank lines, and its title.

    The document part is parsed as a stream and each paragraph is dropped once read, so
    memory follows the text, not the XML; parts that would expand past 256 MiB are refused
    before anything is decompressed.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
            if expanded > MAX_EXPANDED_BYTES:
                raise UnreadableFile(
                    f"DOCX expands to {expanded // 2**20:,} MiB, more than "
                    f"{MAX_EXPANDED_BYTES // 2**20} MiB (zip bomb?)"
                )
            main = _part(archive, "/officeDocument", "word/document.xml")
            if main not in archive.NameToInfo:
                raise UnreadableFile(f"malformed DOCX (no {main[:100]})")
            paragraphs, size = [], 0
            with archive.open(main) as stream:
                for paragraph in _paragraphs(stream):
                    size += len(paragraph) + 2
                    if size > MAX_TEXT_CHARS:
                        limit = MAX_TEXT_CHARS // 2**20
                        raise UnreadableFile(f"DOCX text longer than {limit} Mi characters")
                    paragraphs.append(paragraph)
            title = _title(archive)
    except UnreadableFile:
        raise
    except Exception as exc:  # zipfile, zlib, bz2, lzma and expat each raise their own types
        raise UnreadableFile(f"malformed DOCX ({type(exc).__name__})") from exc
    return "\n\n".join(paragraphs), title


def _paragraphs(stream: IO[bytes]) -> Iterator[str]:
    """The non-empty paragraphs (`w:p`) of a WordprocessingML part, stripped, in order.

    A paragraph inside another (a text box) comes before the one holding it; the copy of a
    text box that Word keeps for old readers (`mc:Fallback`) is skipped.
    """
    parser: ElementTree.XMLPullParser[ElementTree.Element] = ElementTree.XMLPullParser(
        events=("start", "end")
    )
    stack: list[ElementTree.Element] = []
    open_paragraphs = fallback = 0
    for chunk in iter(lambda: stream.read(1 << 16), b""):
        parser.feed(chunk)
        for event, element in parser.read_events():  # type: ignore[misc]
            if not isinstance(element, ElementTree.Element):
                continue  # only start and end events are asked for; this narrows the type
            if event == "start":
                stack.append(element)
                open_paragraphs += element.tag == _P
                fallback += element.tag == _FALLBACK
                continue
            stack.pop()
            if element.tag == _FALLBACK:
                fallback -= 1
            elif element.tag == _P:
                open_paragraphs -= 1
                text = "" if fallback else "".join(_run_text(element)).strip()
                element.clear()  # its text is read: an enclosing paragraph must not repeat it
                if text:
                    yield text
            if not open_paragraphs and stack:
                stack[-1].remove(element)  # outside paragraphs nothing is needed twice
    parser.close()


def _run_text(paragraph: ElementTree.Element) -> Iterator[str]:
    for element in paragraph.iter():
        if element.tag == _T:
            yield element.text or ""
        elif element.tag == _BR:
            yield "" if element.get(f"{_W}type") in ("page", "column") else "\n"
        elif element.tag in _RUN_TEXT:
            yield _RUN_TEXT[element.tag]


def _part(archive: zipfile.ZipFile, relationship: str, default: str) -> str:
    """The part that the package relationship of this type points to, else `default`."""
    rels = _small_xml(archive, "_rels/.rels")
    for rel in rels.iter(_RELS) if rels is not None else ():
        if rel.get("Type", "").endswith(relationship) and rel.get("Target"):
            return rel.get("Target", default).lstrip("/")
    return default


def _title(archive: zipfile.ZipFile) -> str | None:
    core = _small_xml(archive, _part(archive, "/metadata/core-properties", "docProps/core.xml"))
    title = core.find(_DC_TITLE) if core is not None else None
    text = " ".join((title.text or "").split()) if title is not None else ""
    return text or None


def _small_xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element | None:
    """A small XML part parsed whole; None if it is missing, damaged or larger than 1 MiB."""
    info = archive.NameToInfo.get(name)
    if info is None or info.file_size > MAX_PROPERTIES_BYTES:
        return None
    try:
        return ElementTree.fromstring(archive.read(info))
    except ElementTree.ParseError:
        return None
