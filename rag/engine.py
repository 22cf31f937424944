"""The llama.cpp engine: built for the machine it runs on, and proven to work before it is used.

Why this exists: ``pip install llama-cpp-python`` compiles llama.cpp with ``GGML_NATIVE``,
which switches on every instruction set the build machine has. On CPUs with AMX (many current
Intel Xeons) that build faults on the first decode (``ldtilecfg`` in ``ggml_backend_amx_mul_mat``),
so the product could not answer a single question there. Instead we:

1. read the CPU's own flags (``/proc/cpuinfo``) and turn them into explicit ``GGML_*`` build
   options, leaving out what is known to crash (AMX);
2. build the wheel once into a cache folder named after those options (later installs reuse it);
3. run a short **self-test in a subprocess** (load the model, prefill a catalog-like prompt,
   decode a few tokens, check the text); if the subprocess dies or the text is wrong, rebuild
   with a portable AVX2-only configuration and test again;
4. record what passed in ``<data_dir>/engine.json``, so ``python -m rag doctor`` and the app
   know which build is in use.

``python -m rag.engine ensure`` does all of it (``run.sh`` and ``.ci/run`` call it);
``python -m rag.engine selftest`` is the child process of step 3. This module imports nothing
heavy at import time: it runs before llama-cpp-python is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LLAMA_CPP_VERSION = "0.3.36"  # the version pinned in requirements.txt (a test keeps them equal)
PACKAGE = "llama-cpp-python"

# GGML build option -> the /proc/cpuinfo flags it needs (all of them).
X86_OPTIONS: dict[str, tuple[str, ...]] = {
    "GGML_SSE42": ("sse4_2",),
    "GGML_AVX": ("avx",),
    "GGML_AVX2": ("avx2",),
    "GGML_FMA": ("fma",),
    "GGML_F16C": ("f16c",),
    "GGML_BMI2": ("bmi2",),
    "GGML_AVX_VNNI": ("avx_vnni",),
    "GGML_AVX512": ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"),
    "GGML_AVX512_VBMI": ("avx512vbmi",),
    "GGML_AVX512_VNNI": ("avx512_vnni",),
    "GGML_AVX512_BF16": ("avx512_bf16",),
}
# Known to crash with llama-cpp-python 0.3.36 (SIGSEGV at ldtilecfg on the first decode): never enabled.
EXCLUDED = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")
# The fallback when the machine-tuned build fails its self-test: runs on any x86-64 CPU since ~2015.
PORTABLE = ("GGML_SSE42", "GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C")

# A catalog-shaped self-test: long enough (>64 prompt tokens) to go through the batched matmul
# kernels that crashed, and checked for the right number so a miscompiled kernel cannot pass.
SELFTEST_SYSTEM = (
    "You answer questions about a shop's catalog using only these rows.\n"
    "[1] Blue Kettle | brand: Acme | category: kitchen | price: 24.50 | stock: 12\n"
    "[2] Red Toaster | brand: Acme | category: kitchen | price: 39.90 | stock: 0\n"
    "[3] Steel Pan 28 cm | brand: Chefline | category: cookware | price: 31.00 | stock: 5\n"
    "[4] Glass Teapot | brand: Vitra | category: kitchen | price: 18.75 | stock: 7\n"
    "Answer with the price only."
)
SELFTEST_QUESTION = "How much is the Blue Kettle?"
SELFTEST_EXPECT = "24.5"


class EngineError(RuntimeError):
    """The engine could not be built, installed or made to pass its self-test."""


@dataclass(frozen=True)
class BuildConfig:
    """One way to build llama.cpp: a name and the GGML options switched on (all others off)."""

    name: str  # "native" (this CPU's flags minus AMX) or "portable" (AVX2)
    options: tuple[str, ...]

    @property
    def cmake_args(self) -> str:
        if not self.options:  # not x86-64: llama.cpp's own defaults
            return ""
        known = list(X86_OPTIONS) + list(EXCLUDED)
        parts = ["-DGGML_NATIVE=OFF"] + [f"-D{o}={'ON' if o in self.options else 'OFF'}" for o in known]
        return " ".join(parts)

    @property
    def key(self) -> str:
        """Cache key: the version, the machine type and the exact options."""
        digest = hashlib.sha256(f"{LLAMA_CPP_VERSION} {platform.machine()} {self.cmake_args}".encode()).hexdigest()
        return f"{LLAMA_CPP_VERSION}-{self.name}-{digest[:12]}"


def cpuinfo_field(name: str, cpuinfo: str | None = None) -> str:
    """The first ``name : value`` line of ``/proc/cpuinfo`` (or of ``cpuinfo``); empty when there is none."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
    for line in cpuinfo.splitlines():
        if line.split(":", 1)[0].strip() == name:
            return line.split(":", 1)[1].strip()
    return ""


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU feature flags Linux reports (``flags`` line of ``/proc/cpuinfo``); empty elsewhere."""
    return set(cpuinfo_field("flags", cpuinfo).split())


def native_config(flags: set[str]) -> BuildConfig:
    """Every GGML x86 option whose CPU flags are all present, never AMX."""
    return BuildConfig("native", tuple(o for o, need in X86_OPTIONS.items() if all(f in flags for f in need)))


def portable_config() -> BuildConfig:
    return BuildConfig("portable", PORTABLE)


def candidate_configs(flags: set[str]) -> list[BuildConfig]:
    """What to try, best first: the machine's own features, then the portable AVX2 build.

    Not on x86-64 (or no flags readable): llama.cpp's own defaults are the only sensible choice.
    """
    if platform.machine().lower() not in ("x86_64", "amd64") or not flags:
        return [BuildConfig("default", ())]
    native = native_config(flags)
    if "avx2" not in flags:
        return [native]
    return [native] if set(native.options) == set(PORTABLE) else [native, portable_config()]


def cache_root() -> Path:
    """Where built wheels are kept between installs (``CATALOG_ENGINE_CACHE`` overrides)."""
    env = os.environ.get("CATALOG_ENGINE_CACHE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "catalog-assistant" / "llama-cpp-python"


# --------------------------------------------------------------------------- build and install


def _run(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> None:
    logger.info("$ %s", " ".join(cmd))
    with (log.open("ab") if log else open(os.devnull, "wb")) as out:
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise EngineError(f"`{' '.join(cmd[:6])} …` failed (exit {proc.returncode})" + (f"; see {log}" if log else ""))


def sdist_path() -> Path:
    """The llama-cpp-python source package, downloaded once (PyPI ships only source)."""
    folder = cache_root() / "sdist"
    found = sorted(folder.glob(f"llama_cpp_python-{LLAMA_CPP_VERSION}.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
          f"{PACKAGE}=={LLAMA_CPP_VERSION}", "-d", str(folder)])
    found = sorted(folder.glob(f"llama_cpp_python-{LLAMA_CPP_VERSION}.tar.gz"))
    if not found:
        raise EngineError(f"pip downloaded no {PACKAGE} {LLAMA_CPP_VERSION} source package into {folder}")
    return found[0]


def build_wheel(config: BuildConfig, progress: Callable[[str], None] = logger.info) -> Path:
    """The wheel for ``config``, built once (6-10 minutes on 2 cores) and then reused from the cache."""
    folder = cache_root() / config.key
    wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    if wheels:
        return wheels[0]
    src = sdist_path()
    tmp = folder.with_name(folder.name + f".partial-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    env = dict(os.environ, CMAKE_ARGS=config.cmake_args, CMAKE_BUILD_PARALLEL_LEVEL=str(min(cores, 4)))
    progress(f"Compiling llama.cpp ({config.name}: {', '.join(config.options) or 'defaults'}); "
             "this takes 4-10 minutes once, later installs reuse it")
    log = tmp / "build.log"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp), str(src)], env=env, log=log)
    (tmp / "build.json").write_text(json.dumps({"config": asdict(config), "cmake_args": config.cmake_args}, indent=2))
    os.replace(tmp, folder)  # published whole, so an interrupted build is never mistaken for a good one
    return sorted(folder.glob("llama_cpp_python-*.whl"))[0]


def install_wheel(wheel: Path) -> None:
    """Install exactly this wheel into the running interpreter's environment."""
    _run([sys.executable, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)])
    # its runtime dependencies (numpy, jinja2, diskcache, typing-extensions) and the server extras
    _run([sys.executable, "-m", "pip", "install", "-q", str(wheel) + "[server]"])


