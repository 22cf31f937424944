"""Bulk review files: read CSV/XLSX, pick the columns, classify, summarise, export.

The shell (CLI or page) reads the file with :func:`read_reviews`, lets the user pick the text
column (and an optional product/dish column) with :func:`guess_columns` as the default, then
calls :func:`analyze_frame`, which skips empty cells (reported by their row in the file) and
returns a :class:`BulkResult`. :func:`summary`, :func:`by_group`, :func:`by_aspect`,
:func:`most_negative` and :func:`to_csv_bytes` turn it into what a manager reads.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from rag.errors import ToolInputError
from tools.export import safe_csv_bytes
from tools.sentiment.model import ASPECTS, LABELS, SentimentAnalyzer

logger = logging.getLogger(__name__)

MAX_ROWS = 50_000
TEXT_HINTS = ("review", "reseña", "resena", "comment", "comentario", "opinion", "opinión", "text", "texto", "feedback")
GROUP_HINTS = ("dish", "plato", "product", "producto", "item", "artículo", "articulo", "menu", "menú", "sku")
SYMBOL = {"positive": "+", "negative": "−", "neutral": "="}


@dataclass
class BulkResult:
    """The labelled rows (original columns + sentiment columns) and the rows skipped as empty."""

    frame: pd.DataFrame
    text_column: str
    by: str | None
    skipped_rows: list[int] = field(default_factory=list)  # row numbers in the file (header = row 1)
    source: str = ""

    @property
    def skipped_message(self) -> str | None:
        if not self.skipped_rows:
            return None
        rows = ", ".join(str(r) for r in self.skipped_rows[:20]) + (" …" if len(self.skipped_rows) > 20 else "")
        n = len(self.skipped_rows)
        return f"{self.source}: skipped {n} row{'s' if n != 1 else ''} with an empty '{self.text_column}' cell: {rows}."


def read_reviews(source: str | Path | BinaryIO, name: str | None = None) -> pd.DataFrame:
    """A CSV (any common delimiter/encoding) or XLSX file as a DataFrame of strings.

    ``source`` is a path or a binary file object (an upload); ``name`` is what errors call it.
    """
    name = name or (Path(source).name if isinstance(source, (str, Path)) else getattr(source, "name", "the file"))
    try:
        data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source.read()
    except FileNotFoundError:
        raise ToolInputError(f"{name}: file not found.") from None
    except OSError as exc:
        raise ToolInputError(f"{name}: cannot read the file ({exc.strerror or exc}).") from None
    if not data.strip():
        raise ToolInputError(f"{name}: the file is empty.")
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm") or data[:4] == b"PK\x03\x04":
        df = _read_xlsx(data, name)
    elif suffix in ("", ".csv", ".txt", ".tsv"):
        df = _read_csv(data, name)
    else:
        raise ToolInputError(f"{name}: unsupported file type '{suffix}'; upload a .csv or .xlsx file.")
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise ToolInputError(f"{name}: the file has a header but no rows.")
    if len(df) > MAX_ROWS:
        raise ToolInputError(f"{name}: {len(df):,} rows is more than the {MAX_ROWS:,} this tool handles at once; split the file.")
    return df


def _read_csv(data: bytes, name: str) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError) as exc:
        raise ToolInputError(f"{name}: not a readable CSV file ({str(exc).splitlines()[0]}).") from None


def _read_xlsx(data: bytes, name: str) -> pd.DataFrame:
    try:
        df = pd.read_excel(io.BytesIO(data), dtype=str, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many unrelated types for a bad file
        raise ToolInputError(f"{name}: not a readable Excel .xlsx file ({type(exc).__name__}).") from None
    return df.fillna("")


def guess_columns(df: pd.DataFrame) -> tuple[str, str | None]:
    """The likely review-text column and product/dish column (None if no column looks like one)."""
    cols = list(df.columns)
    lower = {c: c.lower() for c in cols}
    text = next((c for h in TEXT_HINTS for c in cols if h in lower[c]), None)
    if text is None:  # the column with the longest texts
        lengths = {c: df[c].astype(str).str.len().mean() for c in cols}
        text = max(cols, key=lambda c: lengths[c])
    group = next((c for h in GROUP_HINTS for c in cols if h in lower[c] and c != text), None)
    return text, group


def _check_column(df: pd.DataFrame, column: str, name: str, what: str) -> None:
    if column not in df.columns:
        raise ToolInputError(f"{name}: no {what} column '{column}'. Columns: {', '.join(map(str, df.columns))}.")


def analyze_frame(
    df: pd.DataFrame,
    analyzer: SentimentAnalyzer,
    text_column: str,
    by: str | None = None,
    *,
    name: str = "the file",
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> BulkResult:
    """Classify every non-empty ``text_column`` cell; the result keeps the file's columns.

    Added columns: ``sentiment``, ``confidence``, ``negative_score`` (probability of negative, for
    sorting), ``aspects`` ("food +, service −") and one ``aspect_<name>`` column per aspect.
    """
    _check_column(df, text_column, name, "text")
    if by:
        _check_column(df, by, name, "product/dish")
    texts = df[text_column].astype(str).str.strip()
    empty = texts.eq("") | df[text_column].isna()
    skipped = [int(i) + 2 for i in df.index[empty]]  # the header is row 1
    keep = df.loc[~empty].copy()
    if keep.empty:
        raise ToolInputError(f"{name}: every cell of the '{text_column}' column is empty; pick the column with the reviews.")
    results = analyzer.analyze(texts[~empty].tolist(), batch_size=batch_size, progress=progress)
    keep["sentiment"] = [r.label for r in results]
    keep["confidence"] = [round(r.score, 4) for r in results]
    keep["negative_score"] = [round(r.scores.get("negative", 1.0 if r.label == "negative" else 0.0), 4) for r in results]
    keep["aspects"] = [aspect_text(r.aspects) for r in results]
    for aspect in ASPECTS:
        keep[f"aspect_{aspect}"] = [r.aspects.get(aspect, "") for r in results]
    keep.insert(0, "row", [int(i) + 2 for i in keep.index])
    result = BulkResult(keep.reset_index(drop=True), text_column, by, skipped, name)
    if skipped:
        logger.info("%s", result.skipped_message)
    return result


def aspect_text(aspects: dict[str, str]) -> str:
    """{"food": "positive", "service": "negative"} -> "food +, service −"."""
    return ", ".join(f"{a} {SYMBOL.get(p, p)}" for a, p in aspects.items())


def summary(result: BulkResult) -> dict[str, Any]:
    """Counts per label, per product/dish and per aspect, for the CLI and the page."""
    df = result.frame
    out: dict[str, Any] = {
        "rows": len(df),
        "skipped_rows": list(result.skipped_rows),
        "labels": {lab: int((df["sentiment"] == lab).sum()) for lab in (*reversed(LABELS),)},
        "aspects": {a: counts for a, counts in _aspect_counts(df).items() if sum(counts.values())},
    }
    if result.by:
        out["by"] = {
            str(g): {"n": len(part), **{lab: int((part["sentiment"] == lab).sum()) for lab in reversed(LABELS)}}
            for g, part in df.groupby(result.by, sort=True)
        }
    return out


def _aspect_counts(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    return {a: {lab: int((df[f"aspect_{a}"] == lab).sum()) for lab in reversed(LABELS)} for a in ASPECTS}


def distribution(result: BulkResult) -> pd.DataFrame:
    """Long table (sentiment, count) in positive/neutral/negative order, for a bar chart."""
    counts = summary(result)["labels"]
    return pd.DataFrame({"sentiment": list(counts), "count": list(counts.values())})


def by_group(result: BulkResult) -> pd.DataFrame:
    """Long table (group, sentiment, count, share) per product/dish, most negative share first."""
    if not result.by:
        return pd.DataFrame(columns=["group", "sentiment", "count", "share"])
    df = result.frame
    table = df.groupby([result.by, "sentiment"]).size().rename("count").reset_index()
    table = table.rename(columns={result.by: "group"})
    totals = table.groupby("group")["count"].transform("sum")
    table["share"] = (table["count"] / totals).round(4)
    neg = table[table["sentiment"] == "negative"].set_index("group")["share"]
    order = sorted(table["group"].unique(), key=lambda g: (-float(neg.get(g, 0.0)), str(g)))
    table["group"] = pd.Categorical(table["group"], categories=order, ordered=True)
    return table.sort_values(["group", "sentiment"]).reset_index(drop=True).astype({"group": str})


def by_aspect(result: BulkResult) -> pd.DataFrame:
    """Long table (aspect, sentiment, count) for the aspects found at least once."""
    rows = [
        {"aspect": a, "sentiment": lab, "count": n}
        for a, counts in _aspect_counts(result.frame).items()
        if sum(counts.values())
        for lab, n in counts.items()
        if n
    ]
    return pd.DataFrame(rows, columns=["aspect", "sentiment", "count"])


def most_negative(result: BulkResult, n: int = 10) -> pd.DataFrame:
    """The ``n`` comments labelled negative with the highest negative probability."""
    df = result.frame
    neg = df[df["sentiment"] == "negative"].sort_values("negative_score", ascending=False, kind="stable")
    cols = ["row", *([result.by] if result.by else []), result.text_column, "confidence", "aspects"]
    return neg[cols].head(n).reset_index(drop=True)


def filter_rows(
    result: BulkResult, sentiment: str | None = None, group: str | None = None, aspect: str | None = None
) -> pd.DataFrame:
    """The labelled rows behind one bar: by sentiment, and optionally one product/dish or aspect."""
    df = result.frame
    mask = pd.Series(True, index=df.index)
    if aspect:
        mask &= df[f"aspect_{aspect}"] == sentiment if sentiment else df[f"aspect_{aspect}"] != ""
    elif sentiment:
        mask &= df["sentiment"] == sentiment
    if group is not None and result.by:
        mask &= df[result.by].astype(str) == str(group)
    return df[mask]


def to_csv_bytes(result: BulkResult) -> bytes:
    """The labelled file as UTF-8 CSV, formula-like cells guarded (:func:`tools.export.safe_csv_bytes`)."""
    return safe_csv_bytes(result.frame.drop(columns=["negative_score"]))
