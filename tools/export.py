"""Spreadsheet-safe downloads: a cell that starts like a formula is written as text.

Excel, LibreOffice and Google Sheets run a CSV cell that starts with ``=`` ``+`` ``-`` ``@`` (or a
tab or carriage return) as a formula, so ``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` in an uploaded
catalog or review file would run on the computer that opens the download. Following the OWASP
CSV-injection rule, such text cells (and headers) get a leading single quote, which spreadsheets
show as text. Every CSV the app or a CLI offers for download is written by :func:`safe_csv_bytes`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text that a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_csv_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as UTF-8 CSV (with a BOM, so Excel reads accents), formula-like cells and headers quoted.

    Lines end in CRLF (RFC 4180), which also makes the writer quote a cell holding a lone ``\r``:
    with ``\n`` endings such a cell is written bare and splits its row in two.
    """
    safe = df.astype(object).map(safe_cell)
    safe.columns = [safe_cell(str(c)) for c in safe.columns]
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
