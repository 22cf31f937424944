"""Read any catalog file a shop has into LangChain Documents, with per-row errors.

Shops keep their catalog in whatever their POS or spreadsheet exports: CSV with commas or
semicolons in a Windows code page, TSV, JSON, Excel, a Markdown or text page of policies,
a PDF menu. :func:`load_file` accepts all of them and returns one Document per product row
(or per Markdown section / text section / PDF page). Problems with single rows never sink
the file: they come back as :class:`RowError` lines a shop owner can act on ("line 12: row
has 11 values but the header has 9 columns: put quotes around values that contain commas"). Problems
with the whole file raise :class:`rag.errors.CatalogFileError` with the fix in the message.

Uploads come from anyone who can reach the app, so every file is read under
:class:`rag.settings.UploadLimits` (size, rows, columns, cell size, nesting depth, sections,
pages, unzipped size of a workbook): each cap is checked before the step it protects, the work
stays linear in the file size, and a file over a cap is refused with a message that names the
cap and the fix. Text is decoded by one policy (:func:`ingest.decoding.decode_text`) and never
stored as mojibake. Nothing in a file is ever run: an Excel formula cell gives the value Excel last
calculated and saved (``data_only``), and a cell that merely looks like a formula
(``=HYPERLINK(...)``) is kept as the plain text it is.

The row -> Document contract (ids, metadata, page_content) lives in :mod:`ingest.mapping`.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import re
import stat
import sys
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any, Callable, NamedTuple

from langchain_core.documents import Document

from ingest.decoding import decode_text
from ingest.mapping import (
    NAME_FALLBACK_CHARS,
    ROLES,
    ColumnMapping,
    cell_text,
    check_overrides,
    check_portion_names,
    clean_header,
    clean_headers,
    detect_roles,
    field_keys,
    finish_document,
    parse_price,
    rename_portions,
    row_to_document,
    section_id,
    section_key,
    slugify,
    with_portion_names,
)
from rag.errors import CatalogFileError
from rag.settings import UploadLimits

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".csv", ".tsv", ".txt", ".json", ".jsonl", ".md", ".markdown", ".xlsx", ".pdf"}

#: csv.Sniffer's quote regex is quadratic on unbalanced quotes, so it sees a bounded sample.
SNIFF_MAX_CHARS = 20_000
SNIFF_MAX_LINES = 100
DELIMITERS = ",;\t|"
#: The csv module's own limit on one field (csv.field_size_limit(), process-wide: left as it is).
_CSV_FIELD_LIMIT = csv.field_size_limit()
#: Row-shaped lines inside one quoted value that mark it as an unmatched quote.
SWALLOWED_ROW_LINES = 3
TXT_SECTION_CHARS = 1_200
STRICT_ERRORS_SHOWN = 5
#: How many headers a warning lists (a file may have thousands).
HEADERS_SHOWN = 10
#: A workbook part that unzips this many times larger than it is stored is a zip bomb (real
#: sheets compress 5-20x); parts under 1 MB are not judged, their ratio means nothing.
XLSX_MAX_RATIO = 100
XLSX_RATIO_MIN_BYTES = 1024 * 1024
_MB = 1024 * 1024

_UNIT_BY_SUFFIX = {".xlsx": "row", ".json": "item", ".pdf": "page"}
_MD_HEADING = re.compile(r"^ {0,3}(#{1,3})(?:[ \t]+(.*))?$")
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
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    strict: bool = False,
    limits: UploadLimits | None = None,
) -> LoadResult:
    """Load one catalog file into Documents.

    ``mapping`` overrides column roles (``{"Artikelnr": "id"}``) and wins over a sidecar
    ``<file>.mapping.json``. With ``strict=True`` any row error refuses the whole file.
    ``limits`` are the caps the file is read under (default: :class:`UploadLimits` defaults;
    the pipeline passes ``settings.limits``). Raises CatalogFileError for problems with the whole file.
    """
    file = Path(path)
    source = str(path)
    limits = limits or UploadLimits()
    _check_file(file, source, limits)
    sidecar = file.with_name(file.name + ".mapping.json")
    sidecar_data = _sidecar_json(sidecar)  # read once: its columns and its portion names
    overrides = _overrides(source, sidecar, sidecar_data, mapping)
    result = _LOADERS[file.suffix.lower()](file, source, overrides, limits)
    result = _named_portions(result, file, sidecar, sidecar_data)
    if strict and result.errors:
        raise CatalogFileError(_strict_message(source, result.errors))
    for error in result.errors:
        logger.debug("row error: %s", error)
    logger.info(
        "loaded %s: %d documents from %d rows, %d row errors",
        source, len(result.documents), result.rows_seen, len(result.errors),
    )
    return result


def _check_file(file: Path, source: str, limits: UploadLimits) -> None:
    """Refuse paths that cannot be a catalog before reading a byte."""
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    try:
        info = file.stat()
    except FileNotFoundError:
        raise CatalogFileError(f"{source} does not exist: check the path") from None
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise CatalogFileError(f"{source} cannot be opened ({exc.strerror}): {_path_fix(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CatalogFileError(f"{source} is a directory: pass a catalog file ({supported})")
    if file.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise CatalogFileError(
            f"{source} has an unsupported file type '{file.suffix or '(none)'}': "
            f"save it as one of {supported}"
        )
    if info.st_size == 0:
        raise CatalogFileError(f"{source} is empty: add a header row and one product per line")
    if info.st_size > limits.file_bytes:
        raise CatalogFileError(
            f"{source} is {info.st_size / _MB:.1f} MB, over the {limits.file_mb} MB limit for one file: "
            "split it into smaller files"
        )


def _path_fix(exc: OSError) -> str:
    return "give the file a shorter name" if exc.errno == errno.ENAMETOOLONG else "check the path and its permissions"


def _strict_message(source: str, errors: Sequence[RowError]) -> str:
    """The refusal for strict mode: how many rows failed and the first few of them."""
    shown = "; ".join(str(error) for error in errors[:STRICT_ERRORS_SHOWN])
    more = f"; and {len(errors) - STRICT_ERRORS_SHOWN} more" if len(errors) > STRICT_ERRORS_SHOWN else ""
    return (
        f"{source} was not loaded (strict mode): {len(errors)} row(s) have problems: "
        f"{shown}{more}. Fix these rows and load the file again"
    )


# --------------------------------------------------------------------------- mapping overrides


def _overrides(source: str, sidecar: Path, data: Any, explicit: Mapping[str, str] | None) -> dict[str, str]:
    """Sidecar ``<file>.mapping.json`` columns merged with ``explicit`` (which wins per header and role)."""
    columns = _sidecar_columns(sidecar, data)
    explicit = dict(explicit or {})
    merged = {h: r for h, r in columns.items() if h not in explicit and r not in explicit.values()}
    merged.update(explicit)
    try:
        check_overrides(merged)
    except ValueError as exc:
        raise CatalogFileError(f"{source}: column mapping: {exc}") from None
    return merged


_SIDECAR_SHAPE = '{"columns": {"Header": "role"}}'


def _sidecar_json(sidecar: Path) -> Any:
    """The parsed sidecar mapping file, or None when there is none.

    A catalog whose name is near the file system's limit (255 bytes) cannot have a sidecar: the
    longer sidecar name is an error (ENAMETOOLONG) to look up, which means there is none.
    """
    try:
        present = sidecar.is_file()
    except OSError as exc:
        logger.debug("no sidecar mapping for %s (%s)", sidecar, exc.strerror)
        return None
    if not present:
        return None
    try:
        return json.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogFileError(f"{sidecar} cannot be read ({exc}): write it as {_SIDECAR_SHAPE}") from None


def _named_portions(result: LoadResult, file: Path, sidecar: Path, data: Any) -> LoadResult:
    """Apply the sidecar's ``portion_names`` (what a portion column is called in each category), if any."""
    if not isinstance(data, dict) or "portion_names" not in data or result.mapping is None:
        return result
    try:
        names = check_portion_names(data["portion_names"], result.mapping)
    except ValueError as exc:
        raise CatalogFileError(f"{sidecar}: {exc}") from None
    mapping = with_portion_names(result.mapping, names)
    levels = field_keys(result.mapping).get("category", [])
    sections = {str(d.metadata[k]): None for d in result.documents for k in levels if d.metadata.get(k)}
    known = {section_key(s) for s in sections}
    unknown = [c for c in data["portion_names"] if section_key(c) not in known]
    if unknown:
        raise CatalogFileError(f"{sidecar}: 'portion_names' names the category '{unknown[0]}', which no row of {file.name} "
                               f"has: use one of {', '.join(sections) or '(none: the file has no category column)'}")
    documents = [rename_portions(d, names, levels) for d in result.documents]
    return replace(result, documents=documents, mapping=mapping)


