"""Read any catalog file a shop has into LangChain Documents, with per-row errors.

Shops keep their catalog in whatever their POS or spreadsheet exports: CSV with commas or
semicolons in a Windows code page, TSV, JSON, Excel, a Markdown or text page of policies,
a PDF menu. :func:`load_file` accepts all of them and returns one Document per product row
(or per Markdown section / text section / PDF page). Problems with single rows never sink
the file: they come back as :class:`RowError` lines a shop owner can act on ("line 12: row
has 11 values but the header has 9 columns: put quotes around values that contain commas"). Problems
with the whole file raise :class:`rag.errors.CatalogFileError` with the fix in the message.

The row -> Document contract (ids, metadata, page_content) lives in :mod:`ingest.mapping`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Callable, NamedTuple

from charset_normalizer import from_bytes
from langchain_core.documents import Document

from ingest.mapping import (
    NAME_FALLBACK_CHARS,
    ROLES,
    ColumnMapping,
    cell_text,
    check_overrides,
    clean_header,
    clean_headers,
    detect_roles,
    finish_document,
    parse_price,
    row_to_document,
    section_id,
    slugify,
)
from rag.errors import CatalogFileError

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".csv", ".tsv", ".txt", ".json", ".jsonl", ".md", ".markdown", ".xlsx", ".pdf"}

MAX_FILE_BYTES = 200 * 1024 * 1024
#: csv.Sniffer's quote regex is quadratic on unbalanced quotes, so it sees a bounded sample.
SNIFF_MAX_CHARS = 20_000
SNIFF_MAX_LINES = 100
DELIMITERS = ",;\t|"
#: Row-shaped lines inside one quoted value that mark it as an unmatched quote.
SWALLOWED_ROW_LINES = 3
TXT_SECTION_CHARS = 1_200
STRICT_ERRORS_SHOWN = 5
#: Share of control/unassigned characters above which decoded text is treated as binary.
BINARY_CHAR_RATIO = 0.01

_UNIT_BY_SUFFIX = {".xlsx": "row", ".json": "item", ".pdf": "page"}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_MD_HEADING = re.compile(r"^ {0,3}(#{1,3})(?:[ \t]+(.*?))?[ \t]*$")
_MD_FENCE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass(frozen=True)
class RowError:
    """One row (line, spreadsheet row, JSON item or PDF page) that could not be loaded."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}, {_unit(self.source)} {self.line}: {self.reason}"


@dataclass
class LoadResult:
    """Everything :func:`load_file` learned about one file."""

    source: str
    documents: list[Document]
    errors: list[RowError]
    mapping: ColumnMapping | None
    rows_seen: int


class _Row(NamedTuple):
    """One data row on its way to a Document: its fields, or why it was refused."""

    line: int
    fields: dict[str, Any] | None = None
    error: str | None = None


class _CsvRecord(NamedTuple):
    """One csv record with the physical lines it spans (1-based, inclusive)."""

    start: int
    end: int
    cells: list[str]
    error: str | None = None


def _unit(source: str) -> str:
    """What a RowError's number counts in this kind of file."""
    return _UNIT_BY_SUFFIX.get(Path(source).suffix.lower(), "line")


# --------------------------------------------------------------------------- entry point


def load_file(
    path: str | Path, *, mapping: dict[str, str] | None = None, strict: bool = False
) -> LoadResult:
    """Load one catalog file into Documents.

    ``mapping`` overrides column roles (``{"Artikelnr": "id"}``) and wins over a sidecar
    ``<file>.mapping.json``. With ``strict=True`` any row error refuses the whole file.
    Raises CatalogFileError for problems with the whole file.
    """
    file = Path(path)
    source = str(path)
    _check_file(file, source)
    overrides = _overrides(file, source, mapping)
    result = _LOADERS[file.suffix.lower()](file, source, overrides)
    if strict and result.errors:
        raise CatalogFileError(_strict_message(source, result.errors))
    for error in result.errors:
        logger.debug("row error: %s", error)
    logger.info(
        "loaded %s: %d documents from %d rows, %d row errors",
        source, len(result.documents), result.rows_seen, len(result.errors),
    )
    return result


