"""Ingest throughput, re-ingest cost and memory, with the raw embedding model on the same texts as baseline.

    python bench/bench_ingest.py                          # 10,000-row catalog + a 50,000-row one
    python bench/bench_ingest.py --rows 2000 --big 10000  # smaller, for a slow or busy machine
    python bench/bench_ingest.py --skip-big
    python bench/bench_ingest.py --embedder stub          # indexer only (no model), full sizes in minutes
    python bench/bench_ingest.py --profile                # + cProfile of the re-ingests in bench/results/
    python bench/bench_ingest.py --scale 27500            # only: a 27,500-row catalog end to end (target 10 min)

It writes synthetic but realistic product catalogs (CSV: sku, name, category, brand, price,
stock, colors, specs, description; deterministic for a seed; ~250-400 characters of text per
row) into a temp dir, then in one process, with one embedding model object:

1. raw baseline: ``embeddings.embed_documents`` over exactly the texts ingest will embed (the
   ``page_content`` that ``ingest.loaders.load_file`` makes of the file), in batches of 64
   like ``sync_store``: texts/s;
2. ingest of the N-row file into a fresh store (``ingest.__main__.run`` with a tqdm progress
   bar on stderr): wall time, rows/s and ``ingest rows/s / raw texts/s`` (target >= 0.85);
   the time spent inside the embedder during ingest is measured too, so the rest (parsing,
   hashing, Chroma writes, copying) shows up as overhead;
3. re-ingest of the unchanged file: wall time (target <= 5 s), must embed nothing;
4. 1% of prices changed and 0.5% of rows deleted: wall time, rows embedded (must equal the
   changed rows) and the report's summary line;
5. peak RSS (``ru_maxrss``) and current RSS after the N-row ingest and after the big one;
6. the big catalog (default 50,000 rows): ingest wall time and rows/s, then an unchanged
   re-ingest of it (``--skip-big`` skips both).

Model load time is reported separately and excluded from every throughput figure. The
embedding speed is calibrated first and an estimate of the total run time is printed before
the long steps start. multilingual-e5-small runs at roughly 5-20 texts/s on 2 busy-to-idle
cores, so the defaults take 1-4 hours there: use smaller ``--rows``/``--big`` for the ratio,
and ``--embedder stub`` (random unit vectors, no model) to measure the indexer's own cost,
re-ingest time and memory at full size. A step that raises is reported as a failed check
and the run goes on. Exit code 1 when a correctness check fails (performance targets only
print MISS). Results are printed and written to bench/results/ingest.json
(ingest-stub.json with ``--embedder stub``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 64  # sync_store's default batch_size
RATIO_TARGET = 0.85
REINGEST_TARGET_S = 5.0
CHANGE_SHARE = 0.01
DELETE_SHARE = 0.005

# --------------------------------------------------------------------------- synthetic catalog

COLUMNS = ["sku", "name", "category", "brand", "price", "stock", "colors", "specs", "description"]
COLORS = ["Black", "White", "Silver", "Space Grey", "Midnight Blue", "Red", "Forest Green", "Beige", "Graphite",
          "Rose Gold", "Navy", "Charcoal", "Sand", "Olive", "Sky Blue", "Burgundy", "Natural Oak", "Walnut"]

# category -> (SKU prefix, brands, product lines, price range); specs per category below
CATEGORIES: dict[str, tuple[str, list[str], list[str], tuple[float, float]]] = {
    "Laptops": ("LAP", ["Lenovo", "Dell", "HP", "Asus", "Acer", "Apple", "MSI", "Microsoft"],
                ["ThinkPad", "IdeaPad", "XPS", "Inspiron", "Pavilion", "ZenBook", "VivoBook", "Swift", "MacBook Air", "Prestige", "Surface Laptop"],
                (399, 3299)),
    "Smartphones": ("PHN", ["Samsung", "Apple", "Xiaomi", "Motorola", "Google", "OnePlus", "Nokia"],
                    ["Galaxy A", "Galaxy S", "iPhone", "Redmi Note", "Moto G", "Pixel", "Nord", "G"], (149, 1599)),
    "Headphones": ("AUD", ["Sony", "Bose", "JBL", "Sennheiser", "Apple", "Audio-Technica", "Anker"],
                   ["WH", "QuietComfort", "Tune", "Momentum", "AirPods", "ATH-M", "Soundcore Life"], (29, 549)),
    "Monitors": ("MON", ["LG", "Samsung", "Dell", "BenQ", "AOC", "Asus"],
                 ["UltraGear", "Odyssey", "UltraSharp", "GW", "24G", "ProArt", "TUF Gaming"], (119, 1899)),
    "Kitchen": ("KIT", ["Philips", "Moulinex", "Oster", "KitchenAid", "De'Longhi", "Tefal", "Bosch"],
                ["Airfryer", "Blender", "Stand Mixer", "Espresso Machine", "Kettle", "Toaster", "Food Processor"], (19, 899)),
    "Furniture": ("FUR", ["IKEA", "Herman Miller", "Steelcase", "Flexispot", "Songmics", "Nordic Home"],
                  ["Desk", "Office Chair", "Bookshelf", "Sofa", "Nightstand", "Dining Table", "TV Stand"], (39, 1899)),
    "Clothing": ("CLO", ["Levi's", "Uniqlo", "Zara", "Patagonia", "The North Face", "H&M", "Columbia"],
                 ["Jeans", "T-Shirt", "Hoodie", "Down Jacket", "Rain Jacket", "Fleece", "Chinos"], (9.99, 399)),
    "Shoes": ("SHO", ["Nike", "Adidas", "New Balance", "Asics", "Puma", "Salomon", "Vans"],
              ["Air Zoom", "Ultraboost", "Fresh Foam", "Gel-Kayano", "Suede", "Speedcross", "Old Skool"], (39, 259)),
    "Toys": ("TOY", ["LEGO", "Mattel", "Hasbro", "Playmobil", "Hot Wheels", "Fisher-Price"],
             ["City", "Technic", "Barbie", "Monopoly", "Classic Set", "Track Set", "Baby Gym"], (7.5, 349)),
    "Books": ("BOK", ["Penguin", "Planeta", "Anagrama", "O'Reilly", "HarperCollins", "Alfaguara"],
              ["Novel", "Cookbook", "Programming Guide", "Travel Guide", "Biography", "Poetry Collection"], (6.99, 79)),
    "Garden": ("GAR", ["Gardena", "Bosch", "Husqvarna", "Fiskars", "Kärcher", "Weber"],
               ["Hose Set", "Lawn Mower", "Pruning Shears", "Pressure Washer", "Grill", "Hedge Trimmer"], (12, 1299)),
    "Sports": ("SPO", ["Decathlon", "Wilson", "Garmin", "Head", "Specialized", "Everlast", "Yonex"],
               ["Tennis Racket", "Running Watch", "Yoga Mat", "Road Bike", "Boxing Gloves", "Badminton Set", "Dumbbell Set"], (9, 2899)),
}

SPEC_BITS: dict[str, list[list[str]]] = {
    "Laptops": [["Intel Core i5-1335U", "Intel Core i7-1355U", "AMD Ryzen 5 7530U", "AMD Ryzen 7 7840HS", "Apple M2", "Apple M3"],
                ["8GB RAM", "16GB RAM", "32GB RAM"], ["256GB SSD", "512GB SSD", "1TB SSD"],
                ["13.3-inch FHD display", "14-inch 2.8K OLED display", "15.6-inch IPS display", "16-inch 165Hz display"],
                ["10h battery", "14h battery", "18h battery"], ["Windows 11 Home", "Windows 11 Pro", "macOS", "no OS"]],
    "Smartphones": [["6.1-inch OLED", "6.5-inch AMOLED 120Hz", "6.7-inch LTPO", "6.4-inch LCD"], ["128GB", "256GB", "512GB"],
                    ["50MP main camera", "48MP triple camera", "200MP camera", "12MP dual camera"],
                    ["4500mAh", "5000mAh", "3300mAh"], ["5G", "4G LTE"], ["IP68", "IP54", "no water rating"]],
    "Headphones": [["over-ear", "in-ear", "on-ear"], ["active noise cancellation", "passive isolation"],
                   ["30h battery", "8h battery + case", "50h battery"], ["Bluetooth 5.3", "Bluetooth 5.0", "wired 3.5mm"],
                   ["USB-C charging", "wireless charging case"]],
    "Monitors": [["24-inch", "27-inch", "32-inch", "34-inch ultrawide"], ["1080p", "1440p", "4K UHD"],
                 ["60Hz", "144Hz", "165Hz", "240Hz"], ["IPS", "VA", "OLED"], ["HDMI 2.1, DisplayPort", "USB-C 90W, HDMI"],
                 ["height-adjustable stand", "VESA mount"]],
    "Kitchen": [["1200W", "1500W", "900W", "2000W"], ["1.5L capacity", "4.1L basket", "5.5L bowl", "1.7L jug"],
                ["stainless steel", "BPA-free plastic", "glass jar"], ["dishwasher-safe parts", "auto shut-off"],
                ["2-year warranty", "3-year warranty"]],
    "Furniture": [["solid oak", "engineered wood", "steel frame", "mesh back"], ["120x60 cm", "160x80 cm", "80x40x180 cm", "210 cm wide"],
                  ["max load 100 kg", "max load 150 kg"], ["tool-free assembly", "assembly required"], ["5-year warranty", "2-year warranty"]],
    "Clothing": [["100% cotton", "recycled polyester", "merino wool", "organic cotton"], ["sizes XS-XXL", "sizes S-XL", "waist 28-40"],
                 ["regular fit", "slim fit", "relaxed fit"], ["machine washable at 30°C", "hand wash"], ["water-repellent", "breathable"]],
    "Shoes": [["EU 36-46", "EU 38-47", "US 6-13"], ["mesh upper", "leather upper", "suede upper"],
              ["foam midsole", "gel cushioning", "carbon plate"], ["8 mm drop", "10 mm drop", "4 mm drop"], ["280 g", "310 g", "250 g"]],
    "Toys": [["ages 3+", "ages 6+", "ages 8-14", "ages 0-2"], ["250 pieces", "1,200 pieces", "4 figures", "20 cars"],
             ["batteries not included", "no batteries needed"], ["CE certified", "EN71 tested"]],
    "Books": [["paperback", "hardcover", "ebook"], ["256 pages", "412 pages", "640 pages", "180 pages"],
              ["English", "Spanish", "bilingual"], ["ISBN 978-84-", "ISBN 978-1-"], ["2021 edition", "2023 edition", "2024 edition"]],
    "Garden": [["cordless 36V", "corded 1800W", "manual", "gas"], ["25 m hose", "46 cm cut", "130 bar", "57 cm grill"],
               ["12 kg", "3.5 kg", "28 kg"], ["weatherproof", "rust-resistant"], ["3-year warranty", "5-year warranty"]],
    "Sports": [["carbon fibre", "aluminium", "TPE foam", "synthetic leather"], ["size M", "size L", "one size", "12 oz"],
               ["GPS", "heart-rate sensor", "non-slip surface", "carry bag included"], ["weight 295 g", "weight 9.2 kg", "weight 1 kg"]],
}

ADJECTIVES = ["reliable", "lightweight", "premium", "compact", "versatile", "durable", "affordable", "quiet", "elegant",
              "robust", "ergonomic", "energy-efficient", "bestselling", "award-winning", "entry-level", "professional"]
USES = ["everyday use", "students", "home offices", "small businesses", "travel", "families", "beginners",
        "professionals", "gifts", "weekend projects", "outdoor adventures", "gaming", "long workdays", "small apartments"]
SENTENCES_EN = [
    "{a_adj} {line} from {brand}, designed for {use}.",
    "Customers love how {adj} it is, and it pairs well with other {brand} products.",
    "Ideal for {use} and {use2}; setup takes only a few minutes.",
    "This model replaces last year's version with better materials and a {adj} finish.",
    "Backed by {brand} support and our 30-day return policy.",
    "Ships in recyclable packaging; spare parts are available for at least five years.",
    "Reviewers call it the most {adj} option in its price range.",
    "Compared with similar {cat_lower} it offers more for the money.",
]
SENTENCES_ES = [
    "Un {line} de {brand} muy {adj_es}, pensado para {use_es}.",
    "Ideal para {use_es}; se instala en pocos minutos.",
    "Incluye garantía oficial de {brand} y devolución gratuita en 30 días.",
    "Los clientes destacan su excelente relación calidad-precio.",
    "Fabricado con materiales resistentes y un acabado {adj_es}.",
]
ADJ_ES = ["fiable", "ligero", "compacto", "versátil", "duradero", "económico", "silencioso", "elegante", "robusto"]
USES_ES = ["el día a día", "estudiantes", "oficinas en casa", "familias", "viajar", "principiantes", "profesionales", "regalar"]


def make_row(rng: random.Random, i: int) -> dict[str, str]:
    cat = rng.choice(list(CATEGORIES))
    prefix, brands, lines, (lo, hi) = CATEGORIES[cat]
    brand, line = rng.choice(brands), rng.choice(lines)
    name = f"{brand} {line} {rng.choice(['', 'Pro ', 'Lite ', 'Max ', 'Plus ', 'Mini ', ''])}{rng.randint(2, 990)}".replace("  ", " ")
    price = round(rng.uniform(lo, hi), 2)
    stock = 0 if rng.random() < 0.1 else rng.randint(1, 250)
    colors = "; ".join(rng.sample(COLORS, rng.randint(1, 4)))
    specs = "; ".join(rng.choice(options) for options in SPEC_BITS[cat])
    row = {"sku": f"{prefix}-{i:06d}", "name": name, "category": cat, "brand": brand, "price": f"{price:.2f}",
           "stock": str(stock), "colors": colors, "specs": specs, "description": ""}
    # Fill the description until the row's text (what ingest embeds) reaches a random 250-400 chars.
    target = rng.randint(250, 400)
    fixed = len(name) + sum(len(k) + len(v) + 3 for k, v in row.items() if k not in ("name", "description")) + 14
    spanish = rng.random() < 0.2
    pool = SENTENCES_ES if spanish else SENTENCES_EN
    words: list[str] = []
    budget = max(target - fixed, 40)
    while len(" ".join(words)) < budget:
        adj, (use, use2) = rng.choice(ADJECTIVES), rng.sample(USES, 2)
        words.append(rng.choice(pool).format(
            adj=adj, a_adj=("An " if adj[0] in "aeiou" else "A ") + adj, line=line, brand=brand, use=use, use2=use2,
            cat_lower=cat.lower(), adj_es=rng.choice(ADJ_ES), use_es=rng.choice(USES_ES)))
    text = " ".join(words)
    if len(text) > budget:  # cut at a word boundary, keep a full stop at the end
        text = text[:budget].rsplit(" ", 1)[0].rstrip(",;.") + "."
    row["description"] = text
    return row


def write_catalog(path: Path, n: int, seed: int, columns: list[str] = COLUMNS, row=make_row) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for i in range(1, n + 1):
            writer.writerow(row(rng, i))


def mutate_catalog(path: Path, seed: int) -> tuple[list[str], list[str]]:
    """Change 1% of prices and delete 0.5% of rows, in place; returns (changed skus, deleted skus)."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rng = random.Random(seed + 1)
    n = len(rows)
    picked = rng.sample(range(n), max(1, round(n * CHANGE_SHARE)) + max(1, round(n * DELETE_SHARE)))
    n_change = max(1, round(n * CHANGE_SHARE))
    change, delete = set(picked[:n_change]), set(picked[n_change:])
    for i in change:
        old = float(rows[i]["price"])
        rows[i]["price"] = f"{round(old * rng.uniform(1.03, 1.25) + 0.01, 2):.2f}"
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(r for i, r in enumerate(rows) if i not in delete)
    os.replace(tmp, path)
    return sorted(rows[i]["sku"] for i in change), sorted(rows[i]["sku"] for i in delete)