def _sidecar_columns(sidecar: Path, data: Any) -> dict[str, str]:
    """The ``columns`` of a parsed sidecar mapping file (``data``), or {} when there is none."""
    if data is None:
        return {}
    columns = data.get("columns") if isinstance(data, dict) else None
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise CatalogFileError(f"{sidecar} has no 'columns' object: write it as {_SIDECAR_SHAPE}")
    logger.info("using column mapping from %s", sidecar)
    return {str(k): v for k, v in columns.items()}


def _detect(source: str, headers: Sequence[str], overrides: Mapping[str, str]) -> ColumnMapping:
    """detect_roles with its ValueError turned into a CatalogFileError naming the file."""
    try:
        detected = detect_roles(headers, overrides)
    except ValueError as exc:
        raise CatalogFileError(f"{source}: column mapping: {exc}") from None
    if not {"id", "name"} & set(detected.roles.values()):
        shown = ", ".join(detected.headers[:HEADERS_SHOWN])
        more = f" and {len(detected.headers) - HEADERS_SHOWN} more" if len(detected.headers) > HEADERS_SHOWN else ""
        logger.warning(
            "%s has no id or name column (headers: %s%s): pass mapping={'<header>': 'name'}", source, shown, more
        )
    return detected


# --------------------------------------------------------------------------- text decoding