def installed_build() -> dict | None:
    """Which llama-cpp-python build is installed now, or None.

    Our builds carry ``.catalog-build.json`` with a stamp of their library files; any other build
    (a plain ``pip install``, as on Streamlit Community Cloud, or a reinstall over ours, which pip
    does not know to remove the marker for) gets a key from its library files, so a passed
    self-test is remembered for exactly the files that passed it.
    """
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    pkg = Path(dist.locate_file("llama_cpp"))
    stamp = _library_stamp(pkg) or dist.version
    marker = pkg / ".catalog-build.json"
    if marker.is_file():
        try:
            ours = json.loads(marker.read_text())
        except ValueError:
            ours = {}
        if ours.get("library_stamp") == stamp:
            return ours
    return {"config": {"name": "pip (built by pip with llama.cpp's defaults)", "options": []},
            "version": dist.version, "key": "pip-" + hashlib.sha256(stamp.encode()).hexdigest()[:12]}


def _library_stamp(pkg: Path) -> str:
    libs = sorted((pkg / "lib").glob("lib*.so*")) if (pkg / "lib").is_dir() else []
    return " ".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in libs)


def _mark_installed(config: BuildConfig) -> None:
    dist = importlib.metadata.distribution(PACKAGE)
    pkg = Path(dist.locate_file("llama_cpp"))
    (pkg / ".catalog-build.json").write_text(json.dumps({
        "config": asdict(config), "cmake_args": config.cmake_args, "version": dist.version, "key": config.key,
        "library_stamp": _library_stamp(pkg) or dist.version}, indent=2))