def _check_file(file: Path, source: str) -> None:
    """Refuse paths that cannot be a catalog before reading a byte."""
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    if not file.exists():
        raise CatalogFileError(f"{source} does not exist: check the path")
    if file.is_dir():
        raise CatalogFileError(f"{source} is a directory: pass a catalog file ({supported})")
    if file.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise CatalogFileError(
            f"{source} has an unsupported file type '{file.suffix or '(none)'}': "
            f"save it as one of {supported}"
        )
    size = file.stat().st_size
    if size == 0:
        raise CatalogFileError(f"{source} is empty: add a header row and one product per line")
    if size > MAX_FILE_BYTES:
        raise CatalogFileError(
            f"{source} is {size / 1024**2:.0f} MB, over the {MAX_FILE_BYTES // 1024**2} MB limit: "
            "split it into smaller files"
        )


def _strict_message(source: str, errors: Sequence[RowError]) -> str:
    """The refusal for strict mode: how many rows failed and the first few of them."""
    shown = "; ".join(str(error) for error in errors[:STRICT_ERRORS_SHOWN])
    more = f"; and {len(errors) - STRICT_ERRORS_SHOWN} more" if len(errors) > STRICT_ERRORS_SHOWN else ""
    return (
        f"{source} was not loaded (strict mode): {len(errors)} row(s) have problems: "
        f"{shown}{more}. Fix these rows and load the file again"
    )


# --------------------------------------------------------------------------- mapping overrides


def _overrides(file: Path, source: str, explicit: Mapping[str, str] | None) -> dict[str, str]:
    """Sidecar ``<file>.mapping.json`` columns merged with ``explicit`` (which wins per header and role)."""
    sidecar = _read_sidecar(file.with_name(file.name + ".mapping.json"))
    explicit = dict(explicit or {})
    merged = {h: r for h, r in sidecar.items() if h not in explicit and r not in explicit.values()}
    merged.update(explicit)
    try:
        check_overrides(merged)
    except ValueError as exc:
        raise CatalogFileError(f"{source}: column mapping: {exc}") from None
    return merged


def _read_sidecar(sidecar: Path) -> dict[str, str]:
    """The ``columns`` of a sidecar mapping file, or {} when there is none."""
    if not sidecar.is_file():
        return {}
    shape = '{"columns": {"Header": "role"}}'
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogFileError(f"{sidecar} cannot be read ({exc}): write it as {shape}") from None
    columns = data.get("columns") if isinstance(data, dict) else None
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise CatalogFileError(f"{sidecar} has no 'columns' object: write it as {shape}")
    logger.info("using column mapping from %s", sidecar)
    return {str(k): v for k, v in columns.items()}


def _detect(source: str, headers: Sequence[str], overrides: Mapping[str, str]) -> ColumnMapping:
    """detect_roles with its ValueError turned into a CatalogFileError naming the file."""
    try:
        detected = detect_roles(headers, overrides)
    except ValueError as exc:
        raise CatalogFileError(f"{source}: column mapping: {exc}") from None
    if not {"id", "name"} & set(detected.roles.values()):
        logger.warning(
            "%s has no id or name column (headers: %s): pass mapping={'<header>': 'name'}",
            source, ", ".join(detected.headers),
        )
    return detected


# --------------------------------------------------------------------------- text decoding


def _read_bytes(file: Path, source: str) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise CatalogFileError(f"{source} cannot be read ({exc.strerror}): check its permissions") from None


def _read_text(file: Path, source: str) -> str:
    """Decode a text file without mojibake, or raise CatalogFileError for binary/empty files."""
    data = _read_bytes(file, source)
    text = _decode(data)
    if text is None or _looks_binary(text):
        raise CatalogFileError(_binary_message(source, data))
    if not text.strip():
        raise CatalogFileError(f"{source} is empty: add a header row and one product per line")
    return text