def _read_bytes(file: Path, source: str) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise CatalogFileError(f"{source} cannot be read ({exc.strerror}): check its permissions") from None


def _read_text(file: Path, source: str) -> str:
    """Decode a text file without mojibake, or raise CatalogFileError for binary/empty/mis-encoded files."""
    data = _read_bytes(file, source)
    text = decode_text(data, source)
    if not text.strip():
        raise CatalogFileError(f"{source} is empty: add a header row and one product per line")
    return text


# --------------------------------------------------------------------------- rows -> documents


def _documents_from_rows(
    source: str, mapping: ColumnMapping, rows: Iterable[_Row], limits: UploadLimits
) -> tuple[list[Document], list[RowError], int]:
    """Build Documents from rows; bad rows, oversized cells and repeated ids become RowErrors."""
    documents: list[Document] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    seen = 0
    for row in rows:
        if row.fields is not None and not any(cell_text(v) for v in row.fields.values()):
            continue
        seen += 1
        error = row.error if row.error is not None else _cell_problem(row.fields or {}, limits)
        if error is not None:
            errors.append(RowError(source, row.line, error))
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


def _cell_problem(fields: Mapping[str, Any], limits: UploadLimits) -> str | None:
    """Why one row's cells cannot be stored: a cell over the size cap."""
    for header, value in fields.items():
        if isinstance(value, str) and len(value) > limits.cell_chars:
            return (
                f"the value in column '{_short(header)}' is {len(value):,} characters long, over the limit of "
                f"{limits.cell_chars:,}: shorten it (a cell holds one product's text)"
            )
    return None


def _short(text: str, width: int = 60) -> str:
    """``text`` cut for a message (headers and titles can be long)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _duplicate_reason(source: str, mapping: ColumnMapping, document: Document, first: Mapping[str, int]) -> str:
    id_header = mapping.header_for("id")
    fix = (
        f"make ids unique in the '{id_header}' column"
        if id_header
        else "make ids unique: add an 'id' column or give each product a different name"
    )
    return f"duplicate id '{document.id}' (first seen on {_unit(source)} {first[str(document.id)]}): {fix}"


def _tabular_result(
    source: str, headers: Sequence[str], rows: Iterable[_Row], overrides: Mapping[str, str], limits: UploadLimits
) -> LoadResult:
    """Detect roles, build Documents and refuse files that have a header but no rows."""
    mapping = _detect(source, headers, overrides)
    documents, errors, seen = _documents_from_rows(source, mapping, rows, limits)
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


def _too_many_rows(source: str, limits: UploadLimits) -> CatalogFileError:
    unit = _unit(source)
    return CatalogFileError(
        f"{source} has more than {limits.rows:,} product {unit}s, the limit for one file: split it into files of "
        f"at most {limits.rows:,} {unit}s (or raise CATALOG_LIMITS__ROWS)"
    )


def _check_headers(source: str, line: int, headers: Sequence[str], limits: UploadLimits, what: str = "columns") -> None:
    """Refuse a header row that is too wide, or a column name too long to repeat in every row."""
    if len(headers) > limits.columns:
        raise CatalogFileError(
            f"{source}, {_unit(source)} {line}: the header has {len(headers):,} {what}, over the limit of "
            f"{limits.columns:,}: keep the columns the catalog needs and delete the rest"
        )
    for number, header in enumerate(headers, start=1):
        if len(header) > limits.column_name_chars:
            raise CatalogFileError(
                f"{source}, {_unit(source)} {line}: column {number}'s name is {len(header):,} characters long, over "
                f"the limit of {limits.column_name_chars:,}: shorten it (is the first row really the header?)"
            )


def _no_header_error(source: str, line: int) -> CatalogFileError:
    return CatalogFileError(
        f"{source} has no header row ({_unit(source)} {line} holds data, not column names): "
        "add a first row with column names such as name,price,category"
    )


# --------------------------------------------------------------------------- CSV / TSV


def _load_delimited(file: Path, source: str, overrides: Mapping[str, str], limits: UploadLimits) -> LoadResult:
    text = _read_text(file, source)
    delimiter = _sniff_delimiter(text, file.suffix.lower())
    records = _csv_records(text, delimiter, limits)
    header = next(records, None)
    if header is None:
        raise CatalogFileError(f"{source} is empty: add a header row and one product per line")
    if header.error is not None:
        raise CatalogFileError(f"{source}, line {header.start}: the header row is malformed: {header.error}")
    _check_headers(source, header.start, _trim(header.cells, clean_header), limits)
    if _looks_like_data(header.cells, overrides):
        raise _no_header_error(source, header.start)
    headers = clean_headers(header.cells)
    rows = (_csv_row(record, headers, delimiter) for record in _capped(records, source, limits))
    return _tabular_result(source, headers, rows, overrides, limits)


def _capped(records: Iterator[_CsvRecord], source: str, limits: UploadLimits) -> Iterator[_CsvRecord]:
    """The data records, refusing the file as soon as there are more than ``limits.rows``."""
    for count, record in enumerate(records, start=1):
        if count > limits.rows:
            raise _too_many_rows(source, limits)
        yield record


def _lines(text: str) -> Iterator[str]:
    """Physical lines with their line ends, read lazily (a list of 20 million blank lines is 1 GB)."""
    return iter(io.StringIO(text, newline=""))


def _sniff_delimiter(text: str, suffix: str) -> str:
    """csv.Sniffer's delimiter if the header line contains it, else the best header-line guess."""
    default = "\t" if suffix == ".tsv" else ","
    sample = "".join(islice(_lines(text), SNIFF_MAX_LINES))[:SNIFF_MAX_CHARS]
    header = next((line for line in _lines(text) if line.strip()), "")
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


