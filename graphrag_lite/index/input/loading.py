"""Read the input folder into :class:`Document` records, skipping (and explaining) each unusable file.

One bad file never stops a run: it becomes a :class:`SkippedFile` with a reason and advice, and the good
files still load. Only an input folder that is missing, or that yields no document at all, raises
:class:`InputError`.

Document ids are deterministic: ``ids.document_id(content_hash, key)``. The key is the id-column value when
``input.id_column`` is set; otherwise it is the path relative to the input folder (plus a duplicate counter
for identical rows of one file). So without an id column a document's id depends on its path *and* its
content: two files with the same text get two ids, and moving or renaming a file gives its document a new id.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import json
import logging
import os
import re
import stat
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphrag_lite.config.settings import Settings
from graphrag_lite.errors import ConfigError, InputError
from graphrag_lite.index.input.boilerplate import strip_gutenberg
from graphrag_lite.index.input.formats import (
    READERS,
    Extracted,
    FormatError,
    markdown_sections,
    normalize_text,
    read_html,
    sniff,
)
from graphrag_lite.store import ids
from graphrag_lite.store.records import Document

logger = logging.getLogger(__name__)

SUPPORTED_TYPES = ("txt", "md", "csv", "jsonl", "pdf", "docx", "pptx", "html", "htm")
SIDECAR_SUFFIX = ".meta.json"  # report.pdf.meta.json or report.meta.json: metadata for report.pdf
_SNIFF_BYTES = 8192
_MAX_BAD_LINES_LISTED = 20  # per JSONL file; the rest are summarised in one entry
_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DECLARED = {"utf-8"} | {name for _, name in _BOMS}  # encodings known for sure, not guessed
_MD_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$")


@dataclass
class SkippedFile:
    """An input file (or one JSONL line: path ``file.jsonl:LINE``) that was not used, and what to do."""

    path: str  # relative to the input folder, POSIX separators
    reason: str
    advice: str = ""
    kind: str = ""  # short category ("empty", "binary file", ...) used to summarise many skips


@dataclass
class LoadResult:
    """What :func:`load_documents` found. ``files_read`` counts files that gave at least one document."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    files_read: int = 0
    empty_rows: int = 0  # CSV rows / JSONL lines with an empty text, skipped quietly


class _Skip(Exception):
    """Internal: this file can't be used (becomes a SkippedFile)."""

    def __init__(self, kind: str, reason: str, advice: str = "") -> None:
        super().__init__(reason)
        self.kind, self.reason, self.advice = kind, reason, advice


@dataclass
class _Row:
    """One document before it gets its id: ``line`` orders rows of one file (0 for whole files)."""

    line: int
    text: str
    title: str
    id_value: str
    metadata: dict[str, str]
    page_starts: list[int] = field(default_factory=list)
    section_starts: list[int] = field(default_factory=list)
    section_paths: list[str] = field(default_factory=list)


# -- public entry point -----------------------------------------------------------------------------------


def load_documents(settings: Settings) -> LoadResult:
    """Load every usable document under ``settings.input_path``, sorted by source path then row."""
    root = settings.input_path
    if not root.exists():
        raise InputError(
            f"The input folder {root} does not exist. Create it and put your documents there "
            "(.txt, .md, .pdf, .docx, .pptx, .html, .csv, .jsonl), or set input.dir in settings.yaml to the "
            "folder that holds them."
        )
    if not root.is_dir():
        raise InputError(f"input.dir points to {root}, a file, not a folder. Set input.dir to a folder.")
    _check_encoding(settings.input.encoding)
    result = LoadResult()
    keyed: list[tuple[str, int, Document]] = []
    seen_files: dict[tuple[int, int], str] = {}
    for rel, path in _walk(root, result.skipped):
        rows = _load_file(path, rel, settings, result, seen_files)
        if rows:
            result.files_read += 1
        keyed.extend((rel, row.line, doc) for row, doc in zip(rows, _make_documents(rel, rows), strict=True))
    keyed.sort(key=lambda item: (item[0], item[1]))
    for skipped in result.skipped:  # names that are not UTF-8 must still print and go into stats.json
        skipped.path = printable_path(skipped.path)
    result.documents = [doc for _, _, doc in keyed]
    if not result.documents and not settings.input.allow_empty:
        raise InputError(_nothing_usable_message(root, result))
    return result


