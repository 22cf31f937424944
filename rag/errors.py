"""Exceptions raised by the core packages.

The core never prints or exits: it raises one of these with a message written for the
person at the counter (what went wrong, where, and the fix). The CLIs turn them into a
non-zero exit with that message; the pages show them with ``st.error``.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class for every error the catalog assistant reports to a user.

    The message (``str(exc)``) is English. The few errors staff meet every day (an empty question, a
    wrong password) also carry ``key`` and ``params``, so a page can show them in its UI language
    (``app_pages.i18n.error_text``); ``key`` is ``None`` for every other error, shown as written.
    """

    def __init__(self, *args: object, key: str | None = None, params: dict[str, object] | None = None) -> None:
        super().__init__(*args)
        self.key = key
        self.params = dict(params or {})


class SettingsError(AssistantError):
    """A setting has an invalid value."""


class ModelUnavailableError(AssistantError):
    """A model package is missing, its files fail the hash check, or it cannot load."""


class ModelCrashedError(AssistantError):
    """The model process died while answering (it is restarted for the next question)."""


class ModelServerError(AssistantError):
    """The OpenAI-compatible model server (``llm_backend='openai'``) is not answering or refused the request."""


class IndexServerError(AssistantError):
    """The Chroma server (``chroma run``, ``chroma_host``) that holds the catalog index is not answering."""


class IndexMissingError(AssistantError):
    """The store has no index yet (nothing ingested)."""


class IndexMismatchError(AssistantError):
    """The index was built with a different embedding model than the one configured."""


class QuestionError(AssistantError):
    """The question is empty, too long or otherwise unusable."""


class CatalogFileError(AssistantError):
    """A catalog file cannot be read at all (missing, unreadable, unknown format, empty)."""


class IngestLockedError(AssistantError):
    """Another ingest is already writing to the same store."""


class ToolInputError(AssistantError):
    """A side tool (sentiment, photo, voice) got input it cannot use: names the file and the problem."""


class FineTuneError(AssistantError):
    """Training, saving or loading a fine-tuned classifier failed, or the model name is unknown."""


class DataValidationError(FineTuneError):
    """Training data has problems; ``problems`` lists each one, naming its row or line."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class AuthError(AssistantError):
    """A sign-in or an admin-account change was refused: wrong password, PIN or setup code, or a weak password."""


class LoginLockedError(AuthError):
    """Too many failed sign-ins: attempts are refused, unchecked, until the lock expires."""
