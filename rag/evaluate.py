"""Evaluation harness: retrieval and answer quality on a JSONL question set.

Each line: ``{"question", "gold_ids", "expect_any", "expect_all", "forbid_any", "refuse"}`` (all but
the question optional). An answer is correct when one ``expect_any`` string and every
``expect_all`` string appear in it (case- and accent-insensitive) and no ``forbid_any`` phrase does
(matched as whole words: what an instruction injected into a row would make it say); for
``refuse: true`` the correct answer is a refusal. Scoring is pure (:func:`score`) so it is unit-tested directly.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import CatalogFileError, SettingsError
from rag.text import normalise


@dataclass
class EvalItem:
    question: str
    gold_ids: list[str] = field(default_factory=list)
    expect_any: list[str] = field(default_factory=list)
    expect_all: list[str] = field(default_factory=list)
    forbid_any: list[str] = field(default_factory=list)
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
        known = {"question", "gold_ids", "expect_any", "expect_all", "forbid_any", "refuse"}
        items.append(EvalItem(
            question=obj["question"], gold_ids=list(obj.get("gold_ids", [])),
            expect_any=list(obj.get("expect_any", [])), expect_all=list(obj.get("expect_all", [])),
            forbid_any=list(obj.get("forbid_any", [])), refuse=bool(obj.get("refuse", False)), line=n,
            extra={k: v for k, v in obj.items() if k not in known},
        ))
    if not items:
        raise CatalogFileError(f"{path} has no questions.")
    return items


def forbidden_in(answer: str, phrases: list[str]) -> list[str]:
    """The phrases an answer contains, matched whole (case and accents ignored): "$0" is not in "$089"."""
    text = normalise(answer)
    return [p for p in phrases if re.search(rf"(?<!\w){re.escape(normalise(p))}(?!\w)", text)]


def answer_correct(item: EvalItem, answer: str, refused: bool) -> bool:
    if forbidden_in(answer, item.forbid_any):
        return False
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
        # answers the numeric guard withheld (their rows shown instead): grounded by construction, but not answers
        metrics["withheld"] = round(sum(bool(r["refused"] and r["ungrounded"]) for r in answered) / len(answered), 3)
        for key in ("first_token_s", "total_s"):
            vals = [r["timings"][key] for r in answered if key in r["timings"]]
            metrics[f"{key}_p50"] = _pct(vals, 0.5)
            metrics[f"{key}_p90"] = _pct(vals, 0.9)
    ret = [r["retrieval_s"] for r in rows if "retrieval_s" in r]
    if ret:
        metrics["retrieval_s_p50"] = _pct(ret, 0.5)
    return metrics


def _history(item: EvalItem, deep, chain) -> list:
    """The chat turns before a follow-up item (``"history": [earlier questions]``), asked for real."""
    from rag.chain import ask
    from rag.followup import Turn

    turns: list = []
    for earlier in item.extra.get("history", []):
        if chain is not None:
            turns.append(ask(chain, earlier, turns).turn())
        else:
            top = deep.invoke(earlier)[:1]
            turns.append(Turn(earlier, tuple(str(d.metadata.get("name", d.id)) for d in top)))
    return turns


def evaluate(items: list[EvalItem], retriever, chain=None, *, progress=None) -> dict[str, Any]:
    """Run every question: retrieval at depth 10 always, the full chain when ``chain`` is given.

    A follow-up item (``"history"``) first asks its earlier questions; its retrieval is scored
    on the question as resolved against them (as the chain would search it).
    """
    from rag.chain import ask

    rows = []
    deep = retriever.model_copy(update={"k": max(10, retriever.k)})
    for n, item in enumerate(items, start=1):
        turns = _history(item, deep, chain)
        search = item.question
        if turns and hasattr(deep, "contextualize"):
            search = deep.contextualize(item.question, turns).search
        t = time.perf_counter()
        ids = [d.id for d in deep.invoke(search)]
        row: dict[str, Any] = {
            "line": item.line, "question": item.question, "gold_ids": item.gold_ids, "refuse": item.refuse,
            "retrieved": ids, "rank": retrieval_ranks(item.gold_ids, ids),
            "retrieval_s": round(time.perf_counter() - t, 3),
        }
        if chain is not None:
            ans = ask(chain, item.question, turns)
            row.update(answer=ans.answer, refused=ans.refused, ungrounded=ans.ungrounded, timings=ans.timings,
                       cited=[d.id for d in ans.sources], method=ans.method,
                       correct=answer_correct(item, ans.answer, ans.refused))
        rows.append(row)
        if progress:
            progress(n, len(items))
    return {"metrics": score(rows), "rows": rows}


# Named configurations for ``--config`` (settings overrides); "default" is the shipped settings.
CONFIGS: dict[str, dict[str, Any]] = {
    "baseline": {"embedding": "minilm", "retrieval": "vector", "pipeline": "plain"},
    "e5-plain": {"embedding": "e5", "retrieval": "vector", "pipeline": "plain"},
    "hybrid-plain": {"embedding": "e5", "retrieval": "hybrid", "pipeline": "plain"},
    "default": {},
}
SHOWN = ("embedding", "retrieval", "pipeline", "top_k", "llm_backend", "llm_preset")


def parse_config(spec: str) -> tuple[str, dict[str, Any]]:
    """``baseline`` / ``default`` / ``embedding=minilm,retrieval=vector`` -> (label, settings overrides)."""
    if spec in CONFIGS:
        return spec, dict(CONFIGS[spec])
    overrides: dict[str, Any] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise SettingsError(
                f"--config {spec!r}: use a name ({', '.join(CONFIGS)}) or key=value pairs such as "
                "'embedding=minilm,retrieval=vector'."
            )
        overrides[key.strip()] = value.strip()
    return spec, overrides


def format_table(runs: list[dict[str, Any]]) -> str:
    """One column per configuration, one line per metric."""
    labels = [r["label"] for r in runs]
    keys = list(dict.fromkeys(k for r in runs for k in r["metrics"]))
    width = max(len(k) for k in keys + ["metric"])
    cols = [max(len(label), 8) for label in labels]
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{label:>{c}}" for label, c in zip(labels, cols, strict=True))]
    for k in keys:
        vals = [r["metrics"].get(k) for r in runs]
        lines.append(f"{k:<{width}}  " + "  ".join(f"{'' if v is None else v!s:>{c}}" for v, c in zip(vals, cols, strict=True)))
    return "\n".join(lines)


def _index_for(settings, store: str, tmp: Path):
    """The store's index built with this configuration's embedding model.

    The live index answers when it was built with the same model; otherwise the live store's
    documents are re-embedded with this configuration's model into a temporary directory for
    this run (the same documents and store facts: only the embedding differs).
    """
    from rag.errors import IndexMismatchError
    from rag.factory import build_embeddings, build_index
    from rag.models import embedding_id
    from rag.store import copy_store

    index = build_index(settings)
    try:
        index.live_collection(store, embedding_id(settings))
        return settings, index
    except IndexMismatchError:
        pass
    scratch = settings.model_copy(update={"data_dir": tmp / settings.embedding.replace("/", "_"),
                                          "model_dir": settings.model_cache_dir})
    target = build_index(scratch)
    copy_store(index, target, store, build_embeddings(scratch), embedding_id(scratch))
    return scratch, target


def main_eval(args, settings) -> int:
    """CLI body of ``python -m rag eval``: every ``--config`` on the same questions, side by side."""
    import tempfile

    from tqdm import tqdm

    from rag.chain import warm_up
    from rag.factory import build_embeddings, build_llm, build_retriever, build_store_chain

    items = load_items(args.file)
    if args.limit:
        items = items[: args.limit]
    store = args.store or settings.default_store
    specs = args.config or ["default"]
    runs: list[dict[str, Any]] = []
    llms: dict[tuple, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        for spec in specs:
            label, overrides = parse_config(spec)
            cfg = type(settings)(**{**settings.model_dump(), **overrides}) if overrides else settings  # validated
            cfg, index = _index_for(cfg, store, Path(tmp))
            embeddings = build_embeddings(cfg)
            retriever = build_retriever(cfg, index, embeddings, store)
            chain = None
            if not args.retrieval_only:
                key = (cfg.llm_backend, cfg.llm_preset, str(cfg.llm_model_path), cfg.llm_process, cfg.llm_server_args)
                if key not in llms:  # one model load for all configurations
                    llms[key] = build_llm(cfg)
                    warm_up(llms[key])  # as the app does: latency figures are for a loaded, warm model
                chain = build_store_chain(cfg, index, embeddings, llms[key], store)
            bar = None if args.json else tqdm(total=len(items), desc=label, file=sys.stderr)
            result = evaluate(items, retriever, chain, progress=(lambda n, t: bar.update(1)) if bar else None)
            if bar:
                bar.close()
            runs.append({"label": label, "config": {k: str(getattr(cfg, k)) for k in SHOWN}, **result})
    if args.json:
        print(json.dumps({"store": store, "file": str(args.file), "runs": runs}, ensure_ascii=False, indent=2))
        return 0
    print(format_table(runs))
    for run in runs:
        wrong = [r for r in run["rows"] if r.get("correct") is False]
        if wrong:
            print(f"\n[{run['label']}] {len(wrong)} wrong:")
        for r in wrong:
            print(f"✗ line {r['line']}: {r['question']}\n  got: {r['answer'][:200]}")
    return 0