# -- walking ----------------------------------------------------------------------------------------------


def _walk(root: Path, skipped: list[SkippedFile]) -> Iterator[tuple[str, Path]]:
    """Yield (relative POSIX path, path) of every visible file, following each directory only once.

    ``os.walk`` never follows links itself (``followlinks=False``). Linked folders are walked afterwards,
    once the real tree is known, so a link into the tree or back to a parent (a loop) is reported instead of
    read twice, and a file always keeps its real path when it has one.
    """
    visited: set[tuple[int, int]] = set()
    pending: list[tuple[str, Path]] = []  # (relative link path, link) of linked folders, walked later

    def walk_tree(top: Path, prefix: str) -> Iterator[tuple[str, Path]]:
        def unreadable(error: OSError) -> None:
            where = Path(error.filename or top).relative_to(top).as_posix()
            rel = prefix.rstrip("/") if where == "." else f"{prefix}{where}"
            reason = f"folder cannot be read: {error.strerror or error}"
            advice = "make it readable (chmod +rx) or remove it"
            skipped.append(SkippedFile(rel or ".", reason, advice, "unreadable"))

        for dirpath, dirnames, filenames in os.walk(top, onerror=unreadable, followlinks=False):
            here = Path(dirpath)
            info = here.stat()
            visited.add((info.st_dev, info.st_ino))
            rel_dir = here.relative_to(top).as_posix()
            base = prefix if rel_dir == "." else f"{prefix}{rel_dir}/"
            visible = sorted(d for d in dirnames if not d.startswith("."))
            pending.extend((f"{base}{d}", here / d) for d in visible if (here / d).is_symlink())
            dirnames[:] = [
                d for d in visible if not (here / d).is_symlink() and _first_visit(here / d, base + d)
            ]
            for name in sorted(n for n in filenames if not n.startswith(".")):
                yield f"{base}{name}", here / name

    def _first_visit(folder: Path, rel: str) -> bool:
        """False (and reported) when ``folder`` was walked already: reached again through a link."""
        try:
            info = folder.stat()
        except OSError:
            skipped.append(SkippedFile(rel, "broken symbolic link", "fix or remove the link", "broken link"))
            return False
        if (info.st_dev, info.st_ino) not in visited:
            return True
        skipped.append(
            SkippedFile(
                rel,
                f"folder already read ({os.path.realpath(folder)}), reached again through a symbolic link: "
                "not followed (a link loop, or a second way to the same folder)",
                "nothing to do; remove the link if it is a loop",
                "symlink loop",
            )
        )
        return False

    yield from walk_tree(root, "")
    while pending:
        rel, link = pending.pop(0)
        if _first_visit(link, rel):
            yield from walk_tree(link, f"{rel}/")


# -- one file ---------------------------------------------------------------------------------------------


def _load_file(
    path: Path, rel: str, settings: Settings, result: LoadResult, seen: dict[tuple[int, int], str]
) -> list[_Row]:
    """The rows of one file, or [] after recording why it was skipped."""
    if rel.endswith(SIDECAR_SUFFIX):
        return []  # another file's metadata, read with that file
    try:
        _check_name(rel)
        return _read_rows(path, rel, settings, result, seen)
    except _Skip as skip:
        shown = printable_path(rel)
        result.skipped.append(SkippedFile(shown, skip.reason, skip.advice, skip.kind))
        logger.info("skipped %s: %s", shown, skip.reason)
        return []


def printable_path(rel: str) -> str:
    """``rel`` with undecodable bytes of its name (kept by Python as surrogates) shown as U+FFFD."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _check_name(rel: str) -> None:
    """A name that is not UTF-8 cannot become a document source (ids, tables and JSON need text)."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Skip(
            "bad file name",
            "file name is not valid UTF-8",
            "rename the file (or its folder) to a UTF-8 name",
        ) from exc