def _decode(data: bytes) -> str | None:
    """BOM first, then strict UTF-8, then charset_normalizer's guess among cp1252/latin-1/UTF-16."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict_decode(data, encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Text in cp1252/latin-1 has no NUL bytes; UTF-16 text of a catalog always has some.
    candidates = ["utf_16_le", "utf_16_be"] if b"\x00" in data else ["cp1252", "latin_1"]
    best = from_bytes(data[: 1024 * 1024], cp_isolation=candidates).best()
    if best is None:
        return None
    encodings = ["cp1252", "latin_1"] if best.encoding == "latin_1" else [best.encoding]
    return next((text for enc in encodings if (text := _strict_decode(data, enc)) is not None), None)


def _strict_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _looks_binary(text: str) -> bool:
    """True when the decoded text has NULs or more than a trace of control/unassigned characters."""
    if "\x00" in text:
        return True
    sample = text[:100_000]
    odd = sum(
        1 for ch in sample
        if ch not in "\t\n\r\f\v" and unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn")
    )
    return odd > len(sample) * BINARY_CHAR_RATIO


def _binary_message(source: str, data: bytes) -> str:
    """Why a file could not be read as text, with a hint when it is a renamed Excel/PDF file."""
    if data.startswith(b"PK\x03\x04"):
        hint = "it looks like an Excel (.xlsx) or zip file: save it with the .xlsx extension"
    elif data.startswith(b"%PDF"):
        hint = "it looks like a PDF: save it with the .pdf extension"
    else:
        hint = "save it as 'CSV UTF-8' (or plain text) from your spreadsheet or editor"
    return f"{source} is not readable text (binary data or an unknown encoding): {hint}"


# --------------------------------------------------------------------------- rows -> documents


def _documents_from_rows(
    source: str, mapping: ColumnMapping, rows: Iterable[_Row]
) -> tuple[list[Document], list[RowError], int]:
    """Build Documents from rows; bad rows and repeated ids become RowErrors."""
    documents: list[Document] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    seen = 0
    for row in rows:
        if row.fields is not None and not any(cell_text(v) for v in row.fields.values()):
            continue
        seen += 1
        if row.error is not None:
            errors.append(RowError(source, row.line, row.error))
            continue
        try:
            document = row_to_document(row.fields or {}, mapping=mapping, source=source, line=row.line)
        except ValueError as exc:
            errors.append(RowError(source, row.line, str(exc)))
            continue
        if document.id in first_line:
            errors.append(RowError(source, row.line, _duplicate_reason(source, mapping, document, first_line)))
            continue
        first_line[str(document.id)] = row.line
        documents.append(document)
    return documents, errors, seen


def _duplicate_reason(source: str, mapping: ColumnMapping, document: Document, first: Mapping[str, int]) -> str:
    id_header = mapping.header_for("id")
    fix = (
        f"make ids unique in the '{id_header}' column"
        if id_header
        else "make ids unique: add an 'id' column or give each product a different name"
    )
    return f"duplicate id '{document.id}' (first seen on {_unit(source)} {first[str(document.id)]}): {fix}"


def _tabular_result(
    source: str, headers: Sequence[str], rows: Iterable[_Row], overrides: Mapping[str, str]
) -> LoadResult:
    """Detect roles, build Documents and refuse files that have a header but no rows."""
    mapping = _detect(source, headers, overrides)
    documents, errors, seen = _documents_from_rows(source, mapping, rows)
    if seen == 0:
        raise CatalogFileError(
            f"{source} has column names but no product rows: add one product per "
            f"{_unit(source)} below the header"
        )
    return LoadResult(source, documents, errors, mapping, seen)


def _looks_like_data(cells: Sequence[str], overrides: Mapping[str, str]) -> bool:
    """True when a would-be header row is all numbers (a file that starts with data)."""
    texts = [clean_header(cell) for cell in cells if clean_header(cell)]
    if overrides or not texts:
        return False
    return all(_is_number(text) for text in texts)


def _is_number(text: str) -> bool:
    try:
        parse_price(text)
    except ValueError:
        return False
    return True


def _no_header_error(source: str, line: int) -> CatalogFileError:
    return CatalogFileError(
        f"{source} has no header row ({_unit(source)} {line} holds data, not column names): "
        "add a first row with column names such as name,price,category"
    )


# --------------------------------------------------------------------------- CSV / TSV


def _load_delimited(file: Path, source: str, overrides: Mapping[str, str]) -> LoadResult:
    text = _read_text(file, source)
    lines = list(io.StringIO(text, newline=""))
    delimiter = _sniff_delimiter(lines, file.suffix.lower())
    records = _csv_records(lines, delimiter)
    header = next(records, None)
    if header is None:
        raise CatalogFileError(f"{source} is empty: add a header row and one product per line")
    if header.error is not None:
        raise CatalogFileError(f"{source}, line {header.start}: the header row is malformed: {header.error}")
    if _looks_like_data(header.cells, overrides):
        raise _no_header_error(source, header.start)
    headers = clean_headers(header.cells)
    rows = (_csv_row(record, headers, delimiter) for record in records)
    return _tabular_result(source, headers, rows, overrides)


def _sniff_delimiter(lines: Sequence[str], suffix: str) -> str:
    """csv.Sniffer's delimiter if the header line contains it, else the best header-line guess."""
    default = "\t" if suffix == ".tsv" else ","
    sample = "".join(islice(lines, SNIFF_MAX_LINES))[:SNIFF_MAX_CHARS]
    header = next((line for line in lines if line.strip()), "")
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed and sniffed in header:
        return sniffed
    if default in header:
        return default
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else default


