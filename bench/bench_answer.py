"""Answer latency and memory of the QA chain, with raw llama.cpp on the same prompts as baseline.

    python bench/bench_answer.py                       # the default: model in a supervised child process
    python bench/bench_answer.py --process inprocess   # the model loaded into this process
    python bench/bench_answer.py --compare             # both, one after the other, side by side + CLI calls
    python bench/bench_answer.py --preset qwen-0.5b --hf 2

For each question it records time to first token, total time, answer tokens and decode speed
through the whole chain (retrieval, guards, prompt, llama.cpp, checks). Then, with the same
loaded model and cache conditions, it sends the exact same chat messages straight to llama.cpp
(in-process: ``Llama.create_chat_completion``; server: one streaming HTTP request to the child,
no LangChain) so ``chain / raw`` is the chain's own overhead. Peak memory is this process's
``ru_maxrss`` plus, for the server, the child's ``VmHWM``. ``--compare`` also times whole
``python -m rag ask`` CLI calls: with no model server running (each call loads the model) and
with ``python -m rag serve`` running. Results go to bench/results/answer-<preset>-<process>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    ("techstore", "How much RAM does the MacBook Pro have?"),
    ("techstore", "How much does the iPhone 15 cost?"),
    ("techstore", "¿Cuánto cuesta el iPhone 15 Pro?"),
    ("techstore", "What colors does the iPhone 15 come in?"),
    ("techstore", "Does the AirPods Pro have noise cancellation?"),
    ("techstore", "¿Cuál es la garantía de los productos?"),
    ("techstore", "¿Qué laptop me recomiendas para programar?"),
    ("techstore", "Is the Dell XPS 15 in stock?"),
    ("techstore", "What screen does the iPad Pro have?"),
    ("techstore", "¿Qué procesador tiene el Lenovo ThinkPad X1 Carbon?"),
    ("techstore", "How long is the return period?"),
    ("techstore", "Do you sell the Samsung Galaxy S24?"),
    ("techstore", "¿Aceptan pagos con PayPal?"),
    ("bella-italia", "¿Hacen delivery?"),
    ("bella-italia", "¿Cuánto cuesta la Lasaña de la Casa?"),
    ("bella-italia", "How much is the Spaghetti Carbonara?"),
    ("bella-italia", "¿A qué hora abren los domingos?"),
    ("bella-italia", "What is in the Ravioli de Ricotta y Espinaca?"),
    ("bella-italia", "¿El Risotto de Champiñones lleva lácteos?"),
    ("bella-italia", "Do you take reservations?"),
    ("bella-italia", "¿Tienen sushi?"),
    ("bella-italia", "¿Cuál es el postre más recomendado?"),
    ("bella-italia", "Is the Tiramisú made with coffee?"),
    ("bella-italia", "¿Dónde está el restaurante?"),
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_peak_mb(llm) -> float:
    """Peak resident memory of the model child process (0 when the model is in this process)."""
    server = getattr(llm, "server", None)
    if server is None or server.proc is None:
        return 0.0
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def med(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


MODEL_ALIAS = "catalog-llm"  # rag.llm_server.MODEL_ALIAS (not imported at module level: nothing heavy before argparse)


class Raw:
    """Raw llama.cpp on the chain's loaded model: token counts and a streamed chat completion."""

    def __init__(self, llm, settings) -> None:
        self.llm, self.settings = llm, settings
        self.server = getattr(llm, "server", None)

    def tokens(self, text: str) -> int:
        if self.server is None:
            return len(self.llm.client.tokenize(text.encode(), add_bos=False))
        body = json.dumps({"input": text}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.server.port}/extras/tokenize/count", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["count"]

    def stream(self, messages: list[dict]):
        params = {"max_tokens": self.settings.max_tokens, "temperature": 0.0, "top_k": 1, "repeat_penalty": 1.0}
        if self.server is None:
            for chunk in self.llm.client.create_chat_completion(messages=messages, stream=True, **params):
                yield chunk["choices"][0]["delta"].get("content") or ""
            return
        body = json.dumps({"model": MODEL_ALIAS, "messages": messages, "stream": True, **params}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.server.port}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            for line in r:
                line = line.decode().strip()
                if line.startswith("data: ") and line != "data: [DONE]":
                    yield json.loads(line[6:])["choices"][0]["delta"].get("content") or ""