def _read_rows(
    path: Path, rel: str, settings: Settings, result: LoadResult, seen: dict[tuple[int, int], str]
) -> list[_Row]:
    ext = path.suffix.lower().lstrip(".")
    if ext not in settings.input.file_types:
        raise _unsupported(ext, settings)
    _check_file(path, rel, settings, seen)
    try:
        data = path.read_bytes()
    except PermissionError as exc:
        raise _Skip("unreadable", "permission denied", "make it readable (chmod +r) or remove it") from exc
    except OSError as exc:
        raise _Skip("unreadable", f"cannot be read: {exc.strerror or exc}", "fix or remove it") from exc
    kind = sniff(data)
    if kind is None and ext in ("docx", "pptx") and data.startswith(b"PK"):
        kind = ext  # a damaged Office file (a zip that does not open): its reader says what is wrong
    if kind in READERS:
        rows = [_structured_row(_extract(READERS[kind], data), path.stem, kind)]
    else:
        rows = _text_rows(data, ext, kind, path, rel, settings, result)
    sidecar = _sidecar(path)
    for row in rows:
        row.metadata.update(sidecar)
    return rows


def _text_rows(
    data: bytes, ext: str, kind: str | None, path: Path, rel: str, settings: Settings, result: LoadResult
) -> list[_Row]:
    """The rows of a text file: HTML, CSV, JSONL, Markdown or plain text."""
    text, encoding = _decode_bytes(data, settings.input.encoding)
    if not settings.input.encoding and encoding not in _DECLARED:
        logger.warning(
            "%s is not UTF-8: read as %s (a guess). If its text looks wrong, re-save it as UTF-8 or set "
            "input.encoding.",
            rel,
            encoding,
        )
    if not text.strip():
        raise _Skip("empty", "empty (no text)", "add text or remove the file")
    if kind == "html" or ext in ("html", "htm"):
        rows = [_structured_row(_extract(read_html, text), path.stem, "html")]
    elif ext == "csv":
        rows = _csv_rows(text, rel, settings, result)
    elif ext == "jsonl":
        rows = _jsonl_rows(text, rel, settings, result)
    else:
        rows = [_text_row(text, ext, path.stem, settings)]
    for row in rows:
        row.metadata["encoding"] = encoding
    return rows


def _extract(reader: Callable[[Any], Extracted], source: Any) -> Extracted:
    try:
        return reader(source)
    except FormatError as exc:
        raise _Skip(exc.kind, exc.reason, exc.advice) from exc


def _structured_row(extracted: Extracted, stem: str, kind: str) -> _Row:
    """A PDF, DOCX, PPTX or HTML file as one document with its pages and sections. Its title is the file
    name (an HTML page's <title> when it has one): file-embedded titles are often an editor's leftovers,
    so they go into the metadata instead."""
    title = (extracted.title if kind == "html" else None) or stem
    metadata = {**extracted.metadata, "format": kind}
    return _Row(
        0,
        extracted.text,
        title,
        "",
        metadata,
        extracted.page_starts,
        extracted.section_starts,
        extracted.section_paths,
    )


def _sidecar(path: Path) -> dict[str, str]:
    """Metadata from ``<file>.meta.json`` or ``<stem>.meta.json`` next to the file: a JSON object whose
    values are strings, numbers or booleans. A sidecar that is not one skips its file (its metadata may
    decide who can see it, see query filters)."""
    for candidate in (path.with_name(path.name + SIDECAR_SUFFIX), path.with_name(path.stem + SIDECAR_SUFFIX)):
        if not candidate.is_file():
            continue
        try:
            values = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Skip(
                "bad metadata",
                f"its metadata file {candidate.name} is not valid JSON: {exc}",
                "fix or remove it",
            ) from exc
        if not isinstance(values, dict) or any(
            isinstance(v, dict | list) or v is None for v in values.values()
        ):
            raise _Skip(
                "bad metadata",
                f"its metadata file {candidate.name} must be one JSON object of strings, numbers or booleans",
                'write it as {"group": "finance", "year": 2024}',
            )
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}
    return {}


