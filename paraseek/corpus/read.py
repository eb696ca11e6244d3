"""Files -> Document: finding, reading and decoding .txt/.md/.html/.pdf/.docx, with title and date."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date as _date
from pathlib import Path

from ..errors import SourceNotFoundError
from .formats import UnreadableFile, docx_text, html_text, pdf_text

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Document:
    """One source file, as text.

    Attributes:
        id: stable id, 12 hex characters derived from the resolved path.
        path: resolved absolute path of the file.
        title: the document's own headline (see `headline`): `<title>`/`<h1>` (HTML) or the
            metadata title (PDF/DOCX) unless it is site chrome, else the first line of the text
            that is not a date, byline or site header, else the text's opening words.
        date: ISO date (YYYY-MM-DD) found near the top of the text, or None.
        content_hash: sha256 of `text`, hex.
        text: the extracted text; passage offsets index into it.
        author: who wrote (or gave) it, from a byline ("By ...", a lone name line under the
            title), with "(interviewer)" after a name from "Interviewed by ..."; several
            names are joined by ", ". None when the text names nobody.
    """

    id: str
    path: str
    title: str
    date: str | None
    content_hash: str
    text: str
    author: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, with a one-line reason."""

    path: str
    reason: str


# --- finding files -------------------------------------------------------------------------