def run_chain(settings, questions, llm, raw: Raw):
    from rag.chain import stream_answer
    from rag.factory import build_embeddings, build_index, build_store_chain
    from rag.lexicon import WORDS
    from rag.prompts import PROMPT, format_rows, prompt_rows
    from rag.query import StoreFacts

    index = build_index(settings)
    emb = build_embeddings(settings)
    chains = {s: build_store_chain(settings, index, emb, llm, s) for s in {s for s, _ in questions}}
    facts = {s: StoreFacts.of(index.info(s)) for s in chains}
    rows, prompts = [], []
    for store, q in questions:
        t0 = time.perf_counter()
        first = None
        for piece in stream_answer(chains[store], q):
            if isinstance(piece, str) and first is None:
                first = time.perf_counter() - t0
            final = piece
        total = time.perf_counter() - t0
        used_llm = final.method == "llm"
        toks = raw.tokens(final.answer) if used_llm else 0
        first = final.timings.get("first_token_s", first or total)
        rows.append({"store": store, "question": q, "answer": final.answer, "refused": final.refused,
                     "first_token_s": round(first, 3), "total_s": round(total, 3), "tokens": toks, "llm": used_llm})
        if used_llm and final.retrieved:
            # the exact messages the chain sent, rebuilt from the rows it saw
            docs = prompt_rows(final.retrieved, q)
            msgs = PROMPT.format_messages(context=format_rows(docs, q), question=q, language=WORDS[final.language].language_name,
                                          currency=facts[store].money.label())
            prompts.append((len(rows) - 1, msgs))
    return rows, prompts


def run_raw(raw: Raw, prompts):
    """The same chat messages sent straight to llama.cpp (no LangChain, no retrieval, no checks)."""
    from rag.llm_server import as_openai_messages

    out = {}
    for i, msgs in prompts:
        messages = as_openai_messages(msgs)
        t0 = time.perf_counter()
        first, text = None, ""
        for delta in raw.stream(messages):
            if delta and first is None:
                first = time.perf_counter() - t0
            text += delta
        total = time.perf_counter() - t0
        out[i] = {"first_token_s": round(first or total, 3), "total_s": round(total, 3),
                  "tokens": raw.tokens(text), "prompt_tokens": raw.tokens(msgs[-1].content)}
    return out

def run_hf(settings, questions, n):
    from rag.chain import ask
    from rag.factory import build_embeddings, build_index, build_llm, build_store_chain

    t0 = time.perf_counter()
    llm = build_llm(settings.model_copy(update={"llm_backend": "transformers"}))
    load = time.perf_counter() - t0
    index, emb = build_index(settings), build_embeddings(settings)
    rows = []
    for store, q in questions[:n]:
        chain = build_store_chain(settings, index, emb, llm, store)
        ans = ask(chain, q)
        rows.append({"question": q, "answer": ans.answer, "total_s": ans.timings["total_s"],
                     "first_token_s": ans.timings.get("first_token_s")})
    return {"load_s": round(load, 1), "rows": rows}


CLI_QUESTIONS = ["What screen does the iPad Pro have?", "How much RAM does the MacBook Pro have?",
                 "Does the AirPods Pro have noise cancellation?", "How long is the return period?"]


def cli_calls(settings, n: int) -> dict:
    """Whole ``python -m rag ask`` calls (process start to exit), without and with ``rag serve`` running."""
    env = dict(os.environ, CATALOG_DATA_DIR=str(settings.data_dir), CATALOG_MODEL_DIR=str(settings.model_cache_dir),
               CATALOG_LLM_PRESET=settings.llm_preset)

    def one(question: str) -> dict:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "rag", "ask", "--json", question], capture_output=True, text=True,
                             env=env, cwd=ROOT, timeout=600)
        wall = time.perf_counter() - t0
        t = json.loads(out.stdout)["timings"]
        return {"wall_s": round(wall, 2), "load_s": t.get("load_s"), "first_token_s": t.get("first_token_s"),
                "total_s": t.get("total_s")}

    questions = [CLI_QUESTIONS[i % len(CLI_QUESTIONS)] for i in range(n)]  # different rows each call: no cache hit
    cold = [one(q) for q in questions]
    log = settings.data_dir / "bench-serve.log"
    with log.open("w") as fh:
        serve = subprocess.Popen([sys.executable, "-m", "rag", "serve"], env=env, cwd=ROOT, stderr=fh, text=True)
    try:
        deadline = time.time() + 300
        while "Model server ready" not in log.read_text():
            if serve.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"`rag serve` did not start: {log.read_text()[-500:]}")
            time.sleep(0.5)
        served = [one(q) for q in questions]
    finally:
        serve.terminate()
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
    return {"no_server": cold, "with_rag_serve": served}


