"""Check ``epqa_heldout.jsonl`` against the ePQA data: only reads the CSV, never runs the assistant.

    .venv/bin/python bench/heldout/check_epqa_heldout.py

- every line is one JSON object with exactly the fields of the set, 40 answerable and 10 refusals,
  at least 10 answerable and 3 refusals in Spanish;
- an answerable item's ``gold_ids`` exist in the corpus ``load_epqa`` builds, belong to one product, and are
  exactly the label-2 snippets of one real ePQA question;
- no product of the set is used by any question of ``bench/catalogs/epqa.jsonl`` (the dev set);
- no ``expect_any`` string is in its own question or in a refusal-like sentence (it must not pass by echo);
- the brand/model words of each absent-product refusal are in no row (title or snippet), and the rows of each
  price question's product state no price.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.bench_retrieval import EPQA_CSV, load_epqa  # noqa: E402
from rag.text import normalise  # noqa: E402

SET = ROOT / "bench" / "heldout" / "epqa_heldout.jsonl"
DEV = ROOT / "bench" / "catalogs" / "epqa.jsonl"
FIELDS = {"question", "gold_ids", "expect_any", "refuse", "lang", "tags"}

# refusal question -> words no row may contain (case-insensitive)
ABSENT = {
    "Does the Dyson V15 Detect cordless vacuum come with a wall mount?": ["dyson", "v15"],
    "Does the Weber Genesis II E-335 gas grill have a side burner?": ["genesis ii", "e-335", "e335"],
    "Does the BLACK+DECKER BDCDD120C drill kit include a charger?": ["bdcdd120"],
    "How long does the battery last on the Sony WH-1000XM4 headphones?": ["1000xm4", "wh-1000"],
    "Does the Little Tikes Cozy Truck have a working horn?": ["cozy truck"],
    "¿La olla Instant Pot Duo Crisp tiene función de freidora de aire?": ["instant pot", "duo crisp"],
    "¿La impresora HP OfficeJet Pro 9015e imprime a doble cara?": ["9015"],
    "¿Cuánto pesa el cajón Meinl HCAJ3NT?": ["hcaj3"],
}
# price question -> the product it names (in the corpus, but none of its rows gives a price)
PRICE = {
    "How much does the Bushnell Perma Focus 10x50 wide angle binocular cost?": "B00005AXIV",
    "¿Cuánto cuesta la calculadora científica Texas Instruments TI-30XIIS?": "B00000JBNX",
}
PRICE_WORDS = re.compile(r"\$|€|pric|cost|dollar|\busd\b|\bbucks?\b|euro|\bpaid\b|\bpay|cheap|expens|\d+\.\d\d\b", re.I)
REFUSAL_LIKE = [
    "That is not in the catalog.", "Eso no está en el catálogo.", "Sorry, the catalog rows don't say; in this case I can't tell.",
    "The catalog does not mention it; please check with the manufacturer.",
    "No lo sé: el catálogo no lo indica, consulte al fabricante.", "No tengo información sobre ese producto.",
]


def main() -> int:
    corpus, questions, _ = load_epqa(EPQA_CSV)
    ids = {c["id"]: c for c in corpus}
    label2_sets = {tuple(sorted(q["gold"])) for q in questions}
    dev_asins = {g.rsplit("-", 1)[0] for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()
                 for g in json.loads(line).get("gold_ids", [])}
    rows_text = [(c["id"], (c["name"] + " " + c["description"]).lower()) for c in corpus]
    errors: list[str] = []
    items = []
    for n, line in enumerate(SET.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: not JSON ({exc.msg})")
            continue
        if set(item) != FIELDS:
            errors.append(f"line {n}: fields {sorted(item)}")
        items.append((n, item))
    answerable = [(n, i) for n, i in items if not i["refuse"]]
    refusals = [(n, i) for n, i in items if i["refuse"]]
    asins = []
    for n, item in answerable:
        gold = item["gold_ids"]
        missing = [g for g in gold if g not in ids]
        if not gold or missing:
            errors.append(f"line {n}: gold ids missing from the corpus: {missing or 'none given'}")
            continue
        products = {ids[g]["_asin"] for g in gold}
        if len(products) != 1:
            errors.append(f"line {n}: gold ids span products {sorted(products)}")
        if tuple(sorted(gold)) not in label2_sets:
            errors.append(f"line {n}: gold ids are not the label-2 snippets of one ePQA question")
        asins += sorted(products)
        if products & dev_asins:
            errors.append(f"line {n}: product {sorted(products & dev_asins)} is used by the dev set")
        if not item["expect_any"]:
            errors.append(f"line {n}: answerable item without expect_any")
        for s in item["expect_any"]:
            if normalise(s) in normalise(item["question"]) or any(normalise(s) in normalise(r) for r in REFUSAL_LIKE):
                errors.append(f"line {n}: expect_any {s!r} passes by echo or refusal")
        if item["lang"] == "es" and "crosslingual" not in item["tags"]:
            errors.append(f"line {n}: Spanish item without the crosslingual tag")
    for n, item in refusals:
        q = item["question"]
        if item["gold_ids"] or item["expect_any"]:
            errors.append(f"line {n}: refusal with gold_ids or expect_any")
        if q in ABSENT:
            for word in ABSENT[q]:
                hits = [i for i, t in rows_text if word.lower() in t]
                if hits:
                    errors.append(f"line {n}: {word!r} is in rows {hits[:3]}")
        elif q in PRICE:
            rows = [c for c in corpus if c["_asin"] == PRICE[q]]
            priced = [c["id"] for c in rows if PRICE_WORDS.search(c["name"] + " " + c["description"])]
            if not rows or priced:
                errors.append(f"line {n}: product {PRICE[q]} has {len(rows)} rows, price-like text in {priced}")
        else:
            errors.append(f"line {n}: refusal not covered by a check")
    if len(set(asins)) != len(asins):
        errors.append("two answerable items ask about the same product")
    es_a = sum(i["lang"] == "es" for _, i in answerable)
    es_r = sum(i["lang"] == "es" for _, i in refusals)
    if (len(items), len(answerable), len(refusals)) != (50, 40, 10) or es_a < 10 or es_r < 3:
        errors.append(f"counts: {len(items)} items, {len(answerable)} answerable ({es_a} es), {len(refusals)} refusals ({es_r} es)")
    print(f"{SET.name}: {len(items)} items, {len(answerable)} answerable ({es_a} es), "
          f"{len(refusals)} refusals ({es_r} es); {len(set(asins))} products, {len(set(asins) & dev_asins)} of them in the dev set")
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
