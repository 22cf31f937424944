"""Settings precedence/validation and the offline model loading rules (hash check, clear errors)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rag import models
from rag.errors import ModelUnavailableError, SettingsError
from rag.settings import load_settings, validate_store_name


def test_defaults_are_the_measured_choices():
    s = load_settings()
    assert (s.embedding, s.retrieval, s.llm_backend, s.llm_preset) == ("e5", "hybrid", "llamacpp", "qwen-1.5b")
    assert s.chroma_dir == Path(".assistant") / "chroma"


def test_env_overrides_defaults_and_kwargs_override_env(monkeypatch):
    monkeypatch.setenv("CATALOG_LLM_PRESET", "qwen-0.5b")
    monkeypatch.setenv("CATALOG_TOP_K", "6")
    s = load_settings()
    assert s.llm_preset == "qwen-0.5b" and s.top_k == 6
    assert load_settings(top_k=3).top_k == 3


def test_streamlit_secrets_toml_is_read(tmp_path, monkeypatch):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[assistant]\nllm_preset = "qwen-0.5b"\ndefault_store = "bella-italia"\n')
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.llm_preset == "qwen-0.5b" and s.default_store == "bella-italia"
    monkeypatch.setenv("CATALOG_DEFAULT_STORE", "techstore")
    assert load_settings().default_store == "techstore", "env beats secrets.toml"


def test_invalid_settings_name_the_field_and_the_fix(monkeypatch):
    monkeypatch.setenv("CATALOG_TOP_K", "0")
    with pytest.raises(SettingsError, match=r"top_k: .*CATALOG_\* environment variables"):
        load_settings()


def test_upload_limits_have_shop_defaults_and_env_overrides(monkeypatch):
    limits = load_settings().limits
    assert (limits.file_mb, limits.rows, limits.columns, limits.cell_chars, limits.depth, limits.sections,
            limits.pages, limits.unzipped_mb) == (50, 50_000, 200, 32_768, 20, 2_000, 500, 100)
    monkeypatch.setenv("CATALOG_LIMITS__ROWS", "100000")
    assert load_settings().limits.rows == 100_000 and load_settings(limits={"pages": 9}).limits.pages == 9
    monkeypatch.setenv("CATALOG_LIMITS__CELL_CHARS", "200000")
    with pytest.raises(SettingsError, match=r"limits\.cell_chars: Input should be less than or equal to 131072"):
        load_settings()


@pytest.mark.parametrize("bad", ["", "A", "Tech Store", "../etc", "x" * 60])
def test_bad_store_names(bad):
    with pytest.raises(SettingsError, match="Invalid store name"):
        validate_store_name(bad)


def test_missing_model_package_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(
        models.PRESETS, "qwen-0.5b",
        models.PRESETS["qwen-0.5b"].__class__(
            name="x", packages=("no_such_model_pkg_part1",), pip_spec="no-such-model-pkg-part1==1.0",
            sha256="0" * 64, file_name="x.gguf",
        ),
    )
    with pytest.raises(ModelUnavailableError, match=r"'no-such-model-pkg-part1' is not installed. Install it with: pip install no-such-model-pkg-part1==1.0"):
        models.assemble_gguf("qwen-0.5b", tmp_path)


def test_hash_mismatch_refuses_to_load_and_leaves_no_file(monkeypatch, tmp_path):
    real = models.PRESETS["qwen-0.5b"]
    monkeypatch.setitem(models.PRESETS, "qwen-0.5b", real.__class__(
        name=real.name, packages=real.packages[:1], pip_spec=real.pip_spec, sha256="f" * 64, file_name=real.file_name))
    with pytest.raises(ModelUnavailableError, match="SHA-256 mismatch .* Refusing to load it. Reinstall exactly"):
        models.assemble_gguf("qwen-0.5b", tmp_path)
    assert list(tmp_path.iterdir()) == [], "a file that failed the hash check must not be kept"


def test_assembled_model_is_verified_once_and_tampering_is_caught(tmp_path, monkeypatch):
    """Assemble a tiny fake preset from a real chunk package, then tamper with the cache."""
    real = models.PRESETS["qwen-0.5b"]
    part = next(iter((models._package_dir(real.packages[0], "") / "data").glob("part*.bin")))
    digest = hashlib.sha256(part.read_bytes()).hexdigest()
    monkeypatch.setitem(models.PRESETS, "qwen-0.5b", real.__class__(
        name="one chunk", packages=real.packages[:1], pip_spec=real.pip_spec, sha256=digest, file_name="one.gguf"))
    path = models.assemble_gguf("qwen-0.5b", tmp_path)
    assert path.stat().st_size == part.stat().st_size
    assert models._is_verified(path, digest)
    with path.open("r+b") as fh:  # tamper: same size, different bytes
        fh.write(b"XXXX")
    assert not models._is_verified(path, digest)
    assert models.assemble_gguf("qwen-0.5b", tmp_path) == path  # re-assembled from the packages
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_own_gguf_path_must_be_a_gguf_file(tmp_path):
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"x")
    with pytest.raises(ModelUnavailableError, match="is not a .gguf file"):
        models.resolve_gguf(load_settings(llm_model_path=bogus))


def test_openai_backend_needs_a_base_url():
    with pytest.raises(ModelUnavailableError, match="CATALOG_OPENAI_BASE_URL is not set"):
        models.build_llm(load_settings(llm_backend="openai"))


def test_openai_backend_builds_a_chat_model_for_an_endpoint():
    llm = models.build_llm(load_settings(llm_backend="openai", openai_base_url="http://127.0.0.1:9/v1", openai_model="qwen"))
    assert llm.model_name == "qwen" and str(llm.openai_api_base).startswith("http://127.0.0.1:9")


def test_packaged_embeddings_are_multilingual(embeddings):
    import numpy as np

    q = np.array(embeddings.embed_query("¿Tienen pasta vegetariana?"))
    docs = np.array(embeddings.embed_documents(["Vegetarian pasta dishes", "Laptop with 16GB RAM"]))
    sims = docs @ q
    assert sims[0] > sims[1] + 0.05
