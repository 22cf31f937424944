"""A minimal .xlsx written part by part: for workbooks openpyxl cannot write (cached formula values, zip and
XML bombs) or would take minutes to write (millions of rows). Used by tests/test_loaders.py and bench/bench_uploads.py."""

from __future__ import annotations

import zipfile
from pathlib import Path

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def write_xlsx_parts(path: Path, sheet_rows: str | bytes, shared: str | bytes | None = None, *,
                     dimension: str = "", prolog: str = "") -> Path:
    """One sheet whose ``<sheetData>`` is ``sheet_rows`` (and a shared-strings part when ``shared`` is given).

    ``dimension`` adds a ``<dimension ref=…>`` tag; ``prolog`` goes before ``<worksheet>`` (e.g. a DOCTYPE).
    """
    def raw(text: str | bytes) -> bytes:
        return text.encode() if isinstance(text, str) else text

    sst_type = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>' if shared else ""
    sst_rel = f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>' if shared else ""
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{CT}.worksheet+xml"/>{sst_type}</Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">'
            '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
            f"{sst_rel}</Relationships>"
        ),
    }
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        archive.writestr("xl/worksheets/sheet1.xml", f'{prolog}<worksheet xmlns="{MAIN}">{dim}<sheetData>'.encode()
                         + raw(sheet_rows) + b"</sheetData></worksheet>")
        if shared:
            archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">'.encode() + raw(shared) + b"</sst>")
    return path