def _csv_records(text: str, delimiter: str, limits: UploadLimits) -> Iterator[_CsvRecord]:
    """Non-blank csv records with physical line numbers; broken quoting is reported, not swallowed.

    A record that spans several lines and either has a different number of values than the
    first record (the header) or hides whole rows in one field is an unmatched quote: it is
    reported and parsing restarts on the line after the one where it began, so the rows it
    swallowed are still read. Lines are read lazily; only the lines of the record being parsed
    are kept, to be read again after such a restart.
    """
    source = _lines(text)
    again: deque[str] = deque()  # lines to read again, before the rest of the file
    taken: list[str] = []  # the lines of the record being parsed

    def feed() -> Iterator[str]:
        while again:
            line = again.popleft()
            taken.append(line)
            yield line
        for line in source:
            taken.append(line)
            yield line

    width: int | None = None
    position = 0  # physical lines before the first one this reader reads
    while True:
        reader = csv.reader(feed(), delimiter=delimiter, skipinitialspace=True, strict=True)
        restart = None
        try:
            for cells in reader:
                if not cells or not any(cell.strip() for cell in cells):  # blank: millions in some files
                    taken.clear()
                    continue
                end = position + reader.line_num
                start = end - len(taken) + 1
                width = len(cells) if width is None else width
                if end > start and _swallowed_rows(cells, width, delimiter):
                    yield _CsvRecord(start, end, cells, _unmatched_quote(start, end))
                    restart = start, taken[1:]
                    break
                taken.clear()
                yield _CsvRecord(start, end, cells)
        except csv.Error as exc:
            end = position + reader.line_num
            start = end - len(taken) + 1
            yield _CsvRecord(start, start, [], _csv_error_reason(str(exc), start, end, limits))
            restart = start, taken[1:]
        if restart is None:
            return
        position, rest = restart
        taken.clear()
        again.extendleft(reversed(rest))


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


def _csv_error_reason(message: str, start: int, end: int, limits: UploadLimits) -> str:
    if "field larger than field limit" in message:
        if end > start:
            return (
                f"a quoted value that starts on this line runs on to line {end} and past {_CSV_FIELD_LIMIT:,} "
                "characters: close its quote if it is unmatched (a cell may hold at most "
                f"{limits.cell_chars:,} characters)"
            )
        return (
            f"a value on this line is longer than {_CSV_FIELD_LIMIT:,} characters, over the limit of "
            f"{limits.cell_chars:,}: shorten it (a cell holds one product's text)"
        )
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


def _load_json(file: Path, source: str, overrides: Mapping[str, str], limits: UploadLimits) -> LoadResult:
    text = _read_text(file, source)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogFileError(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): "
            "fix it there (often a missing comma, quote or bracket)"
        ) from None
    except RecursionError:
        raise CatalogFileError(
            f"{source} nests objects or lists too deeply to read (the limit is {limits.depth} levels): "
            "flatten it: one object per product, with plain fields"
        ) from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise CatalogFileError(f"{source} cannot be read as JSON: {_json_value_problem(exc)}: fix that value") from None
    items = _json_items(data, source)
    if len(items) > limits.rows:
        raise _too_many_rows(source, limits)
    rows = [_json_row(number, item, "item", limits) for number, item in enumerate(items, start=1)]
    return _tabular_result(source, _json_headers(source, rows, limits), rows, overrides, limits)


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


