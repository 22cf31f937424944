"""The llama.cpp engine: build flags from the CPU, self-test in a subprocess, fallback, doctor.

The orchestration of ``ensure`` is pure logic and is tested with the compiler and pip replaced
(a true boundary: a build takes 4-10 minutes). The self-test itself runs for real: the
installed build, the real model, a real child process, and a real crash of that child.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag import engine
from rag.engine import BuildConfig, EngineError, SelfTest

ROOT = Path(__file__).resolve().parent.parent

AMX_XEON = ("flags\t\t: fpu sse4_2 avx avx2 fma f16c bmi2 avx512f avx512cd avx512vl avx512dq avx512bw "
            "avx512_vnni avx512_bf16 avx512vbmi avx_vnni amx_bf16 amx_tile amx_int8\n")
OLD_DESKTOP = "flags\t\t: fpu sse4_2 avx avx2 fma f16c\n"
NO_AVX2 = "flags\t\t: fpu sse4_2 avx\n"


def test_amx_is_never_built_even_on_an_amx_cpu(monkeypatch):
    monkeypatch.setattr(engine.platform, "machine", lambda: "x86_64")
    flags = engine.cpu_flags(AMX_XEON)
    assert {"amx_tile", "amx_int8"} <= flags
    configs = engine.candidate_configs(flags)
    assert [c.name for c in configs] == ["native", "portable"]
    native = configs[0]
    assert "GGML_AVX512" in native.options and "GGML_AVX512_BF16" in native.options
    assert "-DGGML_NATIVE=OFF" in native.cmake_args
    for amx in engine.EXCLUDED:
        assert f"-D{amx}=OFF" in native.cmake_args and f"-D{amx}=ON" not in native.cmake_args


def test_avx512_needs_all_five_base_flags():
    partial = engine.cpu_flags("flags : avx avx2 fma f16c avx512f avx512cd\n")
    assert "GGML_AVX512" not in engine.native_config(partial).options


def test_an_avx2_only_cpu_needs_no_second_build(monkeypatch):
    monkeypatch.setattr(engine.platform, "machine", lambda: "x86_64")
    configs = engine.candidate_configs(engine.cpu_flags(OLD_DESKTOP))
    assert len(configs) == 1 and set(configs[0].options) == set(engine.PORTABLE)
    no_avx2 = engine.candidate_configs(engine.cpu_flags(NO_AVX2))
    assert len(no_avx2) == 1 and "GGML_AVX2" not in no_avx2[0].options


def test_other_architectures_keep_llama_cpp_defaults(monkeypatch):
    monkeypatch.setattr(engine.platform, "machine", lambda: "aarch64")
    assert engine.candidate_configs({"neon", "asimd"}) == [BuildConfig("default", ())]


def test_cache_keys_differ_by_options_and_name_the_version():
    a, b = engine.native_config(engine.cpu_flags(AMX_XEON)), engine.portable_config()
    assert a.key != b.key and a.key.startswith(engine.LLAMA_CPP_VERSION)


def test_requirements_pin_the_version_the_engine_builds():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    assert pins["llama-cpp-python"] == engine.LLAMA_CPP_VERSION


def test_describe_exit_names_the_signal():
    assert engine.describe_exit(-11) == "killed by SIGSEGV (signal 11)"
    assert engine.describe_exit(3) == "exit 3"


class FakeToolchain:
    """Stands in for the compiler and pip; the self-test outcome per build is scripted."""

    def __init__(self, monkeypatch, outcomes: dict[str, SelfTest], installed: dict | None = None,
                 unbuildable: tuple[str, ...] = ()):
        self.installed, self.outcomes, self.built, self.commands = installed, outcomes, [], []
        self.unbuildable = unbuildable
        monkeypatch.setattr(engine, "build_wheel", self.build_wheel)
        monkeypatch.setattr(engine, "install_wheel", self.install_wheel)
        monkeypatch.setattr(engine, "_mark_installed", self.mark)
        monkeypatch.setattr(engine, "installed_build", lambda: self.installed)
        monkeypatch.setattr(engine, "run_selftest", self.selftest)
        monkeypatch.setattr(engine, "_run", lambda cmd, **kw: self.commands.append(cmd))

    def build_wheel(self, config, progress):
        self.built.append(config.name)
        if config.name in self.unbuildable:
            raise EngineError(f"`pip wheel` failed (exit 1); see /cache/{config.key}/build.log")
        return Path(f"/wheels/{config.key}.whl")

    def install_wheel(self, wheel):
        pass

    def mark(self, config):
        self.installed = {"config": {"name": config.name}, "key": config.key, "cmake_args": config.cmake_args}

    def selftest(self, model, n_threads=2, timeout=300.0, check_answer=True):
        return self.outcomes[self.installed["config"]["name"]]


@pytest.fixture(autouse=True)
def _engine_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CATALOG_ENGINE_CACHE", str(tmp_path / "engine-cache"))


CRASH = SelfTest(False, "the model process was killed by SIGSEGV (signal 11)", exit_code=-11)
PASS = SelfTest(True, "answered correctly", text="24.50", exit_code=0, prompt_tokens=165, prefill_tok_s=150.0,
                decode_tok_s=20.0, load_s=2.0)


def test_a_crashing_native_build_falls_back_to_the_portable_build(monkeypatch, tmp_path):
    tools = FakeToolchain(monkeypatch, {"native": CRASH, "portable": PASS})
    state = engine.ensure(tmp_path / "m.gguf", tmp_path, flags=engine.cpu_flags(AMX_XEON), progress=lambda m: None)
    assert tools.built == ["native", "portable"]
    assert state["config"]["name"] == "portable" and state["ok"]
    assert "SIGSEGV" in state["attempts"][0]
    assert json.loads((tmp_path / "engine.json").read_text())["key"] == engine.portable_config().key


def test_a_build_that_passed_on_this_cpu_is_not_tested_again(monkeypatch, tmp_path):
    tools = FakeToolchain(monkeypatch, {"native": PASS})
    flags = engine.cpu_flags(AMX_XEON)
    engine.ensure(tmp_path / "m.gguf", tmp_path, flags=flags, progress=lambda m: None)
    tools.outcomes = {}  # any further self-test would raise KeyError
    engine.ensure(tmp_path / "m.gguf", tmp_path, flags=flags, progress=lambda m: None)
    assert tools.built == ["native"]


def test_a_venv_moved_to_another_cpu_is_tested_again(monkeypatch, tmp_path):
    tools = FakeToolchain(monkeypatch, {"native": PASS})
    engine.ensure(tmp_path / "m.gguf", tmp_path, flags=engine.cpu_flags(OLD_DESKTOP), progress=lambda m: None)
    tools.outcomes = {"native": CRASH, "portable": PASS}
    state = engine.ensure(tmp_path / "m.gguf", tmp_path, flags=engine.cpu_flags(AMX_XEON), progress=lambda m: None)
    assert state["config"]["name"] == "portable"


def test_an_installed_build_that_passes_is_kept(monkeypatch, tmp_path):
    pip_build = {"config": {"name": "pip"}, "key": "pip-abc"}
    tools = FakeToolchain(monkeypatch, {"pip": PASS}, installed=pip_build)
    state = engine.ensure(tmp_path / "m.gguf", tmp_path, flags=engine.cpu_flags(AMX_XEON), progress=lambda m: None)
    assert tools.built == [] and state["key"] == "pip-abc"


def test_when_nothing_passes_the_engine_is_uninstalled_and_every_attempt_named(monkeypatch, tmp_path):
    tools = FakeToolchain(monkeypatch, {"pip": CRASH, "native": CRASH, "portable": CRASH},
                          installed={"config": {"name": "pip"}, "key": "pip-abc"})
    with pytest.raises(EngineError) as err:
        engine.ensure(tmp_path / "m.gguf", tmp_path, flags=engine.cpu_flags(AMX_XEON), progress=lambda m: None)
    msg = str(err.value)
    assert "No llama.cpp build passed the self-test on this machine" in msg
    assert msg.count("SIGSEGV") == 3 and "portable" in msg and "native" in msg
    assert any(cmd[-4:] == ["uninstall", "-y", "-q", "llama-cpp-python"] for cmd in tools.commands)
    assert not (tmp_path / "engine.json").exists()


def test_a_build_that_does_not_compile_is_an_attempt_and_the_next_is_tried(monkeypatch, tmp_path):
    tools = FakeToolchain(monkeypatch, {"portable": PASS}, unbuildable=("native",))
    state = engine.ensure(tmp_path / "m.gguf", tmp_path, flags=engine.cpu_flags(AMX_XEON), progress=lambda m: None)
    assert tools.built == ["native", "portable"] and state["config"]["name"] == "portable"
    assert "could not be built or installed: `pip wheel` failed" in state["attempts"][0]


def test_non_x86_builds_with_llama_cpp_defaults():
    assert BuildConfig("default", ()).cmake_args == ""


# --------------------------------------------------------------------------- real self-test


@pytest.fixture(scope="module")
def model_path():
    from rag.models import resolve_gguf
    from rag.settings import load_settings

    return resolve_gguf(load_settings(model_dir=ROOT / ".assistant" / "models"))


def test_selftest_of_the_installed_build_answers_the_catalog_question(model_path):
    result = engine.run_selftest(model_path)
    assert result.ok, result.message
    assert engine.SELFTEST_EXPECT in result.text
    assert result.prompt_tokens > 64  # long enough for the batched matmul kernels that crashed on AMX
    assert result.prefill_tok_s > 0 and result.decode_tok_s > 0
    assert "AMX_INT8 = 1" not in result.system_info


def test_selftest_runs_from_any_working_directory(model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # e.g. `streamlit run /path/to/streamlit_app.py` from elsewhere
    assert engine.run_selftest(model_path).ok


def test_selftest_reports_a_crashing_child_instead_of_dying(monkeypatch, model_path):
    real_run = subprocess.run

    def crash_instead(cmd, **kwargs):  # the child segfaults as a bad build does
        return real_run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"], **kwargs)

    monkeypatch.setattr(engine.subprocess, "run", crash_instead)
    result = engine.run_selftest(model_path)
    assert not result.ok and result.exit_code == -11
    assert result.message.startswith("the model process was killed by SIGSEGV (signal 11)")


def test_doctor_reports_every_check_and_exits_zero_here(tmp_path):
    env_dir = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-m", "rag", "doctor", "--json"], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "CATALOG_DATA_DIR": str(env_dir),
                               "CATALOG_MODEL_DIR": str(ROOT / ".assistant" / "models")}, timeout=300)
    report = json.loads(proc.stdout)
    names = [c["name"] for c in report["checks"]]
    assert names[:3] == ["cpu", "llama.cpp", "answer model"] and names[-3:] == ["chroma", "dictionary", "self-test"]
    assert report["ok"] and proc.returncode == 0, report
    selftest = report["checks"][-1]["detail"]
    assert "answered '24.50'" in selftest and "prefill" in selftest


def test_doctor_names_the_fix_when_the_model_is_missing(tmp_path):
    from rag.doctor import run_checks
    from rag.settings import load_settings

    bogus = tmp_path / "nope.gguf"
    checks = {c.name: c for c in run_checks(load_settings(data_dir=tmp_path, llm_model_path=bogus))}
    assert not checks["answer model"].ok and "is not a .gguf file" in checks["answer model"].detail
    assert not checks["self-test"].ok and checks["self-test"].fix
    off = {c.name: c for c in run_checks(load_settings(data_dir=tmp_path, bilingual_dictionary=""), selftest=False)}
    assert off["dictionary"].ok and "switched off" in off["dictionary"].detail
    missing = {c.name: c for c in run_checks(load_settings(data_dir=tmp_path, bilingual_dictionary=tmp_path), selftest=False)}
    assert missing["dictionary"].ok and "apt install apertium-eng-spa" in missing["dictionary"].fix  # optional: a hint