def _check_file(path: Path, rel: str, settings: Settings, seen: dict[tuple[int, int], str]) -> None:
    """Raise _Skip unless ``path`` is a regular file, not read yet, within ``input.max_file_mb``."""
    try:
        info = path.stat()
    except OSError as exc:  # a broken link, a link loop, or a file removed while walking
        if exc.errno == errno.ELOOP:
            raise _Skip(
                "symlink loop",
                "symbolic link loop (the link leads back to itself): not followed",
                "remove the link, or point it at a real file",
            ) from exc
        if path.is_symlink():
            raise _Skip("broken link", "broken symbolic link", "fix or remove the link") from exc
        raise _Skip("unreadable", f"cannot be read: {exc.strerror or exc}", "fix or remove it") from exc
    if not stat.S_ISREG(info.st_mode):
        raise _Skip("not a file", "not a regular file (device, socket or pipe)", "remove it from the folder")
    if (info.st_dev, info.st_ino) in seen:
        raise _Skip(
            "duplicate",
            f"same file as {seen[(info.st_dev, info.st_ino)]} (a link); read once",
            "nothing to do, or remove the link",
        )
    seen[(info.st_dev, info.st_ino)] = rel
    limit = int(settings.input.max_file_mb * 1024 * 1024)
    if info.st_size > limit:
        raise _Skip(
            "too large",
            f"file is {info.st_size / 1024 / 1024:.3g} MB, over input.max_file_mb = "
            f"{settings.input.max_file_mb:g}",
            "raise input.max_file_mb in settings.yaml, or split the file",
        )


def _text_row(text: str, ext: str, stem: str, settings: Settings) -> _Row:
    """A .txt / .md file as one document: normalised, without publisher boilerplate, titled."""
    clean = normalize_text(text)
    metadata: dict[str, str] = {}
    if settings.input.strip_boilerplate:
        clean, stripped = strip_gutenberg(clean)
        if stripped:
            metadata["boilerplate_removed"] = "project_gutenberg"
    if not clean.strip():
        raise _Skip("empty", "empty (no text)", "add text or remove the file")
    title = (_markdown_title(clean) if ext == "md" else None) or stem
    starts, paths = markdown_sections(clean) if ext == "md" else ([], [])
    return _Row(0, clean, title, "", metadata, section_starts=starts, section_paths=paths)


def _unsupported(ext: str, settings: Settings) -> _Skip:
    shown = f".{ext}" if ext else "(no extension)"
    if ext in SUPPORTED_TYPES:
        advice = f"add '{ext}' to input.file_types to read it"
    else:
        advice = f"convert it to one of {', '.join('.' + t for t in SUPPORTED_TYPES)}, or remove it"
    return _Skip(
        "file type not read",
        f"file type {shown} is not read (input.file_types: {', '.join(settings.input.file_types)})",
        advice,
    )


def _make_documents(rel: str, rows: list[_Row]) -> list[Document]:
    """Give each row its deterministic id (see the module docstring for what the id depends on)."""
    docs: list[Document] = []
    occurrences: Counter[str] = Counter()
    for row in rows:
        sha = ids.content_hash(row.text)
        if row.id_value:
            key = row.id_value
        else:
            dup = occurrences[sha]
            key = rel if dup == 0 else f"{rel}#{dup}"
        occurrences[sha] += 1
        source = rel if row.line == 0 else f"{rel}:{row.line}"
        docs.append(
            Document(
                ids.document_id(sha, key),
                row.title,
                source,
                row.text,
                sha,
                row.metadata,
                page_starts=row.page_starts,
                section_starts=row.section_starts,
                section_paths=row.section_paths,
            )
        )
    return docs


# -- decoding ---------------------------------------------------------------------------------------------


def _check_encoding(name: str | None) -> None:
    if not name:
        return
    try:
        codecs.lookup(name)
    except LookupError as exc:
        raise ConfigError(
            f"input.encoding = {name!r} is not an encoding Python knows. Use a name such as "
            "utf-8, cp1252 or latin-1, or remove the setting to detect it per file."
        ) from exc