def _load_jsonl(file: Path, source: str, overrides: Mapping[str, str], limits: UploadLimits) -> LoadResult:
    text = _read_text(file, source)
    rows: list[_Row] = []
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        if not line.strip():
            continue
        if len(rows) == limits.rows:
            raise _too_many_rows(source, limits)
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"not valid JSON ({exc.msg} at column {exc.colno}): fix or remove this line"
            rows.append(_Row(number, error=reason))
            continue
        except RecursionError:
            rows.append(_Row(number, error=_too_deep("line", limits)))
            continue
        except ValueError as exc:  # an integer of more than 4,300 digits
            reason = f"cannot be read as JSON: {_json_value_problem(exc)}: fix or remove this line"
            rows.append(_Row(number, error=reason))
            continue
        rows.append(_json_row(number, item, "line", limits))
    return _tabular_result(source, _json_headers(source, rows, limits), rows, overrides, limits)


#: An unpaired UTF-16 surrogate: JSON can spell one (``"\ud83d"``) but no text can store it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_row(number: int, item: Any, what: str, limits: UploadLimits) -> _Row:
    """One JSON item as a row: its fields flattened, or why it cannot be one (checked before the work)."""
    if _deeper_than(item, limits.depth):
        return _Row(number, error=_too_deep(what, limits))
    if not isinstance(item, dict):
        found = json.dumps(item, ensure_ascii=False)[:40]
        shape = '{"name": ..., "price": ...}'
        return _Row(number, error=f"{what} is not an object (found {found}): write each product as {shape}")
    fields = _flatten(item) if len(item) <= limits.columns else item
    if len(fields) > limits.columns:
        return _Row(
            number,
            error=f"{what} has {len(fields):,} fields, over the limit of {limits.columns:,} columns: "
            "keep the fields the catalog needs",
        )
    for key, value in fields.items():
        if len(key) > limits.column_name_chars:
            return _Row(
                number,
                error=f"{what} has a field name of {len(key):,} characters, over the limit of "
                f"{limits.column_name_chars:,}: shorten it",
            )
        if _SURROGATE.search(key) or (isinstance(value, str) and _SURROGATE.search(value)):
            return _Row(
                number,
                error=f"the value of '{_short(key)}' has a broken character (an unpaired UTF-16 surrogate such "
                "as \\ud83d, half of an emoji cut by the export): fix or remove it",
            )
    return _Row(number, fields=fields)


def _json_value_problem(exc: ValueError) -> str:
    """json.loads' ValueError that is not a syntax error, in shop words (Python's own names a sys function)."""
    if str(exc).startswith("Exceeds the limit"):
        return f"a number in it has more than {sys.get_int_max_str_digits():,} digits"
    return str(exc)