def _csv_records(lines: Sequence[str], delimiter: str) -> Iterator[_CsvRecord]:
    """Non-blank csv records with physical line numbers; broken quoting is reported, not swallowed.

    A record that spans several lines and either has a different number of values than the
    first record (the header) or hides whole rows in one field is an unmatched quote: it is
    reported and parsing restarts on the line after the one where it began, so the rows it
    swallowed are still read.
    """
    width: int | None = None
    position = 0
    while position < len(lines):
        reader = csv.reader(islice(lines, position, None), delimiter=delimiter, skipinitialspace=True, strict=True)
        consumed, restart = 0, None
        try:
            for cells in reader:
                start, end = position + consumed + 1, position + reader.line_num
                consumed = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                width = len(cells) if width is None else width
                if end > start and _swallowed_rows(cells, width, delimiter):
                    yield _CsvRecord(start, end, cells, _unmatched_quote(start, end))
                    restart = start
                    break
                yield _CsvRecord(start, end, cells)
        except csv.Error as exc:
            start = position + consumed + 1
            yield _CsvRecord(start, start, [], _csv_error_reason(str(exc), start, position + reader.line_num))
            restart = start
        if restart is None:
            return
        position = restart


def _swallowed_rows(cells: Sequence[str], width: int, delimiter: str) -> bool:
    """A multi-line record looks like an unmatched quote that ate the rows after it.

    Either its value count differs from the header's, or one value holds at least
    ``SWALLOWED_ROW_LINES`` lines that each have exactly the delimiters of a full row.
    """
    if len(cells) != width:
        return True
    if width < 3:
        return False
    rowlike = [
        line for cell in cells if "\n" in cell
        for line in cell.splitlines()[1:] if line.count(delimiter) == width - 1
    ]
    return len(rowlike) >= SWALLOWED_ROW_LINES


def _unmatched_quote(start: int, end: int) -> str:
    return (
        f"unmatched quote: the value opened with \" on this line runs on to line {end}: "
        "close the quote, or remove it (the lines after this one were still read)"
    )