# --------------------------------------------------------------------------- measuring


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class StubEmbeddings:
    """Random unit vectors of the model's size at almost no cost: what is left is the indexer's own time."""

    dim = 384

    def embed_documents(self, texts):
        import numpy as np

        vectors = np.random.default_rng(len(texts)).standard_normal((len(texts), self.dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.tolist()

    def embed_query(self, text):
        return self.embed_documents([text])[0]


class TimedEmbeddings:
    """Passes every call to the wrapped model and adds up the seconds spent inside it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.texts = 0

    def embed_documents(self, texts):
        t0 = time.perf_counter()
        out = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - t0
        self.texts += len(texts)
        return out

    def embed_query(self, text):
        return self.inner.embed_query(text)


def raw_embed(emb, texts: list[str]) -> float:
    """Seconds to embed ``texts`` in batches of BATCH; vectors are dropped, as ingest drops them after writing."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    with tqdm(total=len(texts), desc="raw embed", unit="text", file=sys.stderr) as bar:
        for start in range(0, len(texts), BATCH):
            emb.embed_documents(texts[start : start + BATCH])
            bar.update(min(BATCH, len(texts) - start))
    return time.perf_counter() - t0


class Bench:
    """Runs the steps, keeps the table rows, the JSON summary and the failed checks."""

    def __init__(self, settings, index, emb: TimedEmbeddings, profile_dir: Path | None) -> None:
        self.settings, self.index, self.emb, self.profile_dir = settings, index, emb, profile_dir
        self.table: list[tuple[str, str, str]] = []
        self.summary: dict = {}
        self.failures: list[str] = []

    def row(self, name: str, value: str, check: str = "") -> None:
        if self.profile_dir is not None and name.startswith("re-ingest") and value != "ERROR":
            check = f"{check}  [timed under cProfile: slower]".strip()
        self.table.append((name, value, check))

    def check(self, good: bool, message: str) -> str:
        if not good:
            self.failures.append(message)
        return "OK" if good else "FAILED"

    def ingest(self, label: str, path: Path, store: str):
        """(report, wall seconds, seconds inside the embedder), or None after recording the failure."""
        from ingest.__main__ import _TqdmProgress
        from ingest.pipeline import run

        self.emb.seconds = 0.0
        profiler = None
        if self.profile_dir is not None and "re-ingest" in label:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t0 = time.perf_counter()
        try:
            (report,) = run([path], store=store, settings=self.settings, index=self.index, embeddings=self.emb,
                            progress=_TqdmProgress())
        except Exception as exc:  # noqa: BLE001 - a failing step is a result, the others still run
            wall = time.perf_counter() - t0
            message = f"{label}: {type(exc).__name__}: {exc} (after {wall:.1f}s)"
            self.failures.append(message)
            self.row(label, "ERROR", f"{type(exc).__name__} after {wall:.1f}s")
            print(f"\nERROR in {message}", file=sys.stderr)
            return None
        finally:
            if profiler is not None:
                import pstats

                profiler.disable()
                name = "ingest-profile-" + "".join(c if c.isalnum() else "-" for c in label).strip("-") + ".txt"
                with (self.profile_dir / name).open("w") as fh:
                    pstats.Stats(profiler, stream=fh).sort_stats("cumulative").print_stats(40)
        return report, time.perf_counter() - t0, self.emb.seconds


SCALE_TARGET_S = 600.0
SCALE_COLUMNS = ["sku", "name", "brand", "category", "price", "description"]


def make_scale_row(rng: random.Random, i: int) -> dict[str, str]:
    """The issue's shape: name, brand, category, price and a short description (60-160 characters)."""
    row = make_row(rng, i)
    desc, cut = row["description"], rng.randint(60, 160)
    if len(desc) > cut:
        desc = desc[:cut].rsplit(" ", 1)[0].rstrip(",;.") + "."
    return {k: row[k] for k in SCALE_COLUMNS if k != "description"} | {"description": desc}


def scale_run(rows: int, seed: int, sample: int = 1000) -> int:
    """Ingest a ``rows``-row catalog end to end; raw embedding throughput on a sample in the same run."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from ingest.__main__ import _TqdmProgress
    from ingest.pipeline import run
    from ingest.loaders import load_file
    from rag.store import embedding_text
    from rag.factory import build_embeddings, build_index
    from rag.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-scale-"))
    try:
        path = work / "catalog.csv"
        write_catalog(path, rows, seed, SCALE_COLUMNS, make_scale_row)
        settings = load_settings(data_dir=work / "data", model_dir=ROOT / ".assistant" / "models")
        emb = build_embeddings(settings)
        docs = load_file(path).documents[:sample]
        emb.embed_documents([d.page_content for d in docs[:8]])  # warm-up
        rates = {}
        for label, texts in (("whole row (page_content)", [d.page_content for d in docs]),
                             ("embedding_text (what ingest embeds)", [embedding_text(d) for d in docs])):
            t0 = time.perf_counter()
            for start in range(0, len(texts), BATCH):
                emb.embed_documents(texts[start : start + BATCH])
            rates[label] = len(texts) / (time.perf_counter() - t0)
        timed = TimedEmbeddings(emb)
        index = build_index(settings)
        t0 = time.perf_counter()
        (report,) = run([path], store="scale", settings=settings, index=index, embeddings=timed, progress=_TqdmProgress())
        wall = time.perf_counter() - t0
        live = index.info("scale")
        print(f"\n{rows:,}-row catalog ({', '.join(SCALE_COLUMNS)}), 2 threads")
        for label, rate in rates.items():
            print(f"  raw embedding, {sample} sampled rows, {label:<36} {rate:7.1f} texts/s "
                  f"-> {rows / rate / 60:5.1f} min for all rows")
        print(f"  ingest end to end: {wall:.0f} s ({wall / 60:.1f} min), {rows / wall:.1f} rows/s; inside the embedder "
              f"{timed.seconds:.0f} s, everything else {wall - timed.seconds:.0f} s")
        ok = wall <= SCALE_TARGET_S and report.embedded == rows and live is not None and live.count == rows
        print(f"  target <= {SCALE_TARGET_S / 60:.0f} min: {'OK' if wall <= SCALE_TARGET_S else 'MISS'}; "
              f"embedded {report.embedded}, live rows {live.count if live else None}")
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "ingest-scale.json").write_text(json.dumps({
            "rows": rows, "raw_texts_per_s": {k: round(v, 1) for k, v in rates.items()}, "ingest_s": round(wall, 1),
            "ingest_rows_per_s": round(rows / wall, 1), "embed_s": round(timed.seconds, 1),
            "target_s": SCALE_TARGET_S, "ok": ok}, indent=2))
        return 0 if report.embedded == rows else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fmt_s(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000, help="rows of the main catalog (default 10,000)")
    p.add_argument("--big", type=int, default=50_000, help="rows of the big catalog (default 50,000)")
    p.add_argument("--skip-big", action="store_true", help="skip the big catalog")
    p.add_argument("--embedder", choices=["model", "stub"], default="model",
                   help="'stub': random vectors instead of the model, to time the indexer alone (no ratio)")
    p.add_argument("--profile", action="store_true", help="write cProfile stats of the re-ingests to bench/results/")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--scale", type=int, metavar="N", help="only: ingest an N-row catalog of the issue's shape (name, "
                   "brand, category, price, short description) end to end, target <= 10 min for 27,500 rows")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (catalogs and index) and print its path")
    args = p.parse_args()
    if args.scale:
        return scale_run(args.scale, args.seed)
    if args.rows < 200:
        p.error("--rows must be at least 200 (1% changed / 0.5% deleted must be whole rows)")
    stub = args.embedder == "stub"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `kill` still removes the temp dir

    import logging

    logging.basicConfig(level=logging.WARNING)
    from ingest.loaders import load_file
    from rag.store import embedding_text
    from rag.factory import build_embeddings, build_index
    from rag.settings import load_settings

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        # --- catalogs, model, parse --------------------------------------------------------------
        t0 = time.perf_counter()
        small = work / "catalog.csv"
        write_catalog(small, args.rows, args.seed)
        big = work / "catalog-big.csv"
        if not args.skip_big:
            write_catalog(big, args.big, args.seed + 100)
        gen_s = time.perf_counter() - t0

        settings = load_settings(data_dir=work / "data", model_dir=ROOT / ".assistant" / "models")
        t0 = time.perf_counter()
        model = StubEmbeddings() if stub else build_embeddings(settings)
        load_s = time.perf_counter() - t0
        index = build_index(settings)
        b = Bench(settings, index, TimedEmbeddings(model), out if args.profile else None)

        t0 = time.perf_counter()
        result = load_file(small)
        parse_s = time.perf_counter() - t0
        texts = [embedding_text(d) for d in result.documents]  # exactly what ingest embeds
        assert len(texts) == args.rows and not result.errors, (len(texts), result.errors[:3])
        lengths = sorted(len(t) for t in texts)
        del result

        # --- calibration and estimate ---------------------------------------------------------
        t0 = time.perf_counter()
        model.embed_documents(texts[:8])  # warm-up: the first call pages the model in
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.embed_documents(texts[:BATCH])
        cal_rate = BATCH / (time.perf_counter() - t0)
        n_big = 0 if args.skip_big else args.big
        to_embed = 2 * args.rows + round(args.rows * CHANGE_SHARE) + n_big
        # indexer's own cost, measured with the stub: ~2.5 ms/row written, ~1.5 ms/row copied or compared
        estimate = to_embed / cal_rate * 1.05 + 0.0025 * (args.rows + n_big) + 0.0015 * (3 * args.rows + n_big) + 15
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        load_avg = os.getloadavg()[0]
        print(f"\ncatalogs: {args.rows:,} rows" + ("" if args.skip_big else f" and {args.big:,} rows")
              + f" (text per row {lengths[0]}-{lengths[-1]} chars, median {lengths[len(lengths) // 2]}), "
              f"written in {gen_s:.1f}s to {work}")
        what = "STUB embedder (random vectors): indexer cost only, no model" if stub else "embedding model"
        print(f"{what}: load {load_s:.2f}s; calibration {cal_rate:,.1f} texts/s on {cpus} CPU(s), load avg {load_avg:.1f}")
        print(f"estimated total: ~{fmt_s(estimate)} for ~{to_embed:,} embeddings "
              "(use smaller --rows/--big, --skip-big or --embedder stub to shorten)\n", flush=True)
        S = b.summary
        S.update({"embedder": args.embedder, "rows": args.rows, "big_rows": n_big or None,
                  "text_chars_min_median_max": [lengths[0], lengths[len(lengths) // 2], lengths[-1]],
                  "cpus": cpus, "load_avg_at_start": round(load_avg, 2), "model_load_s": round(load_s, 2),
                  "first_call_8_texts_s": round(warm_s, 2),
                  "parse_s": round(parse_s, 2), "estimate_s": round(estimate), "profiled_reingests": args.profile})
        b.row("embedding model load" + (" (stub)" if stub else ""), f"{load_s:.2f} s", "(excluded below)")
        b.row("  first call, 8 texts (warm-up)", f"{warm_s:.2f} s", "(excluded below)")
        b.row(f"parse {args.rows:,}-row CSV (load_file)", f"{parse_s:.2f} s")

        # --- 1. raw baseline -------------------------------------------------------------------
        raw_s = raw_embed(model, texts)
        raw_rate = len(texts) / raw_s
        del texts
        S.update({"raw_embed_s": round(raw_s, 2), "raw_texts_per_s": round(raw_rate, 2)})
        b.row(f"raw embed {args.rows:,} texts, batch {BATCH}", f"{raw_s:.1f} s")
        b.row("raw embed throughput", f"{raw_rate:,.1f} texts/s", "(stub: meaningless)" if stub else "")

        # --- 2. first ingest --------------------------------------------------------------------
        first = b.ingest(f"ingest {args.rows:,} rows (fresh store)", small, "bench")
        ratio = None
        if first:
            report, wall, inside = first
            ratio = args.rows / wall / raw_rate
            S.update({"ingest_s": round(wall, 2), "ingest_rows_per_s": round(args.rows / wall, 2),
                      "embed_s_inside_ingest": round(inside, 2), "overhead_s": round(wall - inside, 2),
                      "overhead_ms_per_row": round((wall - inside) / args.rows * 1000, 2),
                      "ratio_ingest_vs_raw": None if stub else round(ratio, 3), "ratio_target": RATIO_TARGET})
            b.row(f"ingest {args.rows:,} rows (fresh store)", f"{wall:.1f} s")
            b.row("  of which inside the embedder", f"{inside:.1f} s")
            b.row("  of which everything else", f"{wall - inside:.1f} s",
                  f"({(wall - inside) / args.rows * 1000:.2f} ms/row: parse, hash, Chroma)")
            b.row("ingest throughput", f"{args.rows / wall:,.1f} rows/s")
            if stub:
                b.row("ingest rows/s / raw texts/s", "n/a", "(stub embedder)")
            else:
                b.row("ingest rows/s / raw texts/s", f"{ratio:.3f}", f">= {RATIO_TARGET}  {'OK' if ratio >= RATIO_TARGET else 'MISS'}")
            b.check(report.embedded == args.rows and len(report.added) == args.rows,
                    f"first ingest embedded {report.embedded}, added {len(report.added)}, expected {args.rows}")
        peak_small, cur_small = peak_rss_mb(), current_rss_mb()
        S.update({"peak_rss_mb_after_ingest": round(peak_small), "current_rss_mb_after_ingest": round(cur_small)})

        # --- 3. unchanged re-ingest -------------------------------------------------------------
        again = b.ingest("re-ingest unchanged file", small, "bench") if first else None
        if again:
            report, wall, _ = again
            good = report.embedded == 0 and report.unchanged == args.rows and not report.changed
            S.update({"reingest_unchanged_s": round(wall, 2), "reingest_unchanged_embedded": report.embedded,
                      "reingest_unchanged_unchanged": report.unchanged, "reingest_target_s": REINGEST_TARGET_S})
            b.row("re-ingest unchanged file", f"{wall:.2f} s",
                  f"<= {REINGEST_TARGET_S:.0f} s  {'OK' if wall <= REINGEST_TARGET_S else 'MISS'}")
            b.row("  rows embedded / unchanged", f"{report.embedded} / {report.unchanged}",
                  f"0 / {args.rows}  " + b.check(good, f"unchanged re-ingest: embedded {report.embedded}, "
                                                  f"unchanged {report.unchanged}, changed={report.changed}"))

        # --- 4. 1% prices changed, 0.5% rows deleted --------------------------------------------
        changed, deleted = mutate_catalog(small, args.seed)
        label = f"re-ingest {len(changed)} prices changed, {len(deleted)} deleted"
        change = b.ingest(label, small, "bench") if first else None
        if change:
            report, wall, inside = change
            good = (report.embedded == len(changed) and sorted(report.updated) == changed
                    and sorted(report.removed) == deleted and not report.added
                    and report.field_changes() == {"price": len(changed)})
            live = index.info("bench")
            S.update({"change_rows_changed": len(changed), "change_rows_deleted": len(deleted),
                      "change_reingest_s": round(wall, 2), "change_embed_s": round(inside, 2),
                      "change_embedded": report.embedded, "change_summary": report.summary(),
                      "change_live_count": live.count if live else None})
            b.row(label, f"{wall:.2f} s")
            b.row("  of which inside the embedder", f"{inside:.2f} s")
            b.row("  of which everything else", f"{wall - inside:.2f} s", "(parse, compare, copy, Chroma)")
            b.row("  rows embedded", f"{report.embedded}", f"== {len(changed)}  " + b.check(
                good, f"change re-ingest: embedded {report.embedded} (expected {len(changed)}), updated "
                f"{len(report.updated)}, removed {len(report.removed)} (expected {len(deleted)}), "
                f"added {len(report.added)}, fields {report.field_changes()}"))
            expected_live = args.rows - len(deleted)
            b.row("  live rows after", f"{live.count if live else None}", f"== {expected_live}  " + b.check(
                live is not None and live.count == expected_live, f"live count after change {live and live.count}"))
            b.row("  report", f"{len(report.updated)} updated", report.summary().split(": ", 1)[1])
        b.row(f"peak RSS after {args.rows:,}-row ingests", f"{peak_rss_mb():.0f} MB",
              f"(after 1st ingest {peak_small:.0f}, current {current_rss_mb():.0f})")
        peak_small, cur_small = peak_rss_mb(), current_rss_mb()
        S.update({"peak_rss_mb_after_small_steps": round(peak_small), "current_rss_mb_after_small_steps": round(cur_small)})

        # --- 5. big catalog ---------------------------------------------------------------------
        if not args.skip_big:
            res = b.ingest(f"ingest {args.big:,} rows (fresh store)", big, "bench-big")
            peak_big, cur_big = peak_rss_mb(), current_rss_mb()
            big_res: dict = {"rows": args.big}
            if res:
                report, wall, inside = res
                big_res.update({"ingest_s": round(wall, 2), "ingest_rows_per_s": round(args.big / wall, 2),
                            "ratio_vs_raw": None if stub else round(args.big / wall / raw_rate, 3),
                            "embed_s_inside_ingest": round(inside, 2), "overhead_s": round(wall - inside, 2),
                            "overhead_ms_per_row": round((wall - inside) / args.big * 1000, 2)})
                b.row(f"ingest {args.big:,} rows (fresh store)", f"{wall:.1f} s")
                b.row("  of which inside the embedder", f"{inside:.1f} s")
                b.row("  of which everything else", f"{wall - inside:.1f} s", f"({(wall - inside) / args.big * 1000:.2f} ms/row)")
                b.row("big ingest throughput", f"{args.big / wall:,.1f} rows/s",
                      "" if stub else f"ratio {args.big / wall / raw_rate:.3f} vs raw above")
                b.check(report.embedded == args.big, f"big ingest embedded {report.embedded}, expected {args.big}")
            big_res.update({"peak_rss_mb": round(peak_big), "current_rss_mb": round(cur_big),
                        "peak_rss_growth_mb": round(peak_big - peak_small), "current_rss_growth_mb": round(cur_big - cur_small)})
            b.row(f"peak RSS after {args.big:,}-row ingest", f"{peak_big:.0f} MB", f"(current {cur_big:.0f} MB)")
            b.row("  RSS growth vs after the small steps", f"{peak_big - peak_small:+.0f} MB",
                  f"(current {cur_big - cur_small:+.0f} MB)")
            again = b.ingest(f"re-ingest unchanged {args.big:,}-row file", big, "bench-big") if res else None
            if again:
                report, wall, _ = again
                big_res.update({"reingest_unchanged_s": round(wall, 2), "reingest_unchanged_embedded": report.embedded})
                b.row(f"re-ingest unchanged {args.big:,}-row file", f"{wall:.2f} s", "embedded 0  " + b.check(
                    report.embedded == 0 and report.unchanged == args.big,
                    f"big unchanged re-ingest embedded {report.embedded}, unchanged {report.unchanged}"))
            S["big"] = big_res

        # --- report -----------------------------------------------------------------------------
        S["checks_failed"] = b.failures
        print(f"\n{'measure':<50} {'value':>14}  target / check")
        for name, value, check in b.table:
            print(f"{name:<50} {value:>14}  {check}")
        if "change_summary" in S:
            print(f"\nchange report: {S['change_summary']}")
        for failure in b.failures:
            print(f"CHECK FAILED: {failure}")
        print("\n" + json.dumps(S, ensure_ascii=False, indent=2))
        (out / ("ingest-stub.json" if stub else "ingest.json")).write_text(json.dumps(S, ensure_ascii=False, indent=2))
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if b.failures else 0


if __name__ == "__main__":
    sys.exit(main())
