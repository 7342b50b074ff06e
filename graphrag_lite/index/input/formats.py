"""Text and structure out of PDF, DOCX, PPTX and HTML files, and the sections of Markdown.

Each reader returns :class:`Extracted`: the text, where each page starts in it (PDF pages, PPTX slides),
where each section starts and its heading path ("Results > Costs"), and the file's own metadata (title,
author, date). Formats are chosen by content (:func:`sniff`), so a PDF named ``.txt`` is still read as a
PDF. The libraries (pypdf, python-docx, python-pptx, Beautiful Soup) are small, read offline and are part
of the base install; should one be missing, its files are skipped with the install command.

pypdf rather than a Markdown converter (markitdown, pdfminer) because citations need page numbers: it
extracts page by page and is measured in BENCHMARKS.md ("Reading PDF").
"""

from __future__ import annotations

import contextlib
import io
import re
import unicodedata
import zipfile
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

PAGE_BREAK = "\n\n"
HTML_BLOCKS = (
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "li",
    "pre",
    "blockquote",
    "td",
    "th",
    "dt",
    "dd",
    "figcaption",
)
HTML_DROP = ("script", "style", "noscript", "template", "svg", "head", "nav", "footer")
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_DOCX_HEADING = re.compile(r"^Heading (\d)$")


def normalize_text(text: str) -> str:
    """Unix newlines, no NUL characters, NFC: the same text always hashes to the same id."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return unicodedata.normalize("NFC", text)


class FormatError(Exception):
    """This file cannot give text: ``kind`` summarises, ``reason`` explains, ``advice`` says what to do."""

    def __init__(self, kind: str, reason: str, advice: str) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.advice = kind, reason, advice


@dataclass
class Extracted:
    text: str
    page_starts: list[int] = field(default_factory=list)  # char offset of each page (page n at n - 1)
    section_starts: list[int] = field(default_factory=list)  # char offset of each section
    section_paths: list[str] = field(default_factory=list)  # its heading path, "A > B"
    metadata: dict[str, str] = field(default_factory=dict)
    title: str | None = None


class _Builder:
    """Appends blocks of text while recording where pages and sections start."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.out = Extracted("")
        self._headings: list[tuple[int, str]] = []  # (level, heading) of the current path

    def _next_start(self) -> int:
        """Where the next block's text will start (after its separator)."""
        return self.length + (len(PAGE_BREAK) if self.parts else 0)

    def page(self) -> None:
        self.out.page_starts.append(self._next_start())

    def heading(self, level: int, text: str) -> None:
        text = " ".join(normalize_text(text).split())
        if not text:
            return
        self._headings = [(lv, h) for lv, h in self._headings if lv < level] + [(level, text)]
        self.out.section_starts.append(self._next_start())
        self.out.section_paths.append(" > ".join(h for _, h in self._headings))
        self.add(text)

    def add(self, text: str) -> None:
        text = normalize_text(text).strip()
        if not text:
            return
        if self.parts:
            self.parts.append(PAGE_BREAK)
            self.length += len(PAGE_BREAK)
        self.parts.append(text)
        self.length += len(text)

    def done(self) -> Extracted:
        self.out.text = "".join(self.parts)
        return self.out


def sniff(data: bytes) -> str | None:
    """The format the bytes are in ("pdf", "docx", "pptx", "html"), or None for plain text."""
    head = data[:1024].lstrip()
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            return None
        if "word/document.xml" in names:
            return "docx"
        if "ppt/presentation.xml" in names:
            return "pptx"
        return None
    lowered = head[:200].lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or (
        lowered.startswith(b"<") and b"<body" in data[:4096].lower()
    ):
        return "html"
    return None


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise FormatError(
            "reader missing",
            f"reading this file needs {module.split('.')[0]}, which is not installed",
            f"pip install {_PACKAGES.get(module, module)}",
        ) from exc