def _too_deep(what: str, limits: UploadLimits) -> str:
    return (
        f"{what} nests objects or lists more than {limits.depth} levels deep: flatten it "
        "(plain fields, or lists of plain values)"
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """True when objects/lists nest more than ``limit`` levels (the item itself is level 1); no recursion."""
    stack = [(value, 1)]
    while stack:
        current, level = stack.pop()
        children = current.values() if isinstance(current, dict) else current if isinstance(current, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if level + 1 > limit:
                    return True
                stack.append((child, level + 1))
    return False


def _json_headers(source: str, rows: Sequence[_Row], limits: UploadLimits) -> list[str]:
    """The union of the items' field names, refused when the items have too many different ones."""
    headers = _union_headers(rows)
    if len(headers) > limits.columns:
        raise CatalogFileError(
            f"{source} has {len(headers):,} different field names across its {_unit(source)}s, over the limit of "
            f"{limits.columns:,} columns: give every product the same fields"
        )
    return headers


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


def _load_xlsx(file: Path, source: str, overrides: Mapping[str, str], limits: UploadLimits) -> LoadResult:
    """The first sheet with data, read as a table.

    The zip is checked before openpyxl opens it (:func:`_check_workbook_zip`); the sheet is read
    in ``read_only`` mode (streamed, never held whole) and reading stops at the row cap. Cells
    give their values with ``data_only=True``: a formula cell gives the value Excel last calculated
    and saved, never the formula, and nothing is ever evaluated (a workbook that was never opened
    in Excel has no saved values: its formula cells are empty). Text that looks like a formula
    (``=HYPERLINK(...)`` typed as text) stays that plain text.
    """
    import openpyxl  # imported here: only spreadsheet users pay for it

    _check_workbook_zip(file, source, limits)
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types (zip, XML, KeyError) for broken files
        raise CatalogFileError(
            f"{source} cannot be opened as an Excel workbook ({type(exc).__name__}: {exc}): "
            "open it in Excel or LibreOffice and save it again as .xlsx"
        ) from None
    try:
        numbered = _first_sheet_rows(workbook, source, limits)
    finally:
        workbook.close()
    if not numbered:
        raise CatalogFileError(f"{source} has no data in any sheet: put a header row and products in the first sheet")
    (header_line, header_cells, header_wider), data = numbered[0], numbered[1:]
    header_texts = _trim(header_cells, cell_text)
    if header_wider:
        header_texts.append("(more)")  # only its count matters: more than the limit
    _check_headers(source, header_line, header_texts, limits)
    if _looks_like_data([cell_text(v) for v in header_cells], overrides):
        raise _no_header_error(source, header_line)
    headers = clean_headers(header_texts)
    rows = [_xlsx_row(line, cells, wider, headers, limits) for line, cells, wider in data]
    return _tabular_result(source, headers, rows, overrides, limits)


def _check_workbook_zip(file: Path, source: str, limits: UploadLimits) -> None:
    """Refuse a workbook whose parts unzip too large (a zip bomb) before anything is decompressed.

    The sizes come from the zip's directory; Python's zipfile never inflates a part past its
    stated size (a lie fails the CRC check), so they bound the work. Shared strings are held in
    memory whole by openpyxl (about 7 bytes of memory per byte of XML), so they get half the cap.
    """
    fix = "save the sheet as CSV, or split the workbook into smaller files"
    try:
        with zipfile.ZipFile(file) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CatalogFileError(
            f"{source} cannot be opened as an Excel workbook ({type(exc).__name__}: {exc}): "
            "open it in Excel or LibreOffice and save it again as .xlsx"
        ) from None
    total = sum(part.file_size for part in parts)
    if total > limits.unzipped_mb * _MB:
        raise CatalogFileError(
            f"{source} unzips to {total / _MB:,.0f} MB, over the {limits.unzipped_mb} MB limit for a workbook: {fix}"
        )
    for part in parts:
        if part.file_size >= XLSX_RATIO_MIN_BYTES and part.file_size > XLSX_MAX_RATIO * max(part.compress_size, 1):
            raise CatalogFileError(
                f"{source} looks like a zip bomb: its part {part.filename} unzips "
                f"{part.file_size / max(part.compress_size, 1):,.0f} times larger than it is stored (real workbooks: "
                f"under {XLSX_MAX_RATIO}): open it in Excel or LibreOffice and save it again, or {fix}"
            )
        if part.filename.lower().endswith("sharedstrings.xml") and part.file_size > limits.unzipped_mb * _MB // 2:
            raise CatalogFileError(
                f"{source} has {part.file_size / _MB:,.0f} MB of shared strings (the text of its cells), over the "
                f"{limits.unzipped_mb // 2} MB limit: {fix}"
            )


def _first_sheet_rows(workbook: Any, source: str, limits: UploadLimits) -> list[tuple[int, tuple[Any, ...], bool]]:
    """(row number, values, has values beyond the column cap) of the non-empty rows of the first sheet that has any.

    At most ``limits.rows`` rows below the header are read; a sheet with more is refused.
    """
    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some writers store wrong dimensions; read what is there
            rows: list[tuple[int, tuple[Any, ...], bool]] = []
            for row in _sheet_rows(sheet, limits):
                if len(rows) > limits.rows:
                    raise _too_many_rows(source, limits)
                rows.append(row)
            if rows:
                logger.debug("%s: reading sheet %r", source, sheet.title)
                return rows
    except CatalogFileError:
        raise
    except Exception as exc:  # corrupt sheet XML surfaces only while iterating
        raise CatalogFileError(
            f"{source} has a sheet that cannot be read ({type(exc).__name__}: {exc}): "
            "open it in Excel or LibreOffice and save it again as .xlsx"
        ) from None
    return []


def _sheet_rows(sheet: Any, limits: UploadLimits) -> Iterator[tuple[int, tuple[Any, ...], bool]]:
    """Non-empty rows cut to the column cap plus one, and whether values lie beyond that.

    A single cell in column XFD makes openpyxl return 16,384 values for its row: the checks here
    run at C speed (``count``/slices) so such rows cost no more than their XML.
    """
    width = limits.columns + 1
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        head, wider = values, False
        if len(values) > width:
            head = values[:width]
            wider = values[-1] is not None or values.count(None) != len(values) - width + head.count(None)
        if wider or (head and head.count(None) != len(head) and any(cell_text(v) for v in head)):
            yield number, head, wider


def _trim(values: Sequence[Any], text: Callable[[Any], str]) -> list[str]:
    """Header texts up to the last non-empty one."""
    texts = [text(v) for v in values]
    while texts and not texts[-1]:
        texts.pop()
    return texts


def _xlsx_row(line: int, cells: Sequence[Any], wider: bool, headers: Sequence[str], limits: UploadLimits) -> _Row:
    if wider:
        return _Row(
            line,
            error=f"row has values in more than {limits.columns:,} columns, but the header has {len(headers)}: "
            "delete the values right of the table",
        )
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


def _load_pdf(file: Path, source: str, overrides: Mapping[str, str], limits: UploadLimits) -> LoadResult:
    from pypdf import PdfReader  # imported here: only PDF users pay for it

    try:
        reader = PdfReader(file)
        if reader.is_encrypted and not reader.decrypt(""):
            raise CatalogFileError(f"{source} is password-protected: save a copy without a password")
        count = len(reader.pages)
    except CatalogFileError:
        raise
    except Exception as exc:  # pypdf raises several types (PdfReadError, ValueError, ...) for broken files
        raise CatalogFileError(
            f"{source} cannot be read as a PDF ({type(exc).__name__}: {exc}): export it to PDF again"
        ) from None
    if count > limits.pages:
        raise CatalogFileError(
            f"{source} has {count:,} pages, over the limit of {limits.pages:,}: split it into smaller PDFs"
        )
    stem = slugify(file.stem) or "file"
    documents: list[Document] = []
    errors: list[RowError] = []
    for number in range(1, count + 1):
        try:
            text = _page_text(reader.pages[number - 1].extract_text() or "")
        except Exception as exc:  # one broken page must not sink the others
            errors.append(RowError(source, number, f"text could not be extracted ({exc}): export the PDF again"))
            continue
        if len(text) > limits.cell_chars:
            errors.append(RowError(
                source, number,
                f"the page has {len(text):,} characters of text, over the limit of {limits.cell_chars:,}: "
                "copy its text into a .md file with a heading per part",
            ))
        elif text:
            name = f"{file.stem} p.{number}"
            documents.append(_section_document(f"{stem}#p{number}", name, text, file, number, "page"))
    if not documents and not errors:
        raise CatalogFileError(
            f"{source} has no extractable text (it may be scanned images): export it with text, "
            "run OCR on it, or copy the text into a .txt or .md file"
        )
    return LoadResult(source, documents, errors, None, count)


def _page_text(text: str) -> str:
    """Page text with trailing spaces and runs of blank lines removed."""
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------- Markdown / text


def _section_document(doc_id: str, name: str, text: str, file: Path, line: int, kind: str) -> Document:
    metadata = {"id": doc_id, "name": name, "source": file.name, "line": line, "kind": kind}
    return finish_document(text, metadata)


def _load_markdown(file: Path, source: str, overrides: Mapping[str, str], limits: UploadLimits) -> LoadResult:
    text = _read_text(file, source)
    documents: list[Document] = []
    errors: list[RowError] = []
    used: dict[str, int] = {}
    sections = _markdown_sections(text, file.stem, limits)
    if len(sections) > limits.sections:
        raise CatalogFileError(
            f"{source} has more than {limits.sections:,} sections (headings), the limit for one file: "
            "split it into smaller files"
        )
    for line, heading, body in sections:
        if body is None:
            errors.append(RowError(
                source, line,
                f"section '{_short(heading)}' is longer than {limits.cell_chars:,} characters: "
                "split it with more headings (## ...)",
            ))
            continue
        if not body:
            continue
        doc_id = _unique(section_id(file.stem, heading), used)
        documents.append(_section_document(doc_id, heading, f"{heading}\n{body}", file, line, "section"))
    if not documents and not errors:
        raise CatalogFileError(f"{source} has headings but no text under them: add the text below each heading")
    return LoadResult(source, documents, errors, None, len(sections))


class _Section:
    """A Markdown section being read, its lines kept only while it is within the cell cap.

    Blank lines wait in ``pending`` until text follows (trailing ones are stripped anyway), so
    a file of millions of blank lines keeps nothing in memory.
    """

    def __init__(self, line: int, title: str) -> None:
        self.line, self.title = line, title
        self.lines: list[str] = []
        self.pending: list[str] = []
        self.pending_size = 0
        self.size = len(title)
        self.too_long = False

    def blank(self, line: str, cap: int) -> None:
        """A line of only whitespace (with its line end): kept until text follows."""
        self.pending_size += len(line)
        if self.pending_size <= cap and not self.too_long:
            self.pending.append(line.rstrip("\n"))

    def add(self, line: str, cap: int) -> None:
        """A line with text (blank ones go to :meth:`blank`)."""
        if self.too_long:
            return
        self.size += (self.pending_size if self.lines else 0) + len(line) + 1
        if self.size > cap:
            self.too_long, self.lines, self.pending = True, [], []
            return
        if self.lines:  # leading blank lines are stripped anyway
            self.lines += self.pending
        self.pending, self.pending_size = [], 0
        self.lines.append(line)

    def body(self) -> str | None:
        """The stripped body, or None when it is over the cap."""
        return None if self.too_long else "\n".join(self.lines).strip()


def _markdown_sections(text: str, stem: str, limits: UploadLimits) -> list[tuple[int, str, str | None]]:
    """(heading line, heading, stripped body or None if too long) for every level 1-3 ATX heading outside code fences.

    Text before the first heading becomes a section named after the file. Reading stops once
    there are more than ``limits.sections`` (the caller refuses the file).
    """
    sections = [_Section(1, stem)]
    in_fence = False
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        if line.isspace():  # blank lines first: some files pad with millions of them
            sections[-1].blank(line, limits.cell_chars)
            continue
        line = line.rstrip("\n")
        if _MD_FENCE.match(line):
            in_fence = not in_fence
        title = None if in_fence else _heading(line)
        if title is not None:
            if len(sections) > limits.sections + 1:  # the file text before the first heading, then the headings
                break
            sections.append(_Section(number, title or stem))
        else:
            sections[-1].add(line, limits.cell_chars)
    found = [(section.line, section.title, section.body()) for section in sections]
    return found if found[0][2] != "" else found[1:]


def _heading(line: str) -> str | None:
    """The title of a level 1-3 ATX heading (``## Title ##`` -> ``Title``; ``#`` alone -> ""), else None.

    Trailing spaces and the closing ``#`` run are cut with str methods: the regex that did it
    backtracked quadratically on a line of many spaces.
    """
    match = _MD_HEADING.match(line)
    if match is None:
        return None
    title = (match.group(2) or "").rstrip(" \t")
    bare = title.rstrip("#")
    if bare != title and bare[-1:] in (" ", "\t"):
        title = bare
    return title.strip()


def _unique(doc_id: str, used: dict[str, int]) -> str:
    """``doc_id``, or ``doc_id-2``, ``-3``... when it was used before in this file."""
    count = used.get(doc_id, 0) + 1
    used[doc_id] = count
    return doc_id if count == 1 else f"{doc_id}-{count}"


def _load_text(file: Path, source: str, overrides: Mapping[str, str], limits: UploadLimits) -> LoadResult:
    text = _read_text(file, source)
    stem = slugify(file.stem) or "file"
    errors: list[RowError] = []
    documents: list[Document] = []
    units = _paragraph_units(text, source, limits, errors)
    for n, (line, body) in enumerate(_pack(units, TXT_SECTION_CHARS, "\n\n"), start=1):
        if n > limits.sections:
            raise CatalogFileError(
                f"{source} has more than {limits.sections:,} sections (blocks of up to {TXT_SECTION_CHARS:,} "
                "characters), the limit for one file: split it into smaller files"
            )
        name = body.split("\n", 1)[0][:NAME_FALLBACK_CHARS]
        documents.append(_section_document(f"{stem}#{n}", name, body, file, line, "section"))
    return LoadResult(source, documents, errors, None, len(documents) + len(errors))


def _paragraph_units(text: str, source: str, limits: UploadLimits, errors: list[RowError]) -> Iterator[tuple[int, str]]:
    """(first line, text) of each blank-line-separated paragraph; long ones split at line ends.

    Streamed: a paragraph's lines are packed greedily as they are read (a file of millions of
    lines with no blank line is one paragraph), so memory stays at one section. A line longer
    than the cell cap cannot be split at a line end: it becomes a RowError and is left out.
    """
    start, parts, size = 0, [], 0
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        content = line.rstrip()
        if not content:
            if parts:
                yield start, "\n".join(parts)
                parts = []
            continue
        if len(content) > limits.cell_chars:
            errors.append(RowError(
                source, number,
                f"line is {len(content):,} characters long, over the limit of {limits.cell_chars:,}: "
                "break it into lines or paragraphs",
            ))
            continue
        if parts and size + 1 + len(content) > TXT_SECTION_CHARS:
            yield start, "\n".join(parts)
            parts = []
        if parts:
            size += 1 + len(content)
        else:
            start, size = number, len(content)
        parts.append(content)
    if parts:
        yield start, "\n".join(parts)


def _pack(units: Iterable[tuple[int, str]], limit: int, separator: str) -> Iterator[tuple[int, str]]:
    """Greedily join consecutive (line, text) units while the result stays within ``limit``."""
    start, parts, size = 0, [], 0
    for line, text in units:
        if parts and size + len(separator) + len(text) > limit:
            yield start, separator.join(parts)
            parts, size = [], 0
        if not parts:
            start, size = line, len(text)
        else:
            size += len(separator) + len(text)
        parts.append(text)
    if parts:
        yield start, separator.join(parts)


_LOADERS: dict[str, Callable[[Path, str, Mapping[str, str], UploadLimits], LoadResult]] = {
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