def find_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Yield every supported file under `paths` (files or folders, recursively), sorted, once.

    Hidden files and folders are ignored; symbolic links to folders are not followed, so a
    link loop cannot recurse, and a file link that loops is left out (`read_documents`
    reports it).

    Raises:
        SourceNotFoundError: a path does not exist.
    """
    for item in _find(paths):
        if isinstance(item, Path):
            yield item


def find_sources(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path | Skipped]:
    """Like `find_files`, with a `Skipped` for each file or folder that cannot be indexed as
    found: a folder that cannot be listed, a dangling or looping link, a file name that is not
    UTF-8.

    Raises:
        SourceNotFoundError: a path does not exist.
    """
    return _find(paths)


def shown(path: str | os.PathLike[str]) -> str:
    """`path` fit for one line: bytes that are not UTF-8 as \\xNN, control characters escaped."""
    name = os.fspath(path)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    try:
        raw = name.encode("utf-8", "surrogateescape")  # bytes Python could not decode: back
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace").translate(_CONTROLS)


_CONTROLS = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 13: "\\r", 9: "\\t", 127: "\\x7f"}


def _find(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path | Skipped]:
    roots = [Path(p) for p in paths]
    for root in roots:
        if not root.exists():
            raise SourceNotFoundError(
                f"Path '{root}' does not exist; give a file or folder of "
                f"{', '.join(SUFFIXES)} files."
            )
    seen: set[Path] = set()
    for root in roots:
        if root.is_dir():
            candidates: Iterable[Path | Skipped] = sorted(_walk(root), key=_order)
        else:  # a file, or a pipe or device that read_document turns away with a reason
            candidates = [root]
        for path in candidates:
            if isinstance(path, Skipped):
                yield path
                continue
            try:
                resolved = path.resolve()
            except (RuntimeError, OSError):  # RuntimeError: "Symlink loop from ..."
                yield Skipped(str(path.absolute()), "symbolic link loop")
                continue
            if not _utf8(str(resolved)):
                yield Skipped(
                    shown(path.absolute()),
                    "the file name is not valid UTF-8; rename the file to index it",
                )
                continue
            if path.is_symlink() and not os.path.lexists(resolved):
                yield Skipped(
                    str(path.absolute()),
                    f"dangling symbolic link (its target '{shown(resolved)}' does not exist)",
                )
                continue
            if resolved not in seen:
                seen.add(resolved)
                yield resolved


def _walk(root: Path) -> Iterator[Path | Skipped]:
    unreadable: list[Skipped] = []

    def refused(exc: OSError) -> None:  # a folder that cannot be listed: said, never silent
        where = exc.filename if exc.filename is not None else root
        unreadable.append(
            Skipped(
                shown(Path(where).absolute()),
                f"cannot read the folder: {exc.strerror or exc}; the documents indexed from it "
                "keep their indexed version",
            )
        )

    for folder, dirs, files in os.walk(root, onerror=refused, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and name.lower().endswith(SUFFIXES):
                yield Path(folder) / name
    yield from unreadable


def _order(item: Path | Skipped) -> Path:
    return item if isinstance(item, Path) else Path(item.path)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_files(files: Iterable[str | os.PathLike[str]]) -> Iterator[Document | Skipped]:
    """Read files already found (by `find_sources`): one that vanished or cannot be read since
    comes back as a `Skipped` with its reason; nothing raises."""
    for file in files:
        try:
            yield read_document(file)
        except UnreadableFile as exc:
            yield Skipped(shown(file), " ".join(str(exc).split()))


# --- reading -------------------------------------------------------------------------------


def read_documents(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Document | Skipped]:
    """Read every supported file under `paths`; unreadable ones come back as `Skipped`."""
    for item in _find(paths):
        if isinstance(item, Skipped):
            yield item
            continue
        try:
            yield read_document(item)
        except UnreadableFile as exc:
            yield Skipped(shown(item), " ".join(str(exc).split()))  # one line, whatever the cause


def read_document(path: str | os.PathLike[str]) -> Document:
    """Read one file into a Document.

    Raises:
        UnreadableFile: the file is empty, binary, too large, malformed or of an unknown type.
    """
    try:
        path = Path(path).resolve()
        info = path.stat()
    except RuntimeError as exc:  # "Symlink loop from ..."
        raise UnreadableFile("symbolic link loop") from exc
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):  # reading a named pipe blocks, reading a device never ends
        raise UnreadableFile("not a regular file (a device, pipe or socket)")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UnreadableFile(f"unsupported file type '{suffix}' (supported: {', '.join(SUFFIXES)})")
    limit = f"the {MAX_FILE_BYTES // 2**20} MiB limit"
    if info.st_size > MAX_FILE_BYTES:
        raise UnreadableFile(f"{info.st_size / 2**20:,.0f} MiB, larger than {limit}")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # never more, even from a file that grows
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"grew past {limit} while being read")
    if not data.strip():
        raise UnreadableFile("empty file")
    if suffix in (".html", ".htm"):
        text, title = html_text(data)
    elif suffix == ".pdf":
        text, title = pdf_text(data)
    elif suffix == ".docx":
        text, title = docx_text(data)
    else:
        text, title = _decode(data), None
    text = _normalise_newlines(text)
    if not visible(text):
        raise UnreadableFile("no text found (only spaces and invisible characters)")
    return Document(
        id=hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:12],
        path=str(path),
        title=headline(title) or text_title(text) or path.stem,
        date=find_date(text),
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
        author=find_author(text),
    )


def _decode(data: bytes) -> str:
    """Text from bytes: UTF-16 with a BOM, UTF-8 (mostly valid is enough), else a guess."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableFile("invalid UTF-16 text") from exc
    if b"\x00" in data[:8192]:
        raise UnreadableFile("binary data, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # UTF-8 with a few damaged bytes (a cut, a stray byte) keeps its text, each bad byte run
    # shown as U+FFFD; a legacy code page almost never forms valid multi-byte sequences, so
    # text with more bad runs than good non-ASCII characters is something else.
    text = data.decode("utf-8-sig", errors="replace")
    replaced = text.count("\ufffd") - data.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    if non_ascii - text.count("\ufffd") > replaced:
        return text
    from charset_normalizer import from_bytes

    results = from_bytes(data)
    best = results.best()
    # Short Western text is often scored as well by Baltic or Central European code pages;
    # cp1252 (Windows Western) is by far the most common legacy encoding, so it wins ties.
    western = next((m for m in results if m.encoding == "cp1252"), None)
    if best is not None and western is not None and western.chaos <= best.chaos + 0.1:
        best = western
    if best is None:
        raise UnreadableFile("not UTF-8 and no other text encoding fits (binary data?)")
    text = str(best)
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 0.01 * min(len(text), 8192):
        raise UnreadableFile("binary data, not text")
    return text


# Characters that take no room on a page: zero-width spaces and joiners, direction marks, the
# byte order mark, the soft hyphen. A line of them alone is an empty line.
_VISIBLE = re.compile(
    "[^\\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]+"
)


def visible(text: str) -> bool:
    """Whether `text` has a character that shows: not only spaces and invisible characters."""
    return _VISIBLE.search(text) is not None


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


# --- titles and dates ----------------------------------------------------------------------

_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
_MONTH_RE = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_WEEKDAY_RE = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
DATE_RE = re.compile(
    rf"{_WEEKDAY_RE}(?:{_MONTH_RE}\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})"
    rf"|(?P<iso_y>\d{{4}})-(?P<iso_m>\d{{2}})-(?P<iso_d>\d{{2}})"
    rf"|(?P<day2>\d{{1,2}})\s+{_MONTH_RE.replace('month', 'month2')}\.?,?\s+(?P<year2>\d{{4}}))",
    re.IGNORECASE,
)
DATE_SEARCH_CHARS = 1500


def find_date(text: str) -> str | None:
    """The first date written near the top of `text` (first 1,500 characters), as YYYY-MM-DD."""
    for match in DATE_RE.finditer(text[:DATE_SEARCH_CHARS]):
        parsed = _parse_date(match)
        if parsed:
            return parsed
    return None


def _parse_date(match: re.Match[str]) -> str | None:
    g = match.groupdict()
    try:
        if g["iso_y"]:
            year, month, day = int(g["iso_y"]), int(g["iso_m"]), int(g["iso_d"])
        else:
            name = (g["month"] or g["month2"]).lower()
            month = next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name[:3]))
            year = int(g["year"] or g["year2"])
            day = int(g["day"] or g["day2"])
        return _date(year, month, day).isoformat()
    except ValueError:
        return None


