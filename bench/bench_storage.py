"""Disk use of the index over many changing re-ingests, with and without disk reclaim.

    .venv/bin/python bench/bench_storage.py                     # 500 rows, 30 re-ingests, 5 rows changed each
    .venv/bin/python bench/bench_storage.py --rows 2000 --runs 60

A generated catalog (``--rows`` products) is ingested into a fresh store, then re-ingested ``--runs``
times; each run raises the price of ``--changes`` rows (and puts the previous run's back), drops one
row and adds one, so every run publishes a new collection version (the real e5 embedder embeds only
the changed rows). After each
run it prints the Chroma directory's size (allocated blocks, as ``du`` counts), its number of segment
folders and the size of ``chroma.sqlite3``. The same loop runs twice, each in its own temporary data
dir copied from one first ingest: with reclaim (the default) and, as the same-run baseline, with
``CatalogIndex(reclaim=False)``: what ingest did before, each replaced collection deleted but its
folder left on disk.
Writes ``bench/results/storage.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CATEGORIES = ["Laptops", "Phones", "Tablets", "Audio", "Cameras", "Accessories"]


def write_catalog(path: Path, rows: int, run: int, changes: int) -> None:
    """Run ``run``'s catalog: always ``rows`` rows; the oldest row gone and a new one added since the last run,
    ``changes`` prices raised (and the previous run's raised prices back to normal)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "name", "category", "price", "stock", "description"])
        for i in range(rows + run):
            if i < run:
                continue  # one row removed per run
            price = 10 + (i % 90) + (run if (i * 7 + run) % rows < changes else 0)
            cat = CATEGORIES[i % len(CATEGORIES)]
            w.writerow([f"SKU-{i:05d}", f"{cat[:-1]} model {i}", cat, f"{price}.00", str(i % 13),
                        f"A {cat.lower()[:-1]} for everyday use, model {i}, with a two-year warranty"])


def loop(label: str, data_dir: Path, args, embeddings, reclaim: bool, runs: range) -> list[dict]:
    from ingest.pipeline import run
    from rag.settings import load_settings
    from rag.store import CatalogIndex, disk_usage, make_client

    settings = load_settings(data_dir=data_dir, model_dir=args.model_dir)
    index = CatalogIndex(make_client(settings), reclaim=reclaim)
    catalog = data_dir / "products.csv"
    out = []
    print(f"\n{label}\n{'run':>4} {'MB':>8} {'folders':>8} {'sqlite MB':>10} {'embedded':>9} {'s':>6}")
    for n in runs:
        write_catalog(catalog, args.rows, n, args.changes)
        t0 = time.perf_counter()
        rep = run([catalog], store="bench", settings=settings, index=index, embeddings=embeddings)[0]
        du = disk_usage(settings.chroma_dir)
        row = {"run": n, "mb": round(du.mb, 2), "folders": du.folders, "sqlite_mb": round(du.sqlite_bytes / 2**20, 2),
               "embedded": rep.embedded, "s": round(time.perf_counter() - t0, 2)}
        out.append(row)
        print(f"{n:>4} {row['mb']:>8.2f} {row['folders']:>8} {row['sqlite_mb']:>10.2f} {row['embedded']:>9} "
              f"{row['s']:>6.2f}", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=500)
    p.add_argument("--runs", type=int, default=30, help="re-ingests after the first ingest")
    p.add_argument("--changes", type=int, default=5, help="prices changed per run")
    p.add_argument("--model-dir", type=Path,
                   default=Path(os.environ.get("CATALOG_MODEL_DIR", ROOT / ".assistant" / "models")))
    args = p.parse_args()

    from rag.factory import build_embeddings
    from rag.settings import load_settings

    embeddings = build_embeddings(load_settings(model_dir=args.model_dir))
    results = {"rows": args.rows, "runs": args.runs, "changes": args.changes}
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        # the first ingest (every row embedded) is the same for both: done once, then copied
        results["first"] = loop("first ingest", Path(tmp) / "first", args, embeddings, reclaim=True, runs=range(1))
        for key, label, reclaim in (("reclaim", "with reclaim (default)", True),
                                    ("baseline", "baseline: reclaim off (behaviour before)", False)):
            shutil.copytree(Path(tmp) / "first", Path(tmp) / key)
            results[key] = loop(label, Path(tmp) / key, args, embeddings, reclaim=reclaim, runs=range(1, args.runs + 1))

    on, off = results["reclaim"], results["baseline"]

    def spread(rows: list[dict], key: str) -> str:
        return f"{min(r[key] for r in rows)}-{max(r[key] for r in rows)}"

    print(f"\nafter {args.runs} re-ingests of {args.rows} rows ({args.changes} prices raised each):")
    print(f"  reclaim on : {on[-1]['mb']:.2f} MB, {on[-1]['folders']} folders (runs 1-{args.runs}: "
          f"{spread(on, 'mb')} MB, {spread(on, 'folders')} folders, sqlite {spread(on, 'sqlite_mb')} MB)")
    print(f"  reclaim off: {off[-1]['mb']:.2f} MB, {off[-1]['folders']} folders (runs 1-{args.runs}: "
          f"{spread(off, 'mb')} MB, {spread(off, 'folders')} folders, sqlite {spread(off, 'sqlite_mb')} MB)")
    print(f"  baseline / reclaim: {off[-1]['mb'] / on[-1]['mb']:.2f}x the disk, "
          f"{off[-1]['folders'] / on[-1]['folders']:.1f}x the folders")
    out = ROOT / "bench" / "results" / "storage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