def _decode_bytes(data: bytes, forced: str | None = None) -> tuple[str, str]:
    """Decode file bytes; return (text, encoding name). Raises _Skip for binary or undecodable data.

    Order: a forced encoding; a BOM (UTF-8/16/32); strict UTF-8; then charset_normalizer's best guess, ties
    broken toward cp1252 (its top pick for short Western text is often a Baltic or Central European page).
    """
    if forced:
        if b"\x00" in data[:_SNIFF_BYTES] and not codecs.lookup(forced).name.startswith(("utf-16", "utf-32")):
            raise _binary("NUL bytes")
        try:
            return data.decode(forced).removeprefix("\ufeff"), forced
        except UnicodeDecodeError as exc:
            raise _Skip(
                "decode error",
                f"cannot be decoded as {forced} (input.encoding): {exc.reason} at byte {exc.start}",
                "fix input.encoding, or remove it to detect the encoding per file",
            ) from exc
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name).removeprefix("\ufeff"), name
            except UnicodeDecodeError as exc:
                raise _Skip(
                    "decode error",
                    f"has a {name} byte-order mark but is not valid {name}",
                    "re-save it as UTF-8",
                ) from exc
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise _binary("NUL bytes and no UTF-16 byte-order mark")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _guess_legacy(data)


def _guess_legacy(data: bytes) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    matches = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    if matches:
        best_chaos = min(m.chaos for m in matches)
        near = [m for m in matches if m.chaos <= best_chaos + 0.01]
        pick = next((m for m in near if m.encoding == "cp1252"), near[0])
        text = str(pick)
        if _looks_like_text(text):
            return text, pick.encoding
    raise _binary("not UTF-8 and no plausible text encoding")


def _binary(why: str) -> _Skip:
    return _Skip("binary file", f"binary file ({why})", "remove it, or re-save it as UTF-8 text")


def _looks_like_text(text: str) -> bool:
    sample = text[:_SNIFF_BYTES]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v")
    return controls <= 0.02 * max(len(sample), 1)


def _markdown_title(text: str) -> str | None:
    """The first level-1 ATX heading outside code fences, if any."""
    in_fence = False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if not in_fence and (match := _MD_HEADING.match(line)):
            return match.group(1).strip()
    return None


# -- tabular formats --------------------------------------------------------------------------------------


def _find_column(names: list[str], wanted: str | None) -> str | None:
    """The column called ``wanted``: exact match first, else a unique case-insensitive one."""
    if not wanted:
        return None
    if wanted in names:
        return wanted
    folded = [n for n in names if n.strip().casefold() == wanted.strip().casefold()]
    return folded[0] if len(folded) == 1 else None


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _record_row(
    record: dict[str, object],
    line: int,
    stem: str,
    columns: tuple[str, str | None, str | None],
) -> _Row | None:
    """One CSV row / JSONL object as a document row; None when its text is empty."""
    text_col, title_col, id_col = columns
    text = normalize_text(_cell(record.get(text_col)))
    if not text.strip():
        return None
    title = " ".join(normalize_text(_cell(record.get(title_col))).split()) if title_col else ""
    id_value = _cell(record.get(id_col)).strip() if id_col else ""
    metadata = {
        str(k): normalize_text(_cell(v))
        for k, v in record.items()
        if k is not None and k not in (text_col, title_col)
    }
    return _Row(line, text, title or f"{stem} (line {line})", id_value, metadata)


def _missing_column(kind: str, setting: str, wanted: str, names: list[str]) -> _Skip:
    shown = ", ".join(repr(n) for n in names[:30]) or "none"
    return _Skip(
        "missing column",
        f"no {kind} {wanted!r} (it has: {shown})",
        f"set input.{setting} in settings.yaml to the {kind} that holds the "
        + ("text" if setting == "text_column" else "document id"),
    )