# --------------------------------------------------------------------------- self-test


@dataclass
class SelfTest:
    """Outcome of one self-test subprocess."""

    ok: bool
    message: str
    text: str = ""
    exit_code: int | None = None
    prompt_tokens: int = 0
    prefill_tok_s: float = 0.0
    decode_tok_s: float = 0.0
    load_s: float = 0.0
    system_info: str = ""


def describe_exit(code: int) -> str:
    """'killed by SIGSEGV (signal 11)' for a negative subprocess code, 'exit 3' otherwise."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name} (signal {-code})"
    return f"exit {code}"


def run_selftest(model_path: Path, *, n_threads: int = 2, timeout: float = 300.0,
                 check_answer: bool = True) -> SelfTest:
    """Load the model and decode a few tokens **in a child process**, so a crash only kills the child.

    ``check_answer``: the packaged Qwen models must give the row's price (a miscompiled kernel
    gives garbage); for other models (the tiny plumbing model, a user's own GGUF) any text will do,
    so a weak model is never taken for a broken build.
    """
    cmd = [sys.executable, "-m", "rag.engine", "selftest-child", str(Path(model_path).resolve()),
           "--threads", str(n_threads)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)
    except subprocess.TimeoutExpired:
        return SelfTest(False, f"the self-test did not finish in {timeout:.0f} s (hung)")
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return SelfTest(False, f"the model process was {describe_exit(proc.returncode)}" + (f": {tail}" if tail else ""),
                        exit_code=proc.returncode)
    try:
        data = json.loads(last)
    except ValueError:
        return SelfTest(False, f"the self-test printed no result (stdout: {last[:200]!r})", exit_code=0)
    text = data.get("text", "")
    ok = SELFTEST_EXPECT in text.replace(",", ".") if check_answer else bool(text.strip())
    msg = ("answered correctly" if ok else f"answered {text!r}, expected a text containing {SELFTEST_EXPECT!r}"
           if check_answer else "decoded text" if ok else "decoded no text")
    return SelfTest(ok, msg, text=text, exit_code=0, prompt_tokens=data["prompt_tokens"],
                    prefill_tok_s=data["prefill_tok_s"], decode_tok_s=data["decode_tok_s"], load_s=data["load_s"],
                    system_info=data.get("system_info", ""))


def _selftest_child(model_path: str, n_threads: int) -> int:
    """Child side: time the load, the prefill and a greedy decode; print one JSON line."""
    import llama_cpp

    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=model_path, n_ctx=512, n_batch=512, n_threads=n_threads, seed=0, verbose=False)
    load_s = time.perf_counter() - t0
    messages = [{"role": "system", "content": SELFTEST_SYSTEM}, {"role": "user", "content": SELFTEST_QUESTION}]
    # one streamed answer: the prompt's prefill ends when the first token arrives, the decode is the rest
    # (two separately timed calls gave nonsense rates on a busy machine)
    text, n_out, first = "", 0, None
    t0 = time.perf_counter()
    for chunk in llm.create_chat_completion(messages=messages, max_tokens=12, temperature=0.0, top_k=1,
                                            repeat_penalty=1.0, stream=True):
        piece = chunk["choices"][0]["delta"].get("content")
        if piece:
            first = first or time.perf_counter()
            text, n_out = text + piece, n_out + 1
    end = time.perf_counter()
    n_prompt = llm.n_tokens - n_out  # the context now holds the prompt and the answer
    prefill_s = (first or end) - t0
    decode_s = max(end - (first or end), 1e-6)
    print(json.dumps({
        "text": text,
        "prompt_tokens": n_prompt,
        "prefill_tok_s": round(n_prompt / max(prefill_s, 1e-6), 1),
        "decode_tok_s": round(max(n_out - 1, 0) / decode_s, 1),
        "load_s": round(load_s, 2),
        "system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
    }))
    return 0


# --------------------------------------------------------------------------- ensure


def state_path(data_dir: Path) -> Path:
    return data_dir / "engine.json"


def read_state(data_dir: Path) -> dict | None:
    try:
        return json.loads(state_path(data_dir).read_text())
    except (OSError, ValueError):
        return None


def ensure(model_path: Path, data_dir: Path, *, n_threads: int = 2, force: bool = False,
           flags: set[str] | None = None, configs: list[BuildConfig] | None = None, check_answer: bool = True,
           progress: Callable[[str], None] = logger.info) -> dict:
    """Make sure an engine that passes its self-test on this machine is installed; return its state.

    Tests what is installed first (unless ``force``), then tries the machine-tuned build, then the
    portable one; a build that cannot be compiled counts as a failed attempt. Raises
    :class:`EngineError` (with every attempt listed) when none works, after uninstalling the last
    failed build so nothing that crashes is left behind. One ensure at a time per machine (a file
    lock), since the app, ``rag serve`` and ``run.sh`` may all call it.
    """
    from filelock import FileLock

    model_path = Path(model_path).resolve()
    flags = cpu_flags() if flags is None else flags
    cache_root().mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_root() / "ensure.lock")):
        state = read_state(data_dir)
        current = installed_build()
        if (not force and state and state.get("ok") and current and current.get("key") == state.get("key")
                and state.get("cpu_flags_sha") == _flags_sha(flags) and state.get("model") == str(model_path)):
            return state
        attempts: list[str] = []
        tried: set[str] = set()

        def test(build: dict, label: str) -> dict | None:
            progress(f"Self-test of the {label} build: load the model, answer one catalog question")
            result = run_selftest(model_path, n_threads=n_threads, check_answer=check_answer)
            attempts.append(f"{label} ({build.get('cmake_args') or 'llama.cpp defaults'}): {result.message}")
            if result.ok:
                return _record(data_dir, build, flags, model_path, result, attempts)
            progress(f"The {label} build failed its self-test: {result.message}")
            tried.add(build.get("key", ""))
            return None

        if current and not configs and not force:  # whatever is installed may well work: test it before building
            if (done := test(current, f"installed {current['config']['name']}")) is not None:
                return done
        for config in configs or candidate_configs(flags):
            if config.key in tried:
                continue
            if not (current and current.get("key") == config.key):
                try:
                    install_wheel(build_wheel(config, progress))
                except (EngineError, OSError) as exc:
                    attempts.append(f"{config.name} ({config.cmake_args or 'llama.cpp defaults'}): could not be built "
                                    f"or installed: {exc}")
                    progress(f"The {config.name} build could not be built or installed: {exc}")
                    continue
                _mark_installed(config)
                current = installed_build()
            if (done := test(current, config.name)) is not None:
                return done
        if installed_build() is not None:
            _run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", PACKAGE])
        state_path(data_dir).unlink(missing_ok=True)
        raise EngineError("No llama.cpp build passed the self-test on this machine; llama-cpp-python was uninstalled "
                          "so nothing that crashes is left behind. Attempts:\n  " + "\n  ".join(attempts))


def answer_is_checked(settings) -> bool:
    """The self-test checks the answer for the packaged Qwen models only (see :func:`run_selftest`)."""
    return settings.llm_model_path is None and settings.llm_preset in ("qwen-1.5b", "qwen-0.5b")


def ensure_for(settings, progress: Callable[[str], None] = logger.info) -> dict | None:
    """:func:`ensure` for the configured model; a no-op (None) unless the backend is llama.cpp.

    Cheap when this build already passed on this CPU (one JSON read). Where it has not (a fresh
    Streamlit Community Cloud install, a venv copied to another machine) it self-tests, and
    rebuilds when the test fails; the model runs in a child process, so the new build is used
    without restarting the app. Failures become :class:`~rag.errors.ModelUnavailableError`.
    """
    from rag.errors import ModelUnavailableError
    from rag.models import resolve_gguf

    if settings.llm_backend != "llamacpp":
        return None
    try:
        return ensure(resolve_gguf(settings), settings.data_dir, n_threads=settings.n_threads,
                      check_answer=answer_is_checked(settings), progress=progress)
    except EngineError as exc:
        raise ModelUnavailableError(f"{exc}\nRun `python -m rag doctor` for the details of this machine.") from exc


def _record(data_dir: Path, build: dict, flags: set[str], model_path: Path, result: SelfTest, attempts: list[str]) -> dict:
    state = {"ok": True, "key": build.get("key"), "config": build.get("config"), "cmake_args": build.get("cmake_args", ""),
             "cpu_flags_sha": _flags_sha(flags), "model": str(model_path), "selftest": asdict(result),
             "attempts": attempts, "tested_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    data_dir.mkdir(parents=True, exist_ok=True)
    state_path(data_dir).write_text(json.dumps(state, indent=2))
    return state


def _flags_sha(flags: set[str]) -> str:
    return hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rag.engine", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    p_ensure = sub.add_parser("ensure", help="build/install llama.cpp for this CPU and self-test it")
    p_ensure.add_argument("--force", action="store_true", help="test again even if this build passed before")
    p_ensure.add_argument("--portable", action="store_true", help="skip the machine-tuned build: AVX2 only")
    p_child = sub.add_parser("selftest-child", help=argparse.SUPPRESS)
    p_child.add_argument("model")
    p_child.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.cmd == "selftest-child":
        return _selftest_child(args.model, args.threads)

    logging.basicConfig(level=logging.INFO, format="==> %(message)s")
    from rag.errors import AssistantError
    from rag.models import resolve_gguf
    from rag.settings import load_settings

    try:
        settings = load_settings()
        if args.portable or args.force:
            state = ensure(resolve_gguf(settings), settings.data_dir, n_threads=settings.n_threads, force=True,
                           configs=[portable_config()] if args.portable else None, check_answer=answer_is_checked(settings),
                           progress=logger.info)
        else:
            state = ensure_for(settings)
    except (EngineError, AssistantError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if state is None:
        logger.info("llm_backend is %s: no llama.cpp engine needed", settings.llm_backend)
        return 0
    st = state["selftest"]
    logger.info("llama.cpp %s build OK: prefill %.0f tok/s, decode %.1f tok/s, model load %.1f s",
                state["config"]["name"], st["prefill_tok_s"], st["decode_tok_s"], st["load_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