def _csv_error_reason(message: str, start: int, end: int) -> str:
    if "end of data" in message or end > start:
        return (
            f"unmatched quote (the value opened with \" is never closed, csv says: {message}): "
            "close the quote or remove it"
        )
    return (
        f"stray quote ({message}): put the whole value in quotes and double any quote inside it, "
        'e.g. "12"" pizza"'
    )


def _csv_row(record: _CsvRecord, headers: Sequence[str], delimiter: str) -> _Row:
    """Pair a record's cells with the headers, or explain why the count is wrong."""
    if record.error is not None:
        return _Row(record.start, error=record.error)
    cells = record.cells
    extra = cells[len(headers):]
    if len(cells) < len(headers) or any(cell.strip() for cell in extra):
        return _Row(record.start, error=_count_reason(len(cells), len(headers), delimiter))
    return _Row(record.start, fields=dict(zip(headers, cells)))


def _count_reason(values: int, columns: int, delimiter: str) -> str:
    shown = {"\t": "tabs", ",": "commas"}.get(delimiter, f"'{delimiter}'")
    if values > columns:
        fix = f"put quotes around values that contain {shown}"
    else:
        fix = "add the missing values (leave a cell empty rather than leaving it out)"
    return f"row has {values} values but the header has {columns} columns: {fix}"


# --------------------------------------------------------------------------- JSON / JSONL


def _load_json(file: Path, source: str, overrides: Mapping[str, str]) -> LoadResult:
    text = _read_text(file, source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogFileError(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): "
            "fix it there (often a missing comma, quote or bracket)"
        ) from None
    items = _json_items(data, source)
    rows = [_json_row(number, item, "item") for number, item in enumerate(items, start=1)]
    return _tabular_result(source, _union_headers(rows), rows, overrides)


def _json_items(data: Any, source: str) -> list[Any]:
    """A top-level array, or the items of every array of objects in a top-level object."""
    if isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        items = [
            item for value in data.values()
            if isinstance(value, list) and any(isinstance(v, dict) for v in value)
            for item in value
        ]
    else:
        items = []
    if not items:
        raise CatalogFileError(
            f"{source} has no list of products: write an array of objects "
            '([{"name": ..., "price": ...}, ...]) or {"products": [...]}'
        )
    return items


def _load_jsonl(file: Path, source: str, overrides: Mapping[str, str]) -> LoadResult:
    text = _read_text(file, source)
    rows: list[_Row] = []
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"not valid JSON ({exc.msg} at column {exc.colno}): fix or remove this line"
            rows.append(_Row(number, error=reason))
            continue
        rows.append(_json_row(number, item, "line"))
    return _tabular_result(source, _union_headers(rows), rows, overrides)


def _json_row(number: int, item: Any, what: str) -> _Row:
    if not isinstance(item, dict):
        found = json.dumps(item, ensure_ascii=False)[:40]
        shape = '{"name": ..., "price": ...}'
        return _Row(number, error=f"{what} is not an object (found {found}): write each product as {shape}")
    return _Row(number, fields=_flatten(item))