def measure(args) -> dict:
    import logging

    logging.basicConfig(level=logging.WARNING)
    from ingest.pipeline import run as ingest
    from rag.chain import warm_up
    from rag.factory import build_llm
    from rag.settings import load_settings

    data = Path(tempfile.mkdtemp(prefix="bench-answer-"))
    settings = load_settings(data_dir=data, model_dir=ROOT / ".assistant" / "models", llm_preset=args.preset,
                             llm_process=args.process, llm_server_args=args.server_args)
    ingest(settings=settings)
    questions = QUESTIONS[: args.limit]
    t0 = time.perf_counter()
    llm = build_llm(settings)
    load_s = time.perf_counter() - t0  # server: start + load + prefix warm-up in the child
    t0 = time.perf_counter()
    warm_up(llm)  # as the app does when it loads the model: the shared prompt prefix is cached once
    warm_s = time.perf_counter() - t0
    raw_engine = Raw(llm, settings)
    rows, prompts = run_chain(settings, questions, llm, raw_engine)
    peak, child = rss_mb(), child_peak_mb(llm)
    raw = run_raw(raw_engine, prompts)

    print(f"\nmodel {args.preset} ({args.process}{' ' + args.server_args if args.server_args else ''}), {len(rows)} "
          f"questions, llm load {load_s:.1f}s, prompt prefix warm-up {warm_s:.1f}s, peak RSS {peak:.0f} MB"
          + (f" + model process {child:.0f} MB" if child else "") + "\n")
    print(f"{'question':<52} {'ttft':>6} {'total':>6} {'tok':>4} {'raw ttft':>8} {'raw tot':>7}")
    for i, r in enumerate(rows):
        rw = raw.get(i, {})
        print(f"{r['question'][:52]:<52} {r['first_token_s']:>6.2f} {r['total_s']:>6.2f} {r['tokens']:>4} "
              f"{rw.get('first_token_s', float('nan')):>8.2f} {rw.get('total_s', float('nan')):>7.2f}")
    llm_rows = [i for i, r in enumerate(rows) if i in raw]
    decode = [rows[i]["tokens"] / max(rows[i]["total_s"] - rows[i]["first_token_s"], 1e-3) for i in llm_rows if rows[i]["tokens"] > 1]
    raw_decode = [raw[i]["tokens"] / max(raw[i]["total_s"] - raw[i]["first_token_s"], 1e-3) for i in llm_rows if raw[i]["tokens"] > 1]
    summary = {
        "preset": args.preset,
        "process": args.process,
        "server_args": args.server_args,
        "questions": len(rows),
        "llm_answered": len(llm_rows),
        "chain_first_token_s_p50": med([r["first_token_s"] for r in rows]),
        "chain_total_s_p50": med([r["total_s"] for r in rows]),
        "chain_first_token_s_p50_llm_only": med([rows[i]["first_token_s"] for i in llm_rows]),
        "chain_total_s_p50_llm_only": med([rows[i]["total_s"] for i in llm_rows]),
        "chain_decode_tok_s_p50": med(decode),
        "raw_first_token_s_p50": med([raw[i]["first_token_s"] for i in llm_rows]),
        "raw_total_s_p50": med([raw[i]["total_s"] for i in llm_rows]),
        "raw_decode_tok_s_p50": med(raw_decode),
        "question_prompt_tokens_p50": med([raw[i]["prompt_tokens"] for i in llm_rows]),
        "answer_tokens_p50": med([raw[i]["tokens"] for i in llm_rows]),
        "overhead_ratio_total_p50": med([rows[i]["total_s"] / max(raw[i]["total_s"], 1e-3) for i in llm_rows]),
        "peak_rss_mb": round(peak),
        "model_process_peak_rss_mb": round(child),
        "total_peak_rss_mb": round(peak + child),
        "llm_load_s": round(load_s, 2),
        "prefix_warm_up_s": round(warm_s, 2),
    }
    if args.hf:
        summary["transformers_route"] = run_hf(settings, [questions[i] for i in llm_rows], args.hf)
    if args.cli:
        summary["cli"] = cli_calls(settings, args.cli)
    print("\n" + json.dumps(summary, ensure_ascii=False, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"answer-{args.preset}-{args.process}.json").write_text(
        json.dumps({"summary": summary, "rows": rows, "raw": raw}, ensure_ascii=False, indent=2))
    return summary


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="qwen-1.5b", choices=["qwen-1.5b", "qwen-0.5b", "smollm2-135m"])
    p.add_argument("--process", default="server", choices=["server", "inprocess"])
    p.add_argument("--server-args", default="", help="extra llama.cpp server arguments (settings.llm_server_args)")
    p.add_argument("--compare", action="store_true", help="run inprocess and server one after the other (separate "
                   "processes, so memory is not mixed) and print them side by side, with 3 CLI calls each way")
    p.add_argument("--cli", type=int, default=0, help="also time N whole `python -m rag ask` calls each way")
    p.add_argument("--hf", type=int, default=0, help="questions to run through the transformers route (0 = skip)")
    p.add_argument("--limit", type=int, default=len(QUESTIONS))
    args = p.parse_args()
    if not args.compare:
        measure(args)
        return 0
    results = {}
    for process in ("inprocess", "server"):
        cmd = [sys.executable, __file__, "--preset", args.preset, "--process", process, "--limit", str(args.limit),
               "--server-args", args.server_args, "--hf", str(args.hf)]
        if process == "server":
            cmd += ["--cli", str(args.cli or 3)]
        subprocess.run(cmd, check=True)
        results[process] = json.loads((ROOT / "bench" / "results" / f"answer-{args.preset}-{process}.json").read_text())["summary"]
    keys = [k for k in results["server"] if isinstance(results["server"][k], (int, float)) and k in results["inprocess"]]
    print(f"\n{'metric':<36} {'inprocess':>10} {'server':>10}")
    for k in keys:
        print(f"{k:<36} {results['inprocess'][k]:>10} {results['server'][k]:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
