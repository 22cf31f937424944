"""Retrieval configurations side by side: embedding model x (hybrid | vector only).

    python bench/bench_retrieval.py                    # dev sets + all ePQA questions
    python bench/bench_retrieval.py --epqa-limit 50    # quick check
    python bench/bench_retrieval.py --skip-epqa        # dev sets only

Configurations (same process, same machine, same data):

- ``baseline``       all-MiniLM-L6-v2, vector only (the seed-style anchor)
- ``minilm+hybrid``  all-MiniLM-L6-v2, vectors fused with BM25 + name/id boosts + filters
- ``e5 vector``      multilingual-e5-small, vector only
- ``e5+hybrid``      multilingual-e5-small, hybrid (the product default)

Each embedding model gets its own temporary data dir and index (a store records the model that
built it), built once through the product's own ingest; both retrieval modes query that index.

Part A: the shipped dev sets (``tests/data/dev_<store>.jsonl``) through
:func:`rag.evaluate.evaluate` (retrieval only): recall@1/5/10, MRR and p50 latency, overall and
split by the question's ``lang``.

Part B: ePQA dev (public Amazon shopper questions, ``../shared/data/epqa/dev.csv``; skipped when
absent). Every unique (product, snippet) pair of every product becomes one catalog row in a JSONL
file (``id`` = ``<ASIN>-<nn>``, ``name`` = the product's title, ``description`` = the snippet),
ingested as store ``epqa`` with the normal ingest. For each question with at least one label-2
("fully answers") snippet the rank of the first label-2 snippet in the top 10 gives recall@1/5/10
and MRR. ``--epqa-limit`` limits the questions, never the corpus. Two protocols, same index:
the shopper's question alone (asked on Amazon's product page, it often has no subject: "will
this fit?"), and the question with the product's title in front, the way staff at a counter
name the product they ask about.

Results are printed and written to bench/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = [  # (label, embedding, retrieval mode)
    ("baseline", "minilm", "vector"),
    ("minilm+hybrid", "minilm", "hybrid"),
    ("e5 vector", "e5", "vector"),
    ("e5+hybrid", "e5", "hybrid"),
]
DEV_STORES = ("techstore", "bella-italia")
EPQA_CSV = ROOT.parent / "shared" / "data" / "epqa" / "dev.csv"
EPQA_STORE = "epqa"
DEPTH = 10


# --------------------------------------------------------------------------- ePQA data


def _clean(text: str) -> str:
    """Whitespace-collapsed text, as the loaders store cells (so dedup matches what gets indexed)."""
    return " ".join((text or "").split())


def load_epqa(path: Path) -> tuple[list[dict], list[dict], dict]:
    """(corpus rows, questions, stats) from the ePQA dev CSV.

    Corpus: every unique (ASIN, snippet text) of every product, numbered per product in order
    of first appearance. Questions: one per ``qid`` with at least one label-2 snippet; its gold
    ids are the ids of those snippets.
    """
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"qid", "question", "ASIN", "candidate", "label"}
    if rows and not need <= set(rows[0]):
        raise SystemExit(f"{path}: expected columns {sorted(need)}, got {sorted(rows[0])}")
    sid_of: dict[tuple[str, str], str] = {}
    per_product: dict[str, int] = defaultdict(int)
    corpus: list[dict] = []
    empty = 0
    for r in rows:
        text = _clean(r["candidate"])
        if not text:
            empty += 1
            continue
        key = (r["ASIN"], text)
        if key in sid_of:
            continue
        per_product[r["ASIN"]] += 1
        n = per_product[r["ASIN"]]
        sid = f"{r['ASIN']}-{n:02d}"
        sid_of[key] = sid
        title = _clean(r.get("title", "")) or f"{r['ASIN']} snippet {n}"
        corpus.append({"id": sid, "name": title, "description": text, "_asin": r["ASIN"], "_source": r.get("source", "")})
    questions: dict[str, dict] = {}
    for r in rows:
        q = questions.setdefault(r["qid"], {
            "qid": r["qid"], "question": r["question"], "asin": r["ASIN"], "gold": [],
            # staff name the product they ask about; on Amazon the product page gave that context
            "named_question": f"{_clean(r.get('title', ''))}: {_clean(r['question'])}",
        })
        text = _clean(r["candidate"])
        if r["label"].strip() == "2" and text:
            sid = sid_of[(r["ASIN"], text)]
            if sid not in q["gold"]:
                q["gold"].append(sid)
    answerable = [q for q in questions.values() if q["gold"]]
    stats = {"pairs": len(rows), "questions": len(questions), "questions_with_label2": len(answerable),
             "products": len(per_product), "snippets": len(corpus), "empty_snippets_skipped": empty}
    return corpus, answerable, stats


def write_corpus(corpus: list[dict], path: Path) -> None:
    """One JSONL catalog row per snippet: id, name, description (the loaders' own column roles)."""
    with path.open("w", encoding="utf-8") as f:
        for c in corpus:
            f.write(json.dumps({"id": c["id"], "name": c["name"], "description": c["description"]}, ensure_ascii=False) + "\n")


def check_corpus(path: Path, corpus: list[dict]) -> None:
    """Every snippet must load as exactly one document with our id, and nothing may be rejected."""
    from ingest.loaders import load_file

    result = load_file(path)
    if result.errors:
        raise SystemExit(f"{path}: {len(result.errors)} rows rejected by the loader, e.g. {result.errors[0]}")
    want = [c["id"] for c in corpus]
    got = [d.id for d in result.documents]
    if got != want:
        missing = set(want) - set(got)
        raise SystemExit(f"{path}: loader produced {len(got)} documents for {len(want)} snippets "
                         f"(missing e.g. {sorted(missing)[:3]}, ids e.g. {got[:3]})")
    by_id = {c["id"]: c["description"] for c in corpus}
    bad = [d.id for d in result.documents if d.metadata.get("description") != by_id[d.id]]
    if bad:
        raise SystemExit(f"{path}: snippet text changed on load for {len(bad)} rows, e.g. {bad[0]}")


# --------------------------------------------------------------------------- metrics


def cap(rows: list[dict], depth: int = DEPTH) -> list[dict]:
    """Rank among the top ``depth`` only (a filtered list question may return more rows)."""
    return [{**r, "rank": r["rank"] if r["rank"] and r["rank"] <= depth else None} for r in rows]


def metrics_of(rows: list[dict]) -> dict:
    from rag.evaluate import score

    m = score(rows)
    m.setdefault("retrieval_s_p50", None)
    m["gold_questions"] = sum(1 for r in rows if r["gold_ids"])
    return m


def run_dev(retriever, items, store: str) -> dict:
    from rag.evaluate import evaluate

    result = evaluate(items, retriever)
    rows = result["rows"]
    for r, item in zip(rows, items, strict=True):
        r["lang"] = item.extra.get("lang", "?")
    out = {"all": result["metrics"]}
    for lang in sorted({r["lang"] for r in rows}):
        out[lang] = metrics_of([r for r in rows if r["lang"] == lang])
    return {"metrics": out, "rows": [{k: r[k] for k in ("line", "lang", "rank", "retrieved", "retrieval_s")} for r in rows]}


def run_epqa(retriever, questions: list[dict], key: str = "question") -> dict:
    from rag.evaluate import EvalItem, evaluate

    items = [EvalItem(question=q[key], gold_ids=q["gold"], line=n) for n, q in enumerate(questions, 1)]
    result = evaluate(items, retriever)
    rows = cap(result["rows"])
    return {"metrics": metrics_of(rows),
            "rows": [{"qid": q["qid"], "rank": r["rank"], "top": r["retrieved"][:DEPTH]} for q, r in zip(questions, rows, strict=True)]}


# --------------------------------------------------------------------------- printing


def fmt(v, width: int = 7, pct: bool = False) -> str:
    if v is None:
        return f"{'-':>{width}}"
    return f"{v * 100:>{width}.1f}" if pct else f"{v:>{width}.3f}"


def print_dev(results: dict) -> None:
    print("\nPart A: dev sets (retrieval only, depth 10; n = questions, recall/MRR in % of those with gold ids; p50 latency in s)")
    print(f"{'config':<14} {'store':<13} {'lang':<4} {'n':>3} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR':>6} {'p50 s':>6}")
    for label, _, _ in CONFIGS:
        for store in DEV_STORES:
            for lang, m in results[label]["dev"][store]["metrics"].items():
                print(f"{label:<14} {store:<13} {lang:<4} {m['questions']:>3} "
                      f"{fmt(m.get('recall@1'), 6, True)} {fmt(m.get('recall@5'), 6, True)} {fmt(m.get('recall@10'), 6, True)} "
                      f"{fmt(m.get('mrr'), 6, True)} {fmt(m.get('retrieval_s_p50'), 6)}")


def dev_lang_r5(results: dict, label: str, lang: str):
    """recall@5 over the questions in ``lang`` of both dev sets (pooled, questions with gold ids)."""
    rows = []
    for store in DEV_STORES:
        for r in results[label]["dev"][store]["rows"]:
            if r["lang"] == lang and r.get("has_gold"):
                rows.append(r)
    return round(sum(1 for r in rows if r["rank"] and r["rank"] <= 5) / len(rows), 3) if rows else None


def epqa_deltas(results: dict, k: int = 5, part: str = "epqa") -> dict:
    """recall@k differences on ePQA, with the paired counts behind them (one question = 100/n points)."""
    def hits(label):
        return [bool(r["rank"] and r["rank"] <= k) for r in results[label][part]["rows"]]

    out = {}
    for a, b in (("e5+hybrid", "baseline"), ("minilm+hybrid", "baseline"), ("e5+hybrid", "e5 vector"), ("e5 vector", "baseline")):
        ha, hb = hits(a), hits(b)
        out[f"{a} - {b}"] = {
            "points": round(100 * (sum(ha) - sum(hb)) / len(ha), 1),
            "wins": sum(x and not y for x, y in zip(ha, hb)),
            "losses": sum(y and not x for x, y in zip(ha, hb)),
        }
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epqa-limit", type=int, default=0, help="ePQA questions to ask (0 = all; the corpus is always complete)")
    p.add_argument("--skip-epqa", action="store_true", help="dev sets only")
    p.add_argument("--epqa-csv", type=Path, default=EPQA_CSV, help=f"ePQA dev CSV (default {EPQA_CSV})")
    p.add_argument("--keep", action="store_true", help="keep the temporary indexes and corpus (path is printed)")
    args = p.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from ingest.pipeline import run as ingest
    from rag.evaluate import load_items
    from rag.factory import build_embeddings, build_index, build_retriever
    from rag.settings import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    dev_items = {s: load_items(ROOT / "tests" / "data" / f"dev_{s}.jsonl") for s in DEV_STORES}

    epqa = None
    if args.skip_epqa:
        print("ePQA: skipped (--skip-epqa)")
    elif not args.epqa_csv.is_file():
        print(f"ePQA: skipped, {args.epqa_csv} not found (public data lives in ../shared/data; see its README)")
    else:
        corpus, questions, stats = load_epqa(args.epqa_csv)
        if args.epqa_limit:
            questions = questions[: args.epqa_limit]
        corpus_path = tmp / "epqa_snippets.jsonl"
        write_corpus(corpus, corpus_path)
        check_corpus(corpus_path, corpus)
        stats["questions_asked"] = len(questions)
        epqa = {"corpus": corpus_path, "questions": questions, "stats": stats}
        print(f"ePQA: {stats['snippets']} unique snippets of {stats['products']} products "
              f"({stats['empty_snippets_skipped']} empty skipped), loader check ok; "
              f"{len(questions)} of {stats['questions_with_label2']} answerable questions "
              f"({stats['questions']} in the file)")

    results: dict = {label: {"dev": {}} for label, _, _ in CONFIGS}
    ingest_info: dict = {}
    try:
        for emb in dict.fromkeys(e for _, e, _ in CONFIGS):
            settings = load_settings(data_dir=tmp / emb, model_dir=ROOT / ".assistant" / "models", embedding=emb)
            index = build_index(settings)
            t0 = time.perf_counter()
            embeddings = build_embeddings(settings)
            embeddings.embed_query("warm up")
            info = {"model_load_s": round(time.perf_counter() - t0, 2)}
            reports = ingest(settings=settings, index=index, embeddings=embeddings)
            info["samples"] = {r.store: {"rows": r.total, "seconds": r.seconds} for r in reports}
            if epqa:
                t0 = time.perf_counter()
                (rep,) = ingest([epqa["corpus"]], store=EPQA_STORE, settings=settings, index=index, embeddings=embeddings)
                wall = time.perf_counter() - t0
                if rep.rejected:
                    raise SystemExit(f"ePQA ingest rejected {len(rep.rejected)} rows, e.g. {rep.rejected[0]}")
                info["epqa"] = {"rows": rep.total, "embedded": rep.embedded, "seconds": round(wall, 1),
                                "rows_per_s": round(rep.embedded / max(wall, 1e-9), 1)}
                print(f"[{emb}] ePQA corpus: {rep.embedded} snippets embedded + indexed in {wall:.1f}s "
                      f"({info['epqa']['rows_per_s']} rows/s; model load {info['model_load_s']}s)")
            ingest_info[emb] = info
            for label, e, mode in CONFIGS:
                if e != emb:
                    continue
                cfg = settings.model_copy(update={"retrieval": mode})
                for store in DEV_STORES:
                    t0 = time.perf_counter()
                    res = run_dev(build_retriever(cfg, index, embeddings, store), dev_items[store], store)
                    for r, item in zip(res["rows"], dev_items[store], strict=True):
                        r["has_gold"] = bool(item.gold_ids)
                    results[label]["dev"][store] = res
                    print(f"[{label}] {store}: R@5 {fmt(res['metrics']['all'].get('recall@5'), 0, True)}% "
                          f"({time.perf_counter() - t0:.1f}s)")
                if epqa:
                    t0 = time.perf_counter()
                    res = run_epqa(build_retriever(cfg, index, embeddings, EPQA_STORE), epqa["questions"])
                    results[label]["epqa"] = res
                    m = res["metrics"]
                    print(f"[{label}] ePQA: R@5 {fmt(m.get('recall@5'), 0, True)}% MRR {fmt(m.get('mrr'), 0, True)} "
                          f"({time.perf_counter() - t0:.1f}s, p50 {m.get('retrieval_s_p50')}s/question)")
                    t0 = time.perf_counter()
                    res = run_epqa(build_retriever(cfg, index, embeddings, EPQA_STORE), epqa["questions"], "named_question")
                    results[label]["epqa_named"] = res
                    m = res["metrics"]
                    print(f"[{label}] ePQA, product named: R@5 {fmt(m.get('recall@5'), 0, True)}% "
                          f"MRR {fmt(m.get('mrr'), 0, True)} ({time.perf_counter() - t0:.1f}s)")
            del embeddings, index
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print_dev(results)
    if epqa:
        for part, what in (("epqa", "the question alone"), ("epqa_named", "the question with its product's title")):
            print(f"\nPart B: ePQA dev, {what}: {len(epqa['questions'])} questions, corpus {epqa['stats']['snippets']} "
                  f"snippets (rank of the first label-2 snippet in the top {DEPTH}; % and p50 s)")
            print(f"{'config':<14} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR':>6} {'p50 s':>6}")
            for label, _, _ in CONFIGS:
                m = results[label][part]["metrics"]
                print(f"{label:<14} {fmt(m.get('recall@1'), 6, True)} {fmt(m.get('recall@5'), 6, True)} "
                      f"{fmt(m.get('recall@10'), 6, True)} {fmt(m.get('mrr'), 6, True)} {fmt(m.get('retrieval_s_p50'), 6)}")
        print("\nePQA corpus embedding + ingest per model:")
        for emb, info in ingest_info.items():
            e = info["epqa"]
            print(f"  {emb:<7} {e['embedded']} snippets in {e['seconds']}s ({e['rows_per_s']} rows/s), model load {info['model_load_s']}s")

    summary = []
    for label, emb, mode in CONFIGS:
        dev = results[label]["dev"]
        em = results[label].get("epqa", {}).get("metrics", {})
        en = results[label].get("epqa_named", {}).get("metrics", {})
        summary.append({
            "config": label, "embedding": emb, "retrieval": mode,
            "dev_techstore_r5": dev["techstore"]["metrics"]["all"].get("recall@5"),
            "dev_bella_r5": dev["bella-italia"]["metrics"]["all"].get("recall@5"),
            "dev_es_r5": dev_lang_r5(results, label, "es"),
            "dev_en_r5": dev_lang_r5(results, label, "en"),
            "epqa_r1": em.get("recall@1"), "epqa_r5": em.get("recall@5"),
            "epqa_r10": em.get("recall@10"), "epqa_mrr": em.get("mrr"),
            "epqa_named_r1": en.get("recall@1"), "epqa_named_r5": en.get("recall@5"), "epqa_named_mrr": en.get("mrr"),
        })
    print("\nSummary (recall/MRR in %)")
    head = (f"{'config':<14} {'dev tech R@5':>12} {'dev bella R@5':>13} {'dev ES R@5':>10} {'ePQA R@1':>8} {'ePQA R@5':>8} "
            f"{'ePQA R@10':>9} {'ePQA MRR':>8} {'named R@5':>9} {'named MRR':>9}")
    print(head)
    print("-" * len(head))
    for s in summary:
        print(f"{s['config']:<14} {fmt(s['dev_techstore_r5'], 12, True)} {fmt(s['dev_bella_r5'], 13, True)} "
              f"{fmt(s['dev_es_r5'], 10, True)} {fmt(s['epqa_r1'], 8, True)} {fmt(s['epqa_r5'], 8, True)} "
              f"{fmt(s['epqa_r10'], 9, True)} {fmt(s['epqa_mrr'], 8, True)} {fmt(s['epqa_named_r5'], 9, True)} "
              f"{fmt(s['epqa_named_mrr'], 9, True)}")
    deltas = {part: epqa_deltas(results, part=part) for part in ("epqa", "epqa_named")} if epqa else {}
    for part, ds in deltas.items():
        print(f"\n{part} recall@5, config vs config in points (questions only the first / only the second finds in its top 5):")
        for name, d in ds.items():
            print(f"  {name:<26} {d['points']:+.1f}  ({d['wins']} / {d['losses']})")

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "summary": summary,
        "epqa_r5_delta_points": deltas,
        "epqa": {"stats": epqa["stats"], "source": str(args.epqa_csv)} if epqa else None,
        "ingest": ingest_info,
        "results": results,
    }
    (out / "retrieval.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1))
    print(f"\nwritten {out / 'retrieval.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