def _flatten(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects become ``parent.child`` keys; lists of scalars become ``"a, b"``."""
    flat: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}.{clean_header(key)}" if prefix else clean_header(key) or "field"
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        elif isinstance(value, list):
            flat[name] = _join(value)
        else:
            flat[name] = value
    return flat


def _join(values: list[Any]) -> str:
    if all(not isinstance(v, (dict, list)) for v in values):
        return ", ".join(text for v in values if (text := cell_text(v)))
    return json.dumps(values, ensure_ascii=False)


def _union_headers(rows: Iterable[_Row]) -> list[str]:
    """All field names in first-seen order."""
    headers: dict[str, None] = {}
    for row in rows:
        headers.update(dict.fromkeys(row.fields or {}))
    return list(headers)


# --------------------------------------------------------------------------- XLSX


def _load_xlsx(file: Path, source: str, overrides: Mapping[str, str]) -> LoadResult:
    import openpyxl  # imported here: only spreadsheet users pay for it

    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types (zip, XML, KeyError) for broken files
        raise CatalogFileError(
            f"{source} cannot be opened as an Excel workbook ({type(exc).__name__}: {exc}): "
            "open it in Excel or LibreOffice and save it again as .xlsx"
        ) from None
    try:
        numbered = _first_sheet_rows(workbook, source)
    finally:
        workbook.close()
    if not numbered:
        raise CatalogFileError(f"{source} has no data in any sheet: put a header row and products in the first sheet")
    (header_line, header_cells), data = numbered[0], numbered[1:]
    if _looks_like_data([cell_text(v) for v in header_cells], overrides):
        raise _no_header_error(source, header_line)
    headers = clean_headers(_trim(header_cells, cell_text))
    rows = [_xlsx_row(line, cells, headers) for line, cells in data]
    return _tabular_result(source, headers, rows, overrides)


def _first_sheet_rows(workbook: Any, source: str) -> list[tuple[int, tuple[Any, ...]]]:
    """(row number, values) of the non-empty rows of the first sheet that has any."""
    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some writers store wrong dimensions; read what is there
            rows = [
                (number, tuple(values))
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
                if any(cell_text(v) for v in values)
            ]
            if rows:
                logger.debug("%s: reading sheet %r", source, sheet.title)
                return rows
    except Exception as exc:  # corrupt sheet XML surfaces only while iterating
        raise CatalogFileError(
            f"{source} has a sheet that cannot be read ({type(exc).__name__}: {exc}): "
            "open it in Excel or LibreOffice and save it again as .xlsx"
        ) from None
    return []


def _trim(values: Sequence[Any], text: Callable[[Any], str]) -> list[str]:
    """Header texts up to the last non-empty one."""
    texts = [text(v) for v in values]
    while texts and not texts[-1]:
        texts.pop()
    return texts


def _xlsx_row(line: int, cells: Sequence[Any], headers: Sequence[str]) -> _Row:
    extra = [v for v in cells[len(headers):] if cell_text(v)]
    if extra:
        last = max(i for i, v in enumerate(cells, start=1) if cell_text(v))
        return _Row(
            line,
            error=f"row has {last} values but the header has {len(headers)} columns: "
            "add a column name above the extra values or delete them",
        )
    padded = list(cells) + [None] * (len(headers) - len(cells))
    return _Row(line, fields=dict(zip(headers, padded)))


# --------------------------------------------------------------------------- PDF


def _load_pdf(file: Path, source: str, overrides: Mapping[str, str]) -> LoadResult:
    from pypdf import PdfReader  # imported here: only PDF users pay for it

    try:
        reader = PdfReader(file)
        if reader.is_encrypted and not reader.decrypt(""):
            raise CatalogFileError(f"{source} is password-protected: save a copy without a password")
        pages = list(reader.pages)
    except CatalogFileError:
        raise
    except Exception as exc:  # pypdf raises several types (PdfReadError, ValueError, ...) for broken files
        raise CatalogFileError(
            f"{source} cannot be read as a PDF ({type(exc).__name__}: {exc}): export it to PDF again"
        ) from None
    stem = slugify(file.stem) or "file"
    documents: list[Document] = []
    errors: list[RowError] = []
    for number, page in enumerate(pages, start=1):
        try:
            text = _page_text(page.extract_text() or "")
        except Exception as exc:  # one broken page must not sink the others
            errors.append(RowError(source, number, f"text could not be extracted ({exc}): export the PDF again"))
            continue
        if text:
            name = f"{file.stem} p.{number}"
            documents.append(_section_document(f"{stem}#p{number}", name, text, file, number, "page"))
    if not documents:
        raise CatalogFileError(
            f"{source} has no extractable text (it may be scanned images): export it with text, "
            "run OCR on it, or copy the text into a .txt or .md file"
        )
    return LoadResult(source, documents, errors, None, len(pages))


def _page_text(text: str) -> str:
    """Page text with trailing spaces and runs of blank lines removed."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------- Markdown / text


def _section_document(doc_id: str, name: str, text: str, file: Path, line: int, kind: str) -> Document:
    metadata = {"id": doc_id, "name": name, "source": file.name, "line": line, "kind": kind}
    return finish_document(text, metadata)


def _load_markdown(file: Path, source: str, overrides: Mapping[str, str]) -> LoadResult:
    text = _read_text(file, source)
    documents: list[Document] = []
    used: dict[str, int] = {}
    sections = _markdown_sections(text, file.stem)
    for line, heading, body in sections:
        if not body:
            continue
        doc_id = _unique(section_id(file.stem, heading), used)
        documents.append(_section_document(doc_id, heading, f"{heading}\n{body}", file, line, "section"))
    if not documents:
        raise CatalogFileError(f"{source} has headings but no text under them: add the text below each heading")
    return LoadResult(source, documents, [], None, len(sections))


def _markdown_sections(text: str, stem: str) -> list[tuple[int, str, str]]:
    """(heading line, heading, stripped body) for every level 1-3 ATX heading outside code fences.

    Text before the first heading becomes a section named after the file.
    """
    sections: list[tuple[int, str, list[str]]] = [(1, stem, [])]
    in_fence = False
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        line = line.rstrip("\n")
        if _MD_FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _MD_HEADING.match(line)
        if heading:
            title = re.sub(r"[ \t]+#+$", "", heading.group(2) or "").strip() or stem
            sections.append((number, title, []))
        else:
            sections[-1][2].append(line)
    found = [(line, title, "\n".join(body).strip()) for line, title, body in sections]
    return found if found[0][2] else found[1:]


def _unique(doc_id: str, used: dict[str, int]) -> str:
    """``doc_id``, or ``doc_id-2``, ``-3``... when it was used before in this file."""
    count = used.get(doc_id, 0) + 1
    used[doc_id] = count
    return doc_id if count == 1 else f"{doc_id}-{count}"


def _load_text(file: Path, source: str, overrides: Mapping[str, str]) -> LoadResult:
    text = _read_text(file, source)
    stem = slugify(file.stem) or "file"
    sections = _pack(_paragraph_units(text), TXT_SECTION_CHARS, "\n\n")
    documents = [
        _section_document(f"{stem}#{n}", body.split("\n", 1)[0][:NAME_FALLBACK_CHARS], body, file, line, "section")
        for n, (line, body) in enumerate(sections, start=1)
    ]
    return LoadResult(source, documents, [], None, len(sections))


def _paragraph_units(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each blank-line-separated paragraph; long ones split at line ends."""
    paragraphs: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        if line.strip():
            paragraphs[-1].append((number, line.rstrip()))
        elif paragraphs[-1]:
            paragraphs.append([])
    units: list[tuple[int, str]] = []
    for lines in filter(None, paragraphs):
        whole = "\n".join(content for _, content in lines)
        units += [(lines[0][0], whole)] if len(whole) <= TXT_SECTION_CHARS else _pack(lines, TXT_SECTION_CHARS, "\n")
    return units


def _pack(units: Sequence[tuple[int, str]], limit: int, separator: str) -> list[tuple[int, str]]:
    """Greedily join consecutive (line, text) units while the result stays within ``limit``."""
    packed: list[tuple[int, str]] = []
    start, parts = 0, []
    for line, text in units:
        if parts and len(separator.join([*parts, text])) > limit:
            packed.append((start, separator.join(parts)))
            parts = []
        if not parts:
            start = line
        parts.append(text)
    if parts:
        packed.append((start, separator.join(parts)))
    return packed


_LOADERS: dict[str, Callable[[Path, str, Mapping[str, str]], LoadResult]] = {
    ".csv": _load_delimited,
    ".tsv": _load_delimited,
    ".txt": _load_text,
    ".json": _load_json,
    ".jsonl": _load_jsonl,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".xlsx": _load_xlsx,
    ".pdf": _load_pdf,
}

__all__ = ["SUPPORTED_SUFFIXES", "ROLES", "LoadResult", "RowError", "load_file"]
