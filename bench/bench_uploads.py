"""Malformed, huge and hostile uploads through the loaders: time, peak memory and outcome of each.

    .venv/bin/python bench/bench_uploads.py               # the whole corpus (1-3 minutes on 2 cores)
    .venv/bin/python bench/bench_uploads.py --only xlsx   # the cases whose name contains "xlsx"
    .venv/bin/python bench/bench_uploads.py --keep DIR    # write the corpus to DIR and keep it

Issue #11 found uploads that ran for minutes or took gigabytes: a 10 MB single cell in JSON, JSONL
or Markdown, a CSV or JSON with 200,000 columns, a 2 MB one-line text file, an XLSX that expands
to millions of rows, a shared-strings bomb, 20 MB of blank lines. This script writes those and
more (deep nesting, stray quotes everywhere, foreign encodings, reserved column names, a long file
name, a 600-page PDF...) into a temp dir, then loads each with ``ingest.loaders.load_file`` and
the default ``UploadLimits``, one subprocess per file, and prints per file: size, wall time, the
child's peak RSS (``os.wait4``), the outcome (accepted: documents, row errors and good rows kept;
rejected: the message) and the most characters the embedder would read for one of its documents
(``rag.store.embedding_text``: the embedding cost of accepting it). The first row is the baseline
of the same run: a normal, valid 10 MB CSV, and a subprocess that only imports the loaders.

Target (issue #11): no file under 10 MB takes more than 30 s or 1 GB to accept or reject; no case
ends in a raw exception. A miss prints MISS and the exit code is 1. Timings are never asserted in
tests; they live here. Results go to bench/results/uploads.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.xlsx_parts import write_xlsx_parts  # noqa: E402  (one minimal-workbook writer for tests and bench)

MB = 1024 * 1024
TARGET_SECONDS = 30.0
TARGET_MB = 1024.0
CHILD_TIMEOUT = 180.0
IMPORT_ONLY = ":import-only"
#: Bytes per row of :func:`catalog_rows` as CSV (measured), to size the baseline.
ROW_BYTES = 257


@dataclass
class Case:
    """One file of the corpus: how to write it and what must happen to it."""

    name: str
    file: str
    write: Callable[[Path], None]
    expect: str  # "accept" or "reject"
    good: int = 0  # good rows written into it that must be kept (when accepted)


# --------------------------------------------------------------------------- file writers


def text(build: Callable[[], str], encoding: str = "utf-8") -> Callable[[Path], None]:
    return lambda path: path.write_bytes(build().encode(encoding))


def raw(build: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(build())


def catalog_rows(n: int, seed: int = 1) -> list[list[str]]:
    """Realistic product rows (~330 characters each), deterministic for a seed."""
    rng = random.Random(seed)
    words = ["fresh", "organic", "crispy", "handmade", "classic", "spicy", "smoked", "creamy", "local", "premium"]
    things = ["bread", "cheese", "coffee", "tea", "olive oil", "pasta", "jam", "honey", "chorizo", "wine"]
    rows = []
    for i in range(n):
        name = f"{rng.choice(words).title()} {rng.choice(things)} {i}"
        description = " ".join(rng.choice(words + things) for _ in range(30))
        rows.append([f"SKU-{i:06d}", name, rng.choice(things).title(), f"{rng.uniform(1, 90):.2f}",
                     str(rng.randint(0, 99)), rng.choice(["Acme", "Casa Pepe", "La Huerta"]), description])
    return rows


CSV_HEADER = ("sku", "name", "category", "price", "stock", "brand", "description")


def csv_text(rows: list[list[str]], header=CSV_HEADER) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def baseline_csv(size: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        rows = catalog_rows(size // ROW_BYTES)
        path.write_text(csv_text(rows), encoding="utf-8")
    return write


def xlsx(sheet_rows: Callable[[], bytes], shared: Callable[[], bytes] | None = None, dimension: str = "",
         prolog: str = ""):
    """A workbook written part by part (openpyxl would take minutes to write the big ones), built when written."""
    def write(path: Path) -> None:
        write_xlsx_parts(path, sheet_rows(), shared() if shared else None, dimension=dimension, prolog=prolog)
    return write


def inline(row: int, column: str, value: str) -> bytes:
    return f'<c r="{column}{row}" t="inlineStr"><is><t>{value}</t></is></c>'.encode()


def header_row() -> bytes:
    return b'<row r="1">' + inline(1, "A", "sku") + inline(1, "B", "name") + inline(1, "C", "price") + b"</row>"


def millions_of_rows() -> bytes:
    """1,400,000 one-cell rows: the sheet XML is ~60 MB, the file a few MB (no <dimension>: openpyxl scans it all)."""
    body = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(2, 1_400_002))
    return header_row() + body


def far_right_rows() -> bytes:
    """60,000 rows with a value in column XFD: openpyxl returns 16,384 values for each."""
    return header_row() + b"".join(
        b'<row r="%d">' % i + inline(i, "A", f"S{i}") + inline(i, "B", f"Item {i}")
        + b'<c r="XFD%d"><v>1</v></c></row>' % i
        for i in range(2, 60_002)
    )


def pdf(pages: list[str]) -> Callable[[Path], None]:
    """A minimal valid PDF, one page per string."""
    def write(path: Path) -> None:
        count = len(pages)
        kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
        objects = {1: "<< /Type /Catalog /Pages 2 0 R >>", 2: f"<< /Type /Pages /Kids [{kids}] /Count {count} >>",
                   3: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
        for i, page in enumerate(pages):
            stream = f"BT /F1 12 Tf 72 720 Td ({page}) Tj ET"
            objects[4 + 2 * i] = ("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                                  f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>")
            objects[5 + 2 * i] = f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream"
        out = bytearray(b"%PDF-1.4\n")
        offsets = []
        for number in sorted(objects):
            offsets.append(len(out))
            out += f"{number} 0 obj\n{objects[number]}\nendobj\n".encode("latin-1")
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
        out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
        out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
        path.write_bytes(bytes(out))
    return write


def good_and(bad_rows: list[str], n_good: int = 20, header: str = "sku,name,price,notes") -> str:
    good = [f"G-{i},Good {i},{i + 1}.50,fine" for i in range(n_good)]
    return header + "\n" + "\n".join(good[: n_good // 2] + bad_rows + good[n_good // 2:]) + "\n"


def jsonl_good_and(bad: list[str], n_good: int = 20) -> str:
    good = [json.dumps({"sku": f"G-{i}", "name": f"Good {i}", "price": i + 1.5}) for i in range(n_good)]
    return "\n".join(good[: n_good // 2] + bad + good[n_good // 2:]) + "\n"


TEN = 10 * MB
#: Nested XML entities that expand to 10^9 characters ("billion laughs").
LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol0 "lololololol">'
          + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)) + "]>")


def corpus() -> list[Case]:
    """Every case, each file built only when it is written: the issue's offenders first."""
    def western() -> str:
        rows = catalog_rows(TEN // 300)
        return csv_text([[r[0], r[1] + " jamón", r[2], r[3], r[4], "Casa Peña", r[6] + " año único"] for r in rows])

    def deep_items() -> str:
        good = [{"sku": f"G-{i}", "name": f"Good {i}"} for i in range(20)]
        return json.dumps(good + [{"name": f"D{i}", "a": json.loads("[" * 30 + "1" + "]" * 30)} for i in range(5_000)])

    def formulas() -> bytes:
        link = inline(2, "B", '=HYPERLINK("http://x","y")')
        return header_row() + b'<row r="2">' + inline(2, "A", "S1") + link + b'<c r="C2"><f>1+2</f><v>3</v></c></row>'

    def wide_sheet() -> bytes:
        rows = b'<row r="%d"><c r="A%d"><v>%d</v></c><c r="B%d"><v>%d</v></c></row>'
        return header_row() + b"".join(rows % (i, i, i, i, i * 7) for i in range(2, 1_800_000))

    one_cell = b'<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c></row>'
    big_cell = "x y " * (TEN // 4)
    return [
        # the offenders issue #11 measured
        Case("json-10mb-single-cell", "cell.json",
             text(lambda: json.dumps([{"name": "A", "description": big_cell}, {"name": "B"}])), "accept", 1),
        Case("jsonl-10mb-single-cell", "cell.jsonl",
             text(lambda: jsonl_good_and([json.dumps({"name": "A", "d": big_cell})])), "accept", 20),
        Case("md-10mb-single-section", "cell.md",
             text(lambda: "# Hours\nOpen 9-5.\n# Big\n" + big_cell + "\n# Pay\nCash.\n"), "accept", 2),
        Case("csv-200k-columns", "cols.csv",
             text(lambda: ",".join(f"c{i}" for i in range(200_000)) + "\n" + "v," * 199_999 + "v\n"), "reject"),
        Case("json-200k-columns", "cols.json",
             # JSON has no header: the item itself is refused (its row error names the limit), other items are kept
             text(lambda: json.dumps([{f"c{i}": "v" for i in range(200_000)}])), "accept", 0),
        Case("txt-2mb-one-line", "oneline.txt",
             text(lambda: "Opening hours 9-5.\n\n" + "word " * (2 * MB // 5) + "\n\nReturns: 30 days.\n"), "accept", 1),
        Case("xlsx-millions-of-rows", "rows.xlsx", xlsx(millions_of_rows), "reject"),
        Case("xlsx-shared-strings-bomb", "sst.xlsx",
             xlsx(lambda: header_row(), lambda: b"<si><t>aaaaaaaaaa</t></si>" * 1_900_000), "reject"),
        Case("csv-20mb-blank-lines", "blank.csv", text(lambda: "name,price\nTea,3\n" + "\n" * (20 * MB) + "Pie,4\n"),
             "accept", 2),
        # other hostile shapes
        Case("xlsx-shared-strings-49mb-under-caps", "sst49.xlsx",
             xlsx(lambda: header_row() + one_cell,
                  lambda: b"".join(b"<si><t>Product %07d</t></si>" % i for i in range(1_600_000))), "accept", 1),
        Case("xlsx-value-in-column-xfd-every-row", "xfd.xlsx", xlsx(far_right_rows), "reject"),
        Case("xlsx-unzips-over-100mb", "huge.xlsx", xlsx(wide_sheet), "reject"),
        Case("xlsx-sparse-row-1048576", "sparse.xlsx", xlsx(lambda: header_row() + b'<row r="2">' + inline(2, "A", "S1")
                                                            + b'</row><row r="1048576">' + inline(1048576, "A", "S2")
                                                            + b"</row>"), "accept", 2),
        Case("xlsx-billion-laughs", "laughs.xlsx",
             xlsx(lambda: header_row() + b'<row r="2">' + inline(2, "A", "&lol9;") + b"</row>", prolog=LAUGHS),
             "reject"),
        Case("xlsx-formula-cells", "formulas.xlsx", xlsx(formulas), "accept", 1),
        Case("json-nested-10000-deep", "deep.json", text(lambda: "[" * 10_000 + "]" * 10_000), "reject"),
        Case("jsonl-nested-deep-lines", "deep.jsonl",
             text(lambda: jsonl_good_and(["[" * 10_000 + "]" * 10_000] * 3)), "accept", 20),
        Case("json-200k-tiny-items", "items.json",
             text(lambda: json.dumps([{"name": f"P{i}"} for i in range(200_000)])), "reject"),
        Case("json-items-30-deep", "deep30.json", text(deep_items), "accept", 20),
        Case("json-huge-integer", "bigint.json",
             text(lambda: '[{"name": "A", "price": ' + "9" * 100_000 + "}]"), "reject"),
        Case("json-unpaired-surrogate", "surrogate.jsonl",
             text(lambda: jsonl_good_and(['{"name": "Cake \\ud83d"}'])), "accept", 20),
        Case("csv-10mb-single-cell", "cell.csv", text(lambda: good_and(["B-1,Big,3," + "x" * TEN])), "accept", 20),
        Case("csv-10mb-unclosed-quote", "quote.csv",
             text(lambda: good_and(['B-1,Big,3,"' + ("words " * 1000 + "\n") * (TEN // 6001)])), "accept", 20),
        Case("csv-10mb-stray-quotes-everywhere", "quotes.csv",
             text(lambda: good_and([f'Q-{i},"Bad {i} {"y" * 200},1,"x' for i in range(TEN // 230)])), "accept", 20),
        Case("csv-55k-rows", "rows.csv", baseline_csv(55_000 * ROW_BYTES), "reject"),
        Case("csv-long-header-names", "headers.csv",
             text(lambda: ",".join("h" * 5000 + str(i) for i in range(100)) + "\n1\n"), "reject"),
        Case("csv-chroma-reserved-columns", "reserved.csv",
             text(lambda: good_and([], header="sku,name,price,chroma:document").replace(",fine", ",doc")),
             "accept", 20),
        Case("csv-file-name-244-chars", "p" * 240 + ".csv", text(lambda: good_and([])), "accept", 20),
        Case("csv-shift-jis", "jp.csv",
             text(lambda: "sku,name,price\n" + "A1,Tea,3\n" * 20 + "B1,緑茶 500ml,3\n", "shift_jis"), "reject"),
        Case("csv-gb18030-10mb", "zh.csv",
             text(lambda: "sku,name,price\n" + "A1,绿茶 500毫升,3\n" * (TEN // 22), "gb18030"), "reject"),
        Case("csv-mixed-encodings", "mixed.csv",
             raw(lambda: ("name,notes\n" + "Café,crème\n" * 50_000).encode() + "Niño,año\n".encode("cp1252")),
             "reject"),
        Case("csv-10mb-windows-1252", "western.csv", text(western, "cp1252"), "accept", TEN // 300),
        Case("md-heading-of-10mb-spaces", "spaces.md", text(lambda: "# A" + " " * TEN + "x\n# B\nok\n"), "accept", 1),
        Case("md-100k-headings", "headings.md",
             text(lambda: "".join(f"## S{i}\ntext {i}\n" for i in range(100_000))), "reject"),
        Case("md-20mb-blank-lines", "blank.md",
             text(lambda: "# Hours\nOpen 9-5.\n" + "\n" * (20 * MB) + "# Pay\nCash.\n"), "accept", 2),
        Case("txt-10mb-short-lines", "lines.txt", text(lambda: "a\n" * (TEN // 2)), "reject"),
        Case("pdf-600-pages", "menu.pdf", pdf([f"Dish {i} 9.50" for i in range(600)]), "reject"),
        Case("pdf-page-of-50k-chars", "long.pdf", pdf(["Pasta 12.50", "word " * 10_000, "Soup 4.00"]), "accept", 2),
    ]


# --------------------------------------------------------------------------- child: load one file


def child(path: str) -> None:
    """Load one file with the default limits; print one JSON line with the outcome and this process's peak RSS."""
    import logging

    logging.disable(logging.WARNING)
    from ingest.loaders import load_file
    from rag.errors import AssistantError
    from rag.store import embedding_text

    report: dict = {"outcome": "imported"}
    if path != IMPORT_ONLY:
        folder = str(Path(path).parent) + os.sep
        try:
            result = load_file(path)
        except AssistantError as exc:
            report = {"outcome": "rejected", "message": str(exc).replace(folder, "")}
        except BaseException as exc:  # noqa: BLE001 - the bench reports whatever escapes as a failure
            report = {"outcome": "CRASH", "message": f"{type(exc).__name__}: {str(exc)[:300]}"}
        else:
            marked = [d for d in result.documents if str(d.id).startswith("G-")]
            report = {
                "outcome": "accepted", "documents": len(result.documents), "row_errors": len(result.errors),
                "kept": len(marked) if marked else len(result.documents),
                "first_error": str(result.errors[0]).replace(folder, "") if result.errors else "",
                "embed_chars": max((len(embedding_text(d)) for d in result.documents), default=0),
            }
    report["peak_mb"] = peak_mb()
    print(json.dumps(report, ensure_ascii=False))


def peak_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would include the parent's memory from before the exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_child(path: Path | str) -> tuple[float, dict]:
    """(seconds, the child's report) for loading one file in a fresh interpreter."""
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                              cwd=ROOT, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return CHILD_TIMEOUT, {"outcome": "TIMEOUT", "message": f"killed after {CHILD_TIMEOUT:.0f} s", "peak_mb": 0.0}
    seconds = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    if not lines:
        return seconds, {"outcome": "CRASH", "message": done.stderr.strip()[-300:], "peak_mb": 0.0}
    return seconds, json.loads(lines[-1])


# --------------------------------------------------------------------------- parent: the table


def verdict(case: Case, size: int, seconds: float, report: dict) -> str:
    outcome = report["outcome"]
    if outcome in ("CRASH", "TIMEOUT"):
        return "FAIL"
    if outcome != {"accept": "accepted", "reject": "rejected"}[case.expect]:
        return "FAIL (expected " + case.expect + ")"
    if outcome == "accepted" and report["kept"] < case.good:
        return f"FAIL ({case.good - report['kept']} good rows lost)"
    if seconds > TARGET_SECONDS or report["peak_mb"] > TARGET_MB:
        return "MISS"
    return "ok"


def detail(report: dict) -> str:
    if report["outcome"] == "accepted":
        text = (f"{report['documents']} docs ({report['kept']} good kept), {report['row_errors']} row errors, "
                f"embeds <= {report['embed_chars']} chars")
        return text + (f"; first: {report['first_error']}" if report["first_error"] else "")
    return report.get("message", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--keep", type=Path, help="write the corpus here and keep it")
    parser.add_argument("--width", type=int, default=150, help="cut each detail to this many characters")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0

    cases = [c for c in corpus() if not args.only or args.only in c.name]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    started = time.perf_counter()
    seconds, report = run_child(IMPORT_ONLY)
    print(f"baseline: python + import ingest.loaders: {seconds:.2f} s, peak {report['peak_mb']:.0f} MB")
    cases.insert(0, Case("BASELINE valid 10 MB CSV", "baseline.csv", baseline_csv(TEN), "accept", TEN // ROW_BYTES))
    print(f"{'case':40} {'MB':>6} {'s':>6} {'peak MB':>8}  {'verdict':8} outcome")
    for case in cases:
        path = folder / case.file
        case.write(path)
        size = path.stat().st_size
        seconds, report = run_child(path)
        mark = verdict(case, size, seconds, report)
        results.append({"case": case.name, "bytes": size, "seconds": round(seconds, 2), **report, "verdict": mark})
        line = f"{case.name:40} {size / MB:6.1f} {seconds:6.1f} {report['peak_mb']:8.0f}  {mark:8} "
        line += f"{report['outcome']}: "
        print((line + detail(report))[: 40 + 36 + args.width], flush=True)
        if not args.keep:
            path.unlink()
    failed = [r for r in results if r["verdict"] != "ok"]
    print(f"\n{len(results)} files in {time.perf_counter() - started:.0f} s; target: each under {TARGET_SECONDS:.0f} s "
          f"and {TARGET_MB:.0f} MB, no crash, no good row lost. Missed: {len(failed)}"
          + (" (" + ", ".join(r["case"] for r in failed) + ")" if failed else ""))
    out = ROOT / "bench" / "results" / "uploads.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"target_seconds": TARGET_SECONDS, "target_mb": TARGET_MB, "results": results}
    out.write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    if not args.keep:
        folder.rmdir()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