def is_date_line(line: str) -> bool:
    """True when `line` is nothing but a date ("Sunday, March 3, 2024")."""
    match = DATE_RE.fullmatch(line.strip().rstrip("."))
    return bool(match and _parse_date(match))


# --- titles and bylines --------------------------------------------------------------------
#
# The rule for a title: a document's own headline, never its site's header or navigation.
# 1. A title the format gives (HTML <title>/<h1>, PDF and DOCX metadata) is used unless it is
#    site chrome; "Headline | Site Name" gives its longest part, the headline.
# 2. Else the first line of the text that is not a date, a byline or site chrome ("From
#    Revolution | Original Article": short parts joined by "|", "·" or "»"; "Skip to content").
# 3. A first line that is a whole paragraph of prose (the text has no headline) gives its
#    opening words, up to TITLE_WORDS, with any list number ("1) ") dropped.

TITLE_WORDS = 12  # opening words a headline-less document is named by
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_SEPARATORS = re.compile(r"\s+[|·»]\s+")
_CHROME = re.compile(
    r"^(?:skip to (?:main )?content|original article|home|menu|share( this)?|subscribe|"
    r"advertisement|log ?in|sign ?in|search|main navigation|toggle navigation)$",
    re.IGNORECASE,
)
_BYLINE = re.compile(
    r"^(?P<kind>by|written by|posted by|words by|interviewed by|interview by)\s+(?P<name>\S.*)$",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^(?:[^\W\d_][\w'’.-]*|[A-Z]\.)$")
_NOT_NAMES = frozenset(
    "abstract contents introduction preface foreword summary overview background conclusion "
    "conclusions notes editorial update updated comments references appendix".split()
)
_TRAILING = frozenset("a an and as at by for from in is of on or the to was were with".split())
BYLINE_WORDS = 10  # at most this many words on a byline ("By Jane Doe and John Roe")
NAME_WORDS = 4  # at most this many words on a lone name line ("Sean O'Torain.")


def plain(line: str) -> str:
    """`line` as plain text: without Markdown heading marks ("## ") and link targets
    ("[Revolution](#)" gives "Revolution")."""
    return _LINK.sub(r"\1", re.sub(r"^#+\s+", "", line.strip())).strip()


def clean_title(line: str) -> str:
    """`line` without Markdown heading marks and link targets, at most 200 characters."""
    line = re.sub(r"^#+\s*", "", line.strip())
    line = _LINK.sub(r"\1", line)
    return line[:200].strip()


def is_chrome(line: str) -> bool:
    """True for a line of site chrome: a site header or navigation ("From Revolution |
    Original Article", "Home | About | Contact", "Skip to content"), not a headline."""
    line = clean_title(line)
    parts = [p.strip() for p in _SEPARATORS.split(line) if p.strip()]
    if any(_CHROME.match(p) for p in parts):
        return True
    return len(parts) > 1 and all(len(p.split()) <= 4 for p in parts)


def headline(title: str | None) -> str | None:
    """A format's title (HTML, PDF, DOCX metadata) as a headline: None if it is empty or site
    chrome; "Headline | Site Name" gives its longest part."""
    if not title or not title.strip():
        return None
    line = clean_title(" ".join(title.split()))
    if is_chrome(line):
        return None
    parts = [p.strip() for p in _SEPARATORS.split(line) if p.strip()]
    return max(parts, key=lambda p: len(p.split())) if parts else None


def byline(line: str) -> tuple[str, str] | None:
    """(kind, name) for a byline ("By Jane Doe" gives ("by", "Jane Doe"); "Interviewed by X"
    gives ("interviewed by", "X")); None for anything else."""
    if "by" not in line.lower():  # in every kind of byline: most lines end here, cheaply
        return None
    line = " ".join(line.split())
    if "\n" in line or len(line.split()) > BYLINE_WORDS:
        return None
    match = _BYLINE.match(clean_title(line))
    if not match:
        return None
    name = re.split(r",|\s+on\s+|\s+[|·]\s+", match.group("name"))[0].strip().rstrip(".").strip()
    if not name or not name[0].isupper():
        return None
    return match.group("kind").lower(), name


def lone_name(line: str) -> str | None:
    """The name on a line that is nothing but a name ("Sean O'Torain.", "Хаз"), else None.

    Only a line near the top means an author (see `head_roles`): elsewhere a short line is a
    heading or a signature.
    """
    text = clean_title(line)
    if "\n" in line.strip() or not text or text.endswith((":", "?", "!", ",", ";")):
        return None
    name = text.rstrip(".").strip()
    words = name.split()
    if not 1 <= len(words) <= NAME_WORDS or name.lower() in _NOT_NAMES:
        return None
    if not all(_NAME_WORD.match(w) and w[0].isupper() for w in words):
        return None
    return name


def head_roles(
    paragraphs: list[str], title: str | None = None, bylines_anywhere: bool = True
) -> dict[int, str]:
    """Which of the first paragraphs (before the first prose) are document metadata: "date",
    "byline", "name" (a lone name line under the title) or "chrome" (site header), by index.

    A byline ("By ...", "Interviewed by ...") counts anywhere if `bylines_anywhere`; the
    others only in the head, the paragraphs before the first one of prose.
    """
    roles: dict[int, str] = {}
    in_head = True
    title_seen = title is None
    for i, paragraph in enumerate(paragraphs):
        if not in_head and not bylines_anywhere:
            break  # nothing after the head has a role
        one_line = "\n" not in paragraph.strip()
        if one_line and (in_head or bylines_anywhere) and byline(paragraph):
            roles[i] = "byline"
        elif in_head and one_line and is_date_line(paragraph):
            roles[i] = "date"
        elif in_head and one_line and not title_seen and is_chrome(paragraph):
            roles[i] = "chrome"
        elif in_head and not title_seen and one_line and clean_title(paragraph) == title:
            title_seen = True
        elif in_head and title_seen and one_line and lone_name(paragraph):
            roles[i] = "name"
        else:
            in_head = False
    return roles


def find_author(text: str) -> str | None:
    """The document's author from its bylines and a lone name line under its title; see
    `Document.author`."""
    from .structure import paragraph_spans

    title = text_title(text)
    paragraphs = [text[s:e] for s, e in paragraph_spans(text)]
    # The head line by line too: a PDF's lines often have no blank line between them.
    lines = [line for line in text.split("\n") if line.strip()]
    found = [(paragraphs, head_roles(paragraphs, title)),
             (lines, head_roles(lines, title, bylines_anywhere=False))]  # fmt: skip
    names: list[str] = []
    for pieces, roles in found:
        for i, role in sorted(roles.items()):
            if role == "name":
                names.append(lone_name(pieces[i]) or "")
            elif role == "byline":
                kind, name = byline(pieces[i]) or ("", "")
                names.append(f"{name} (interviewer)" if kind.startswith("interview") else name)
    names = list(dict.fromkeys(n for n in names if n))
    return ", ".join(names) if names else None


def text_title(text: str) -> str | None:
    """The text's headline (see the rule above), with Markdown marks removed; None if empty."""
    for line in text.split("\n"):
        line = line.strip()
        if not visible(line) or is_date_line(line) or byline(line) or is_chrome(line):
            continue
        title = clean_title(line)
        if len(title.split()) <= 25 and not _prose(title):
            return title
        words = re.sub(r"^(?:\d+|[a-zA-Z]|[IVXLC]+)[.)]\s+", "", title).split()
        if len(words) <= TITLE_WORDS:
            return " ".join(words)
        opening = words[:TITLE_WORDS]
        while len(opening) > 1 and opening[-1].lower() in _TRAILING:
            opening.pop()  # "... resignation is" reads better as "... resignation"
        return " ".join(opening).rstrip(",;:") + " …"
    return None


def _prose(line: str) -> bool:
    """A line of running prose rather than a headline: two sentences or more."""
    return (
        len(re.findall(r"[.!?…][\"”’')\]]*\s+[\"“‘(\[]?[A-Z]", line)) >= 1
        and len(line.split()) > 12
    )