def read_pdf(data: bytes) -> Extracted:
    pypdf = _need("pypdf")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FormatError(
                "encrypted PDF",
                "the PDF is encrypted with a password",
                "remove the password (e.g. qpdf --decrypt in.pdf out.pdf) and add the file again",
            )
        builder = _Builder()
        for page in reader.pages:
            builder.page()
            builder.add(page.extract_text() or "")
        info = reader.metadata
        meta: dict[str, Any] = {}
        if info is not None:
            meta = {"title": info.title, "author": info.author}
            with contextlib.suppress(ValueError, TypeError):  # a malformed date string: keep the rest
                meta["date"] = info.creation_date
    except FormatError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise FormatError(
            "damaged file", f"the PDF cannot be read: {exc}", "re-export or repair the PDF, or remove it"
        ) from exc
    out = builder.done()
    if not out.text.strip():
        raise FormatError(
            "no text layer",
            f"the PDF's {len(out.page_starts)} page(s) hold no text (scanned images?)",
            "run OCR first (e.g. ocrmypdf in.pdf out.pdf) and add the result",
        )
    out.metadata = _clean_meta(meta)
    out.metadata["pages"] = str(len(out.page_starts))
    out.title = out.metadata.get("title")
    return out


def _open_office(opener: Any, data: bytes, kind: str, app: str) -> Any:
    """A DOCX / PPTX document object, or FormatError for a damaged file."""
    try:
        return opener(io.BytesIO(data))
    except Exception as exc:  # zip, XML and python-docx/pptx errors alike
        raise FormatError(
            "damaged file", f"the {kind} cannot be read: {exc}", f"re-save it from {app} or LibreOffice"
        ) from exc


def _office_meta(out: Extracted, props: Any) -> Extracted:
    """Title, author and creation date of a DOCX / PPTX (its core properties)."""
    out.metadata = _clean_meta({"title": props.title, "author": props.author, "date": props.created})
    out.title = out.metadata.get("title")
    return out


def read_docx(data: bytes) -> Extracted:
    document = _open_office(_need("docx").Document, data, "DOCX", "Word")
    builder = _Builder()
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if style == "Title":
            builder.heading(1, paragraph.text)
        elif match := _DOCX_HEADING.match(style or ""):
            builder.heading(int(match.group(1)) + 1, paragraph.text)
        else:
            builder.add(paragraph.text)
    for table in document.tables:
        for row in table.rows:
            builder.add(" | ".join(cell.text.strip() for cell in row.cells))
    return _office_meta(builder.done(), document.core_properties)


def read_pptx(data: bytes) -> Extracted:
    presentation = _open_office(_need("pptx").Presentation, data, "PPTX", "PowerPoint")
    builder = _Builder()
    for slide in presentation.slides:
        builder.page()
        title_shape = slide.shapes.title
        if title_shape is not None and title_shape.has_text_frame:
            builder.heading(1, title_shape.text_frame.text)
        for shape in slide.shapes:
            if shape is not title_shape and shape.has_text_frame:
                builder.add(shape.text_frame.text)
    out = _office_meta(builder.done(), presentation.core_properties)
    out.metadata["pages"] = str(len(out.page_starts))
    return out


def read_html(text: str) -> Extracted:
    bs4 = _need("bs4")
    soup = bs4.BeautifulSoup(text, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup.find_all(HTML_DROP):
        tag.decompose()
    builder = _Builder()
    for tag in soup.find_all(HTML_BLOCKS):
        if tag.find(HTML_BLOCKS):  # a container of other blocks: its children are read instead
            continue
        content = " ".join(tag.get_text(" ", strip=True).split())
        if tag.name in HTML_BLOCKS[:6]:
            builder.heading(int(tag.name[1]), content)
        else:
            builder.add(content)
    out = builder.done()
    if not out.text.strip():
        raise FormatError("empty", "the HTML page has no readable text", "add text or remove the file")
    out.title = title or None
    out.metadata = _clean_meta({"title": title})
    return out


def markdown_sections(text: str) -> tuple[list[int], list[str]]:
    """Where each ATX-heading section of Markdown starts, and its heading path (code fences ignored)."""
    fences = [m.start() for m in re.finditer(r"^[ \t]*(```|~~~)", text, re.MULTILINE)]
    starts: list[int] = []
    paths: list[str] = []
    stack: list[tuple[int, str]] = []
    for match in _MD_HEADING.finditer(text):
        if bisect_right(fences, match.start()) % 2:  # inside an open fence
            continue
        level, heading = len(match.group(1)), match.group(2).strip()
        stack = [(lv, h) for lv, h in stack if lv < level] + [(level, heading)]
        starts.append(match.start())
        paths.append(" > ".join(h for _, h in stack))
    return starts, paths


def _clean_meta(values: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        text = " ".join(str(value).split())
        if text:
            out[key] = text
    return out


_PACKAGES = {"pypdf": "pypdf", "docx": "python-docx", "pptx": "python-pptx", "bs4": "beautifulsoup4"}
READERS = {"pdf": read_pdf, "docx": read_docx, "pptx": read_pptx}
