"""Load labelled texts from CSV, XLSX or JSONL and check them before any training starts.

Every problem names its row as the user sees it in a spreadsheet (the header is row 1, so the
first example is row 2) or, for JSONL, its line number. Errors block training (empty texts,
missing labels, conflicting duplicates, classes with too few examples, unreadable encoding);
warnings do not (exact duplicates are dropped, imbalance, garbled characters, labels written
two ways). :func:`load_text_data` returns the cleaned :class:`TextDataset` and a
:class:`ValidationReport`; :func:`require_valid` turns a report with errors into
:class:`rag.errors.DataValidationError`.
"""

from __future__ import annotations

import io
import json
import logging
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import DataValidationError

logger = logging.getLogger(__name__)

MIN_PER_CLASS = 8  # below this a class cannot be both learned and checked on a validation split
IMBALANCE_RATIO = 10  # largest class / smallest class at or above this gets a warning
MAX_ROWS_LISTED = 12  # a message lists at most this many row numbers, then "and N more"
LONG_TEXT_CHARS = 2000
SUPPORTED = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".jsonl", ".json")

TEXT_COLUMN_NAMES = ("text", "texto", "sentence", "frase", "review", "reseña", "resena", "comment", "comentario",
                     "opinion", "opinión", "message", "mensaje", "description", "descripción", "question", "pregunta")
LABEL_COLUMN_NAMES = ("label", "etiqueta", "class", "clase", "category", "categoría", "categoria", "sentiment",
                      "sentimiento", "target", "tag", "subject", "asignatura", "polarity", "polaridad")
_MOJIBAKE = re.compile(r"Ã[\x80-\xbf¡-ÿ]|Â[\xa0-\xbf]|â€")


