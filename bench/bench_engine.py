"""llama.cpp prefill and decode speed per build configuration, on this machine, in one run.

    python bench/bench_engine.py                  # every wheel built so far (see rag/engine.py), 3 repeats
    python bench/bench_engine.py --build-portable # build the portable AVX2 wheel first if missing (4-10 min)

Each built wheel in the engine cache (``~/.cache/catalog-assistant/llama-cpp-python``) is
unpacked into a temp folder and measured in its own child process (so a crashing build is a
result, not the end of the run): model load, prefill of the assistant's real prompt (the fixed
system prompt and worked examples plus one question's rows, ~700 tokens, KV cache cleared first),
and 32 greedy decode tokens, with 1 and 2 threads, and with flash attention on and off. The
portable AVX2 build is the baseline: every row prints its ratio to it. Figures are medians of
``--repeat`` runs. Results go to bench/results/engine.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, sys, time
import llama_cpp
from rag.llm_server import as_openai_messages
from rag.prompts import PROMPT
model, threads, flash, repeat = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
rows = ("[1] iPad Pro 13\" (M4)\ncategory: Tablets | brand: Apple | price: 1299.00 | stock: 3 | colors: Space Black; Silver | "
        "specs: Apple M4 chip; 256GB storage; 13-inch Ultra Retina XDR tandem OLED display with ProMotion 120Hz; Face ID")
msgs = PROMPT.format_messages(context=rows, question="What screen does the iPad Pro have?", language="English",
                              currency="US dollars ($)")
t0 = time.perf_counter()
llm = llama_cpp.Llama(model_path=model, n_ctx=2048, n_batch=512, n_threads=threads, n_threads_batch=threads,
                      flash_attn=flash, seed=0, verbose=False)
load = time.perf_counter() - t0
llm.create_chat_completion(messages=as_openai_messages(msgs), max_tokens=1)  # renders the chat template once; its prompt tokens are what we time
prompt = [int(t) for t in llm._input_ids[: llm.n_tokens]]
out = []
for _ in range(repeat):
    llm.reset()  # the next eval drops the KV cache from position 0: the whole prompt is computed again
    t0 = time.perf_counter(); llm.eval(prompt); prefill = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(32):
        tok = llm.sample(top_k=1, temp=0.0)
        llm.eval([tok])
    decode = time.perf_counter() - t0
    out.append((len(prompt) / prefill, 32 / decode))
print(json.dumps({"load_s": load, "prompt_tokens": len(prompt), "prefill": [o[0] for o in out],
                  "decode": [o[1] for o in out], "system_info": llama_cpp.llama_print_system_info().decode()}))
"""


def wheels() -> dict[str, Path]:
    from rag.engine import cache_root

    found = {}
    for folder in sorted(cache_root().glob("*")):
        whl = sorted(folder.glob("llama_cpp_python-*.whl"))
        if whl and ".partial-" not in folder.name:
            found[folder.name] = whl[0]
    return found


def measure(target: Path, model: Path, threads: int, flash: bool, repeat: int) -> dict:
    env_path = f"{target}:{ROOT}"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(model), str(threads), "1" if flash else "0", str(repeat)],
                          capture_output=True, text=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin",
                                                               "HF_HUB_OFFLINE": "1"}, timeout=900)
    if proc.returncode != 0:
        from rag.engine import describe_exit

        return {"error": describe_exit(proc.returncode), "stderr": proc.stderr[-400:]}
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    data["prefill_tok_s"] = round(statistics.median(data.pop("prefill")), 1)
    data["decode_tok_s"] = round(statistics.median(data.pop("decode")), 1)
    return data


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--build-portable", action="store_true")
    args = p.parse_args()
    from rag import engine
    from rag.models import resolve_gguf
    from rag.settings import load_settings

    if args.build_portable:
        engine.build_wheel(engine.portable_config(), print)
    model = resolve_gguf(load_settings(model_dir=ROOT / ".assistant" / "models"))
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        for key, whl in wheels().items():
            target = Path(tmp) / key
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(whl)],
                           check=True)
            for threads in (1, 2):
                for flash in (False, True):
                    if threads == 1 and flash:
                        continue
                    r = measure(target, model, threads, flash, args.repeat)
                    results.append({"build": key, "threads": threads, "flash_attn": flash, **r})
                    print(json.dumps({k: v for k, v in results[-1].items() if k != "system_info"}), flush=True)
    if not results:
        print("No llama.cpp wheel is cached yet: run `python -m rag.engine ensure` (or --build-portable).")
        return 1
    base = {(r["threads"], r["flash_attn"]): r for r in results if "-portable-" in r["build"] and "error" not in r}
    print(f"\n{'build':<30} {'thr':>3} {'flash':>5} {'prefill tok/s':>13} {'decode tok/s':>12} {'prefill x':>9} "
          f"{'decode x':>8} {'load s':>6}")
    for r in results:
        if "error" in r:
            print(f"{r['build']:<30} {r['threads']:>3} {str(r['flash_attn']):>5}  CRASHED: {r['error']}")
            continue
        b = base.get((r["threads"], r["flash_attn"]))
        px = f"{r['prefill_tok_s'] / b['prefill_tok_s']:.2f}" if b else "-"
        dx = f"{r['decode_tok_s'] / b['decode_tok_s']:.2f}" if b else "-"
        print(f"{r['build']:<30} {r['threads']:>3} {str(r['flash_attn']):>5} {r['prefill_tok_s']:>13} "
              f"{r['decode_tok_s']:>12} {px:>9} {dx:>8} {r['load_s']:>6.1f}")
    print(f"(prompt: {results[0].get('prompt_tokens', '?')} tokens; baseline = the portable AVX2 build)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "engine.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