def _csv_rows(text: str, rel: str, settings: Settings, result: LoadResult) -> list[_Row]:
    text = text.replace("\x00", "")
    header_line = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=lambda d: (header_line.count(d), d == ","))
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration as exc:
        raise _Skip("empty", "empty (no header row)", "add a header row and rows, or remove it") from exc
    except csv.Error as exc:
        raise _Skip("bad csv", f"not valid CSV: {exc}", "fix the file") from exc
    cfg = settings.input
    text_col = _find_column(header, cfg.text_column)
    if text_col is None:
        raise _missing_column("column", "text_column", cfg.text_column, header)
    id_col = _find_column(header, cfg.id_column)
    if cfg.id_column and id_col is None:
        raise _missing_column("column", "id_column", cfg.id_column, header)
    columns = (text_col, _find_column(header, cfg.title_column), id_col)
    stem = Path(rel).stem
    rows: list[_Row] = []
    empty = 0
    line = reader.line_num + 1
    try:
        for values in reader:
            record: dict[str, object] = dict(zip(header, values, strict=False))
            if (row := _record_row(record, line, stem, columns)) is not None:
                rows.append(row)
            elif any(v.strip() for v in values):
                empty += 1
            line = reader.line_num + 1
    except csv.Error as exc:
        raise _Skip("bad csv", f"not valid CSV near line {reader.line_num}: {exc}", "fix the file") from exc
    if not rows:
        raise _Skip("empty", f"no row has text in column {text_col!r}", "add text or remove the file")
    result.empty_rows += empty
    return rows


def _jsonl_rows(text: str, rel: str, settings: Settings, result: LoadResult) -> list[_Row]:
    cfg = settings.input
    stem = Path(rel).stem
    rows: list[_Row] = []
    empty = 0
    bad: list[int] = []
    keys_seen: Counter[str] = Counter()
    objects = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip().removeprefix("\ufeff")
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problem = f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})"
        else:
            problem = "" if isinstance(record, dict) else f"line {number} is JSON but not an object ({{...}})"
        if problem:
            bad.append(number)
            if len(bad) <= _MAX_BAD_LINES_LISTED:
                advice = "fix or remove that line (one JSON object per line); the rest of the file was read"
                result.skipped.append(SkippedFile(f"{rel}:{number}", problem, advice, "bad json line"))
            continue
        objects += 1
        keys_seen.update(str(k) for k in record)
        names = list(record)
        columns = (
            _find_column(names, cfg.text_column) or cfg.text_column,
            _find_column(names, cfg.title_column),
            _find_column(names, cfg.id_column),
        )
        if (row := _record_row(record, number, stem, columns)) is not None:
            rows.append(row)
        else:
            empty += 1
    if len(bad) > _MAX_BAD_LINES_LISTED:
        result.skipped.append(
            SkippedFile(
                f"{rel}:{bad[_MAX_BAD_LINES_LISTED]}",
                f"{len(bad) - _MAX_BAD_LINES_LISTED} more lines are not JSON objects (not listed one by one)",
                "check that the file has one JSON object per line",
                "bad json line",
            )
        )
    if objects and not any(_find_column([k], cfg.text_column) for k in keys_seen):
        raise _missing_column("key", "text_column", cfg.text_column, [k for k, _ in keys_seen.most_common()])
    if not rows and not bad:
        raise _Skip("empty", f"no line has text under key {cfg.text_column!r}", "add text or remove the file")
    result.empty_rows += empty
    return rows


# -- messages ---------------------------------------------------------------------------------------------


def _nothing_usable_message(root: Path, result: LoadResult) -> str:
    if not result.skipped:
        return (
            f"The input folder {root} has no files. Put documents there (.txt, .md, .pdf, .docx, .pptx, "
            ".html, .csv, .jsonl; "
            "subfolders are read too), or set input.dir to the folder that holds them. To remove every "
            "document from an existing index on purpose, run `graphrag-lite update --allow-empty`."
        )
    kinds = Counter(s.kind or s.reason for s in result.skipped)
    top = "; ".join(f"{kind} ({n})" for kind, n in kinds.most_common(5))
    example = result.skipped[0]
    lines = kinds["bad json line"]
    files = len(result.skipped) - lines
    counted = f"{files} file{'s' * (files != 1)}" + (
        f" and {lines} JSONL line{'s' * (lines != 1)}" if lines else ""
    )
    return (
        f"No usable document in {root}: {counted} skipped. Top reasons: {top}. "
        f"For example {example.path}: {example.reason} - {example.advice or 'fix or remove it'}. "
        "Fix those files, or check input.file_types / input.text_column in settings.yaml."
    )
