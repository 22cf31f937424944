"""Evaluation harness: retrieval and answer quality on a JSONL question set.

Each line: ``{"question", "gold_ids", "expect_any", "expect_all", "refuse"}`` (all but the
question optional). An answer is correct when one ``expect_any`` string and every
``expect_all`` string appear in it (case- and accent-insensitive); for ``refuse: true`` the
correct answer is a refusal. Scoring is pure (:func:`score`) so it is unit-tested directly.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import CatalogFileError
from rag.text import normalise


@dataclass
class EvalItem:
    question: str
    gold_ids: list[str] = field(default_factory=list)
    expect_any: list[str] = field(default_factory=list)
    expect_all: list[str] = field(default_factory=list)
    refuse: bool = False
    line: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def load_items(path: str | Path) -> list[EvalItem]:
    """Read a question set; a malformed line is an error naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise CatalogFileError(f"{path} does not exist: pass a JSONL question set (see tests/data/README.md).")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CatalogFileError(f"{path}, line {n}: not valid JSON ({exc.msg}); each line must be one object.") from None
        if not isinstance(obj, dict) or not str(obj.get("question", "")).strip():
            raise CatalogFileError(f"{path}, line {n}: needs a non-empty \"question\" field.")
        known = {"question", "gold_ids", "expect_any", "expect_all", "refuse"}
        items.append(EvalItem(
            question=obj["question"], gold_ids=list(obj.get("gold_ids", [])),
            expect_any=list(obj.get("expect_any", [])), expect_all=list(obj.get("expect_all", [])),
            refuse=bool(obj.get("refuse", False)), line=n, extra={k: v for k, v in obj.items() if k not in known},
        ))
    if not items:
        raise CatalogFileError(f"{path} has no questions.")
    return items


def answer_correct(item: EvalItem, answer: str, refused: bool) -> bool:
    if item.refuse:
        return refused
    if refused:
        return False
    a = normalise(answer)
    any_ok = not item.expect_any or any(normalise(s) in a for s in item.expect_any)
    all_ok = all(normalise(s) in a for s in item.expect_all)
    return any_ok and all_ok


def retrieval_ranks(gold: list[str], retrieved: list[str]) -> int | None:
    """1-based rank of the first gold id in ``retrieved`` (None if absent)."""
    for rank, doc_id in enumerate(retrieved, start=1):
        if doc_id in gold:
            return rank
    return None


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    idx = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[idx], 3)


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate per-question rows (see :func:`evaluate`) into the report's metrics."""
    with_gold = [r for r in rows if r["gold_ids"]]
    metrics: dict[str, Any] = {"questions": len(rows)}
    if with_gold:
        for k in (1, 5, 10):
            metrics[f"recall@{k}"] = round(sum(1 for r in with_gold if r["rank"] and r["rank"] <= k) / len(with_gold), 3)
        metrics["mrr"] = round(sum(1 / r["rank"] for r in with_gold if r["rank"]) / len(with_gold), 3)
    answered = [r for r in rows if "correct" in r]
    if answered:
        should = [r for r in answered if r["refuse"]]
        should_not = [r for r in answered if not r["refuse"]]
        metrics["answer_accuracy"] = round(sum(r["correct"] for r in should_not) / len(should_not), 3) if should_not else None
        metrics["refusal_recall"] = round(sum(r["refused"] for r in should) / len(should), 3) if should else None
        metrics["false_refusals"] = round(sum(r["refused"] for r in should_not) / len(should_not), 3) if should_not else None
        metrics["overall_accuracy"] = round(sum(r["correct"] for r in answered) / len(answered), 3)
        stated = [r for r in answered if not r["refused"]]
        metrics["numbers_grounded"] = round(sum(not r["ungrounded"] for r in stated) / len(stated), 3) if stated else None
        for key in ("first_token_s", "total_s"):
            vals = [r["timings"][key] for r in answered if key in r["timings"]]
            metrics[f"{key}_p50"] = _pct(vals, 0.5)
            metrics[f"{key}_p90"] = _pct(vals, 0.9)
    ret = [r["retrieval_s"] for r in rows if "retrieval_s" in r]
    if ret:
        metrics["retrieval_s_p50"] = _pct(ret, 0.5)
    return metrics


def evaluate(items: list[EvalItem], retriever, chain=None, *, progress=None) -> dict[str, Any]:
    """Run every question: retrieval at depth 10 always, the full chain when ``chain`` is given."""
    from rag.chain import ask

    rows = []
    deep = retriever.model_copy(update={"k": max(10, retriever.k)})
    for n, item in enumerate(items, start=1):
        t = time.perf_counter()
        ids = [d.id for d in deep.invoke(item.question)]
        row: dict[str, Any] = {
            "line": item.line, "question": item.question, "gold_ids": item.gold_ids, "refuse": item.refuse,
            "retrieved": ids, "rank": retrieval_ranks(item.gold_ids, ids),
            "retrieval_s": round(time.perf_counter() - t, 3),
        }
        if chain is not None:
            ans = ask(chain, item.question)
            row.update(answer=ans.answer, refused=ans.refused, ungrounded=ans.ungrounded, timings=ans.timings,
                       cited=[d.id for d in ans.sources], correct=answer_correct(item, ans.answer, ans.refused))
        rows.append(row)
        if progress:
            progress(n, len(items))
    return {"metrics": score(rows), "rows": rows}


def format_table(metrics: dict[str, Any]) -> str:
    width = max(len(k) for k in metrics)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in metrics.items())


def main_eval(args, settings) -> int:
    """CLI body of ``python -m rag eval``."""
    from tqdm import tqdm

    from rag.factory import build_embeddings, build_index, build_llm, build_retriever, build_store_chain

    items = load_items(args.file)
    if args.limit:
        items = items[: args.limit]
    store = args.store or settings.default_store
    index = build_index(settings)
    embeddings = build_embeddings(settings)
    retriever = build_retriever(settings, index, embeddings, store)
    chain = None if args.retrieval_only else build_store_chain(settings, index, embeddings, build_llm(settings), store)
    bar = None if args.json else tqdm(total=len(items), desc="questions", file=sys.stderr)
    result = evaluate(items, retriever, chain, progress=(lambda n, t: bar.update(1)) if bar else None)
    if bar:
        bar.close()
    result["config"] = {k: str(getattr(settings, k)) for k in ("embedding", "retrieval", "top_k", "llm_backend", "llm_preset")}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(format_table(result["metrics"]))
        wrong = [r for r in result["rows"] if r.get("correct") is False]
        for r in wrong:
            print(f"\n✗ line {r['line']}: {r['question']}\n  got: {r['answer'][:200]}")
    return 0