@dataclass(frozen=True)
class TextDataset:
    """Labelled texts ready to train on; ``rows`` are the source row (or line) numbers."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    rows: tuple[int, ...]
    source: str = ""
    text_col: str = "text"
    label_col: str = "label"

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.labels)))

    @property
    def class_counts(self) -> dict[str, int]:
        counts = Counter(self.labels)
        return {label: counts[label] for label in sorted(counts, key=lambda k: (-counts[k], k))}

    def subset(self, idx: list[int] | Any) -> TextDataset:
        idx = list(idx)
        return TextDataset(tuple(self.texts[i] for i in idx), tuple(self.labels[i] for i in idx),
                           tuple(self.rows[i] for i in idx), self.source, self.text_col, self.label_col)


@dataclass
class ValidationReport:
    """What :func:`validate` found. ``errors`` block training, ``warnings`` do not."""

    source: str
    n_rows: int  # data rows read (header excluded)
    n_used: int = 0  # rows kept for training after dropping exact duplicates
    class_counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    language: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "ok": self.ok, "rows": self.n_rows, "used": self.n_used,
                "class_counts": self.class_counts, "errors": self.errors, "warnings": self.warnings,
                "language": self.language}


def _rows_text(rows: list[int], word: str = "row") -> str:
    """'row 5', 'rows 5 and 9', 'rows 5, 9, 12 and 20 more'."""
    rows = sorted(rows)
    shown = [str(r) for r in rows[:MAX_ROWS_LISTED]]
    more = len(rows) - len(shown)
    if len(rows) == 1:
        return f"{word} {shown[0]}"
    if more:
        return f"{word}s {', '.join(shown)} and {more} more"
    return f"{word}s {', '.join(shown[:-1])} and {shown[-1]}"


def _norm_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


# --------------------------------------------------------------------------- reading


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        raise DataValidationError(
            f"{name} is not UTF-8 text: byte 0x{data[exc.start]:02x} on row {row} cannot be read. "
            "Save the file as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8; LibreOffice: Character set "
            "Unicode (UTF-8)) and try again.",
            [f"Row {row}: not UTF-8 (byte 0x{data[exc.start]:02x})."],
        ) from None


def read_table(source: str | Path | bytes, *, filename: str | None = None) -> tuple[Any, str, int]:
    """Read a CSV/TSV/XLSX/JSONL file (a path or uploaded bytes) into a DataFrame of strings.

    Returns ``(frame, name, first_row)``: ``first_row`` is the number a user sees for the first
    data row (2 for spreadsheets, whose header is row 1; 1 for JSONL lines).
    """
    import pandas as pd

    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), filename or "uploaded file"
    else:
        path = Path(source)
        name = filename or path.name
        if not path.is_file():
            raise DataValidationError(f"{path} does not exist or is not a file.")
        data = path.read_bytes()
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED:
        raise DataValidationError(f"{name}: unsupported file type {suffix or '(none)'}; use CSV, XLSX or JSONL.")
    if not data.strip():
        raise DataValidationError(f"{name} is empty.")
    if suffix in (".xlsx", ".xlsm"):
        try:
            frame = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False, engine="openpyxl")
        except (ValueError, OSError, KeyError) as exc:
            raise DataValidationError(f"{name} cannot be read as an Excel workbook ({exc}).") from None
        return frame.fillna(""), name, 2
    text = _decode(data, name)
    if suffix in (".jsonl", ".json"):
        records: list[dict[str, Any]] = []
        problems: list[str] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                problems.append(f"Line {number} is not valid JSON ({exc.msg}).")
                continue
            if not isinstance(obj, dict):
                problems.append(f"Line {number} is not a JSON object like {{\"text\": ..., \"label\": ...}}.")
                continue
            records.append({"_line": number, **{k: "" if v is None else str(v) for k, v in obj.items()}})
        if problems:
            raise DataValidationError(f"{name}: {len(problems)} line(s) cannot be read. " + " ".join(problems[:5]),
                                      problems)
        frame = pd.DataFrame.from_records(records).fillna("")
        return frame, name, 1
    sep = "\t" if suffix == ".tsv" else None
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep, engine="python",
                            skip_blank_lines=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataValidationError(f"{name} cannot be read as CSV ({exc}).") from None
    # skip_blank_lines=False keeps row numbers aligned with the file; fully blank rows are dropped later
    return frame.fillna(""), name, 2


def guess_columns(columns: list[str]) -> tuple[str | None, str | None]:
    """Best guess of (text column, label column) from the header names."""
    lowered = {str(c).strip().casefold(): c for c in columns}
    text = next((lowered[n] for n in TEXT_COLUMN_NAMES if n in lowered), None)
    label = next((lowered[n] for n in LABEL_COLUMN_NAMES if n in lowered), None)
    real = [c for c in columns if c != "_line"]
    if text is None and len(real) >= 1:
        text = real[0]
    if label is None and len(real) >= 2:
        label = next((c for c in real if c != text), None)
    return text, label


# --------------------------------------------------------------------------- validation


def detect_language(texts: list[str] | tuple[str, ...]) -> str:
    """'es', 'en' or 'mixed' from stop words and Spanish letters (good enough to pick a base model)."""
    es_words = {"el", "la", "los", "las", "de", "del", "que", "y", "en", "un", "una", "por", "con", "para", "es",
                "muy", "pero", "nos", "se", "al", "lo", "su", "más", "como", "estaba", "hay", "qué", "cómo"}
    en_words = {"the", "and", "of", "to", "a", "in", "is", "with", "for", "on", "it", "was", "this", "that",
                "i", "you", "my", "are", "be", "at", "from", "not", "very", "but", "we", "have", "can"}
    es = en = 0
    for text in texts:
        words = re.findall(r"[a-záéíóúñü]+", text.casefold())
        s = sum(w in es_words for w in words) + 2 * bool(re.search(r"[ñáéíóú¿¡]", text.casefold()))
        e = sum(w in en_words for w in words)
        if s > e:
            es += 1
        elif e > s:
            en += 1
    total = es + en
    if total == 0:
        return "mixed"
    if es / total >= 0.8:
        return "es"
    if en / total >= 0.8:
        return "en"
    return "mixed"


def validate(frame: Any, text_col: str, label_col: str, *, name: str = "data", first_row: int = 2,
             min_per_class: int = MIN_PER_CLASS,
             check_classes: bool = True) -> tuple[TextDataset, ValidationReport]:
    """Check a table of texts and labels; return the cleaned dataset and the report.

    ``check_classes=False`` (for a validation file) skips the per-class minimum and imbalance checks.
    """
    word = "line" if first_row == 1 else "row"
    Word = word.capitalize()
    columns = [c for c in frame.columns if c != "_line"]
    missing = [c for c in (text_col, label_col) if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{name} has no column {missing[0]!r}. Its columns are: {', '.join(map(str, columns)) or 'none'}. "
            "Choose the text and label columns (--text-col / --label-col)."
        )
    if text_col == label_col:
        raise DataValidationError(f"The text and the label must be different columns (both are {text_col!r}).")
    if "_line" in frame.columns:
        numbers = [int(n) for n in frame["_line"]]
    else:
        numbers = [i + first_row for i in range(len(frame))]
    report = ValidationReport(source=name, n_rows=0)
    empty_text: list[int] = []
    no_label: list[int] = []
    garbled: list[int] = []
    long_rows: list[int] = []
    kept: list[tuple[str, str, int]] = []
    for number, raw_text, raw_label in zip(numbers, frame[text_col], frame[label_col], strict=True):
        text = str(raw_text).strip()
        label = " ".join(str(raw_label).split())
        if not text and not label:
            continue  # a blank line: not a data row
        report.n_rows += 1
        if not text:
            empty_text.append(number)
        if not label:
            no_label.append(number)
        if not text or not label:
            continue
        if _MOJIBAKE.search(text) or "\ufffd" in text:
            garbled.append(number)
        if len(text) > LONG_TEXT_CHARS:
            long_rows.append(number)
        kept.append((text, label, number))
    if report.n_rows == 0:
        raise DataValidationError(f"{name} has no data rows under its header.")
    if empty_text:
        report.errors.append(f"{_rows_text(empty_text, Word)}: the text is empty. Write the text or delete the {word}.")
    if no_label:
        report.errors.append(f"{_rows_text(no_label, Word)}: the label is missing. Add the label or delete the {word}.")

    # duplicates: the same text (ignoring case and spaces) twice
    first_seen: dict[str, tuple[str, int]] = {}
    by_text: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for text, label, number in kept:
        by_text[_norm_text(text)].append((label, number))
    dupes: list[int] = []
    unique: list[tuple[str, str, int]] = []
    for text, label, number in kept:
        key = _norm_text(text)
        entries = by_text[key]
        if len({lab for lab, _ in entries}) > 1:
            continue  # reported below as a conflict
        if key in first_seen:
            dupes.append(number)
            continue
        first_seen[key] = (label, number)
        unique.append((text, label, number))
    if dupes:
        report.warnings.append(
            f"{_rows_text(dupes, Word)} repeat{'s' if len(dupes) == 1 else ''} an earlier {word} "
            "(same text and label); the copies are ignored."
        )
    for key, entries in by_text.items():
        labels_here = sorted({lab for lab, _ in entries})
        if len(labels_here) > 1:
            rows = [n for _, n in entries]
            shown = " vs ".join(repr(lab) for lab in labels_here)
            report.errors.append(
                f"{_rows_text(rows, Word)} have the same text with different labels ({shown}). "
                "Keep one label for that text."
            )

    counts = Counter(label for _, label, _ in unique)
    report.class_counts = {lab: counts[lab] for lab in sorted(counts, key=lambda k: (-counts[k], k))}
    rows_of: dict[str, list[int]] = defaultdict(list)
    for _, label, number in unique:
        rows_of[label].append(number)
    # labels written two ways ("Food" and "food ")
    by_norm: dict[str, list[str]] = defaultdict(list)
    for lab in counts:
        by_norm[lab.casefold()].append(lab)
    for variants in by_norm.values():
        if len(variants) > 1:
            parts = " and ".join(f"{v!r} ({_rows_text(rows_of[v], word)})" for v in sorted(variants))
            report.warnings.append(
                f"The labels {parts} differ only in capital letters; they count as different classes. "
                "Write them the same way if they are the same class."
            )
    if not check_classes:
        counts = Counter()  # per-class checks below do not apply to a validation file
    if check_classes and len(counts) < 2 and not report.errors:
        only = next(iter(counts), "")
        report.errors.append(
            f"Only one label ({only!r}) in {name}: a classifier needs at least two different labels, "
            f"each with at least {min_per_class} examples."
        )
    for lab in sorted(counts, key=lambda k: (counts[k], k)):
        n = counts[lab]
        if n < min_per_class:
            report.errors.append(
                f"Class {lab!r} has {n} example{'s' if n != 1 else ''} ({_rows_text(rows_of[lab], word)}); "
                f"each class needs at least {min_per_class}. Add {min_per_class - n} more or remove the class."
            )
    if len(counts) >= 2:
        big, small = max(counts, key=lambda k: (counts[k], k)), min(counts, key=lambda k: (counts[k], k))
        ratio = counts[big] / max(counts[small], 1)
        if ratio >= IMBALANCE_RATIO and counts[small] >= min_per_class:
            report.warnings.append(
                f"Classes are very unbalanced: {big!r} has {counts[big]} examples but {small!r} only "
                f"{counts[small]} ({ratio:.0f} to 1). The model will lean towards {big!r}; add examples of "
                f"{small!r} if you can."
            )
    if garbled:
        report.warnings.append(
            f"{_rows_text(garbled, Word)}: the text has garbled characters (like 'Ã©' or '�'), so the file was "
            "probably saved with the wrong encoding. Save it again as 'CSV UTF-8'."
        )
    if long_rows:
        report.warnings.append(
            f"{_rows_text(long_rows, Word)}: the text is over {LONG_TEXT_CHARS} characters; only the beginning "
            "is used by the model."
        )
    dataset = TextDataset(tuple(t for t, _, _ in unique), tuple(lab for _, lab, _ in unique),
                          tuple(n for _, _, n in unique), name, str(text_col), str(label_col))
    report.n_used = len(dataset)
    report.language = detect_language(dataset.texts) if len(dataset) else None
    return dataset, report


def load_text_data(source: str | Path | bytes, text_col: str | None = "text", label_col: str | None = "label", *,
                   filename: str | None = None,
                   min_per_class: int = MIN_PER_CLASS,
                   check_classes: bool = True) -> tuple[TextDataset, ValidationReport]:
    """Read and validate a file; ``None`` columns are guessed from the header."""
    frame, name, first_row = read_table(source, filename=filename)
    guessed_text, guessed_label = guess_columns([str(c) for c in frame.columns])
    text_col = text_col or guessed_text
    label_col = label_col or guessed_label
    if text_col is None or label_col is None:
        raise DataValidationError(f"{name} needs two columns: the text and its label.")
    return validate(frame, text_col, label_col, name=name, first_row=first_row, min_per_class=min_per_class,
                    check_classes=check_classes)


def require_valid(report: ValidationReport) -> None:
    """Raise :class:`DataValidationError` listing every error when the report has any."""
    if report.errors:
        count = len(report.errors)
        raise DataValidationError(
            f"{report.source} has {count} problem{'s' if count != 1 else ''} to fix before training: "
            + " ".join(report.errors),
            list(report.errors),
        )


def check_validation_set(train: TextDataset, val: TextDataset, val_report: ValidationReport) -> None:
    """A user's validation file may only use labels the training data has (added to ``val_report``)."""
    known = set(train.labels)
    rows_of: dict[str, list[int]] = defaultdict(list)
    for label, number in zip(val.labels, val.rows, strict=True):
        if label not in known:
            rows_of[label].append(number)
    for label, rows in sorted(rows_of.items()):
        val_report.errors.append(
            f"{_rows_text(rows, 'Row')} of the validation file: the label {label!r} is not in the training data."
        )
