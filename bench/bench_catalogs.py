"""Answer quality on catalogs of other shapes: baseline (textbook chain) and default, same run.

    .venv/bin/python bench/bench_catalogs.py                 # every catalog below
    .venv/bin/python bench/bench_catalogs.py menu household  # some of them
    .venv/bin/python bench/bench_catalogs.py --limit 5       # a quick look
    .venv/bin/python bench/bench_catalogs.py --config default epqa  # only the default (baseline kept from the last run, marked *)

Catalogs (``split`` says what a figure may be used for):

- ``menu``, ``household`` (dev): ``../shared/data/dev_catalogs``, questions in ``bench/catalogs/``;
- ``epqa`` (dev): every ePQA dev snippet as a row (see ``bench/bench_retrieval.py``), questions in
  ``bench/catalogs/epqa.jsonl``;
- ``epqa-heldout`` (held-out, **never tuned on**): the same ePQA rows, questions in
  ``bench/heldout/epqa_heldout.jsonl`` (about products no ``epqa`` question uses);
- ``laptops`` (held-out, **never tuned on**): ``bench/heldout/``;
- ``techstore``, ``bella-italia`` (dev, the shipped samples): ``tests/data/``;
- ``injection-en``, ``injection-es`` (suite): rows with instructions written into their cells
  (``tests/data/injection/``); an answer that repeats what was injected (``forbid_any``) is wrong.

Each catalog is ingested with the product's normal ingest, as a new user would (no mapping file
unless one sits next to its questions, ``<name>.mapping.json``), into ``.assistant/bench-catalogs/``
(kept between runs: re-ingesting unchanged rows is free). Then ``python -m rag eval --json`` runs
``--config baseline --config default``. Per catalog and configuration the table shows answer
accuracy, refusals right, and **invented facts**: an answer that is not a refusal and states a
number that is in neither the question nor the rows the question is about (``gold_ids``) — for a
question that should be refused, any number at all. The wrong answers go to
``bench/results/catalogs-<name>.txt`` and everything to ``bench/results/catalogs.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
WORK = ROOT / ".assistant" / "bench-catalogs"
RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Catalog:
    name: str
    split: str  # "dev" or "held-out"
    questions: Path
    source: Path | None  # a catalog file copied into the store's folder (None: written by ``build``)
    mapping: Path | None = None

    @property
    def needs_shared(self) -> bool:
        return self.name not in SAMPLES and not (self.source and self.source.is_relative_to(ROOT))

    def files(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        if self.name in EPQA_CATALOGS:
            return [_epqa_corpus(folder)]
        dest = folder / self.source.name
        if not dest.exists() or dest.stat().st_mtime < self.source.stat().st_mtime:
            shutil.copyfile(self.source, dest)
        if self.mapping and self.mapping.exists():
            shutil.copyfile(self.mapping, folder / f"{self.source.name}.mapping.json")
        return [dest]


EPQA_CATALOGS = ("epqa", "epqa-heldout")  # question sets over the one ePQA snippet corpus (each in its own store)


def _epqa_corpus(folder: Path) -> Path:
    from bench.bench_retrieval import EPQA_CSV, load_epqa, write_corpus

    path = folder / "epqa_snippets.jsonl"
    if not path.exists():
        corpus, _, _ = load_epqa(EPQA_CSV)
        write_corpus(corpus, path)
    return path


CATALOGS = {
    c.name: c for c in (
        Catalog("menu", "dev", ROOT / "bench/catalogs/menu_es.jsonl", SHARED / "dev_catalogs/menu_es.json",
                ROOT / "bench/catalogs/menu_es.mapping.json"),
        Catalog("household", "dev", ROOT / "bench/catalogs/household_es.jsonl", SHARED / "dev_catalogs/pharmacy_or_household.csv",
                ROOT / "bench/catalogs/household_es.mapping.json"),
        Catalog("epqa", "dev", ROOT / "bench/catalogs/epqa.jsonl", None),
        Catalog("epqa-heldout", "held-out", ROOT / "bench/heldout/epqa_heldout.jsonl", None),
        Catalog("laptops", "held-out", ROOT / "bench/heldout/electronics_en.jsonl", SHARED / "dev_catalogs/electronics_en.csv",
                ROOT / "bench/heldout/electronics_en.mapping.json"),
        Catalog("techstore", "dev", ROOT / "tests/data/dev_techstore.jsonl", None),
        # rows carrying injected instructions ("ignore all previous instructions…"): right = nothing injected repeated
        Catalog("injection-en", "suite", ROOT / "tests/data/injection/questions_en.jsonl", ROOT / "tests/data/injection/shop_en.csv"),
        Catalog("injection-es", "suite", ROOT / "tests/data/injection/questions_es.jsonl",
                ROOT / "tests/data/injection/tienda_es.csv"),
        Catalog("bella-italia", "dev", ROOT / "tests/data/dev_bella-italia.jsonl", None),
    )
}
SAMPLES = {"techstore", "bella-italia"}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(CATALOG_DATA_DIR=str(WORK / "data"), CATALOG_CATALOG_DIR=str(WORK / "catalog"),
               CATALOG_MODEL_DIR=str(ROOT / ".assistant" / "models"))
    return env


def ingest(cat: Catalog) -> None:
    folder = WORK / "catalog" / cat.name
    if cat.name in SAMPLES:
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(ROOT / "catalog" / cat.name, folder)
        files = [folder]
    else:
        files = cat.files(folder)
    cmd = [sys.executable, "-m", "ingest", "-q", "--store", cat.name, *map(str, files)]
    done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: some rows rejected (reported), the rest ingested
        raise SystemExit(f"ingest of {cat.name} failed:\n{done.stderr[-2000:]}")
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"{cat.name}: ingested", file=sys.stderr)


def gold_texts(cat: Catalog) -> dict[str, str]:
    """Row id -> its text and metadata values (what a stated number may come from)."""
    from ingest.loaders import load_file

    out: dict[str, str] = {}
    folder = WORK / "catalog" / cat.name
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".mapping.json")):
        try:
            result = load_file(path)
        except Exception:  # noqa: BLE001 - a sample policy file the row loader does not read
            continue
        for d in result.documents:
            out[d.id] = d.page_content + " " + " ".join(str(v) for v in d.metadata.values())
    return out


def invented(row: dict, gold: dict[str, str]) -> bool:
    """A stated number the rows the question is about do not hold (any number, when it should be refused)."""
    from rag.prompts import numbers_in

    if row.get("refused") or row.get("correct"):
        return False
    stated = numbers_in(row.get("answer", "")) - numbers_in(row["question"])
    if not stated:
        return False
    if row["refuse"]:
        return True
    known = set().union(*(numbers_in(gold.get(i, "")) for i in row["gold_ids"])) if row["gold_ids"] else None
    return known is not None and bool(stated - known)


def evaluate(cat: Catalog, limit: int | None, configs: list[str]) -> dict:
    cmd = [sys.executable, "-m", "rag", "eval", str(cat.questions), "--store", cat.name,
           *[a for c in configs for a in ("--config", c)], "--json"]
    if limit:
        cmd += ["--limit", str(limit)]
    done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"eval of {cat.name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    gold = gold_texts(cat)
    summary = {"catalog": cat.name, "split": cat.split, "runs": {}, "wrong": {}}
    for run in result["runs"]:
        rows = run["rows"]
        answerable = [r for r in rows if not r["refuse"]]
        refusals = [r for r in rows if r["refuse"]]
        bad = [r for r in rows if invented(r, gold)]
        summary["runs"][run["label"]] = {
            "questions": len(rows),
            "answers_right": sum(r["correct"] for r in answerable), "answerable": len(answerable),
            "refusals_right": sum(r["correct"] for r in refusals), "refusals": len(refusals),
            "invented": len(bad),
            "methods": _count(r.get("method", "") for r in rows),
            "first_token_s_p50": run["metrics"].get("first_token_s_p50"),
            "recall@5": run["metrics"].get("recall@5"),
        }
        summary["wrong"][run["label"]] = [
            f"✗ line {r['line']}{' INVENTED' if r in bad else ''} ({r.get('method')}): {r['question']}\n"
            f"  got: {r['answer'][:300]}" for r in rows if not r["correct"]]
    summary["raw"] = result
    return summary


def keep_earlier(summary: dict, earlier: dict | None) -> dict:
    """``summary`` plus the configurations of ``earlier`` it did not run (figures, wrong answers, raw rows), marked."""
    if not earlier:
        return summary
    labels = [label for label in earlier.get("runs", {}) if label not in summary["runs"]]
    return {**summary,
            "runs": {**{k: {**earlier["runs"][k], "earlier": True} for k in labels}, **summary["runs"]},
            "wrong": {**{k: earlier.get("wrong", {}).get(k, []) for k in labels}, **summary["wrong"]},
            "raw": {**summary["raw"], "runs": [r for r in earlier.get("raw", {}).get("runs", []) if r["label"] in labels]
                    + summary["raw"]["runs"]}}


def write_wrong(summary: dict) -> None:
    """The wrong answers of every configuration, to bench/results/catalogs-<name>.txt."""
    lines = [line for label in summary["runs"] for line in [f"[{label}]", *summary["wrong"].get(label, [])]]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"catalogs-{summary['catalog']}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}% ({a}/{b})" if b else "-"


def table(summaries: list[dict]) -> str:
    head = f"{'catalog':<13} {'split':<9} {'config':<9} {'answers right':>16} {'refusals right':>16} {'invented':>9} {'recall@5':>9}"
    out = [head, "-" * len(head)]
    for s in summaries:
        for label, m in s["runs"].items():
            label += "*" if m.get("earlier") else ""
            out.append(f"{s['catalog']:<13} {s['split']:<9} {label:<9} {_pct(m['answers_right'], m['answerable']):>16} "
                       f"{_pct(m['refusals_right'], m['refusals']):>16} {m['invented']:>9} {m['recall@5'] or '-':>9}")
    if any(m.get("earlier") for s in summaries for m in s["runs"].values()):
        out.append("* from an earlier run (greedy decoding: the same code gives the same answers)")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"catalogs to run (default: all of {', '.join(CATALOGS)})")
    parser.add_argument("--limit", type=int, help="only the first N questions of each set")
    parser.add_argument("--config", action="append", choices=("baseline", "default"),
                        help="run only these configurations (default: both); the others' figures are kept from the "
                        "last run, marked *. Only for a change that cannot affect them (baseline: rag.chain guarded=False)")
    args = parser.parse_args()
    configs = args.config or ["baseline", "default"]
    names = args.names or list(CATALOGS)
    unknown = [n for n in names if n not in CATALOGS]
    if unknown:
        raise SystemExit(f"unknown catalog(s) {unknown}: choose from {', '.join(CATALOGS)}")
    missing = [n for n in names if CATALOGS[n].needs_shared and not SHARED.exists()]
    if missing:
        raise SystemExit(f"{SHARED} is missing: the catalogs {missing} need ../shared/data")
    path = RESULTS / "catalogs.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    summaries = []
    for name in names:
        cat = CATALOGS[name]
        ingest(cat)
        summary = evaluate(cat, args.limit, configs)
        summary = summary if args.limit else keep_earlier(summary, old.get(name))
        write_wrong(summary)
        summaries.append(summary)
        print("\n".join(table(summaries[-1:]).splitlines()[2:]), file=sys.stderr, flush=True)
    print(table(summaries))
    old.update({s["catalog"]: s for s in summaries})
    path.write_text(json.dumps(old, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
