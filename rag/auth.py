"""Who may change things: the admin password, the staff PIN and the failed-sign-in limiter.

Pure (no streamlit): the pages (``app_pages/auth.py``) and the CLI (``python -m rag admin-password``)
only call :class:`AccessControl`. Passwords are hashed with argon2id (``argon2-cffi``, RFC 9106's
low-memory profile); only the hash is ever written.

Where the admin password comes from, first match wins:

1. ``settings.admin_password_hash`` (an argon2 hash, from ``CATALOG_ADMIN_PASSWORD_HASH`` or secrets);
2. ``settings.admin_password`` (plain, from secrets or env: hashed when this object is built);
3. ``<data_dir>/auth/admin.json`` (mode 0600), written by the first-run "Create the admin password" form
   or by the CLI. The form needs a one-time setup code that only the person running the server can read
   (the server log and ``<data_dir>/auth/setup-code.txt``): on a public URL, whoever reaches the page
   first cannot claim the admin account.

Failed attempts are counted on disk (``attempts.json``), so every session and process of a data dir sees
the same counts and a page reload does not reset them: per account (admin password, setup code, staff
PIN) a lock after :attr:`Limits.max_failures` failures that doubles with each further failure, and a
server-wide lock when too many failures of any kind fall within a window.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from filelock import FileLock

from rag.errors import AuthError, LoginLockedError

if TYPE_CHECKING:  # pragma: no cover
    from rag.settings import Settings

logger = logging.getLogger(__name__)

ADMIN, SETUP, STAFF = "admin", "setup", "staff"  # the accounts the limiter counts separately
WHAT = {ADMIN: "password", SETUP: "setup code", STAFF: "PIN"}
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # argon2 pre-hashes any length; the cap only bounds what a form can send
SETUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread from a log
ACCOUNT_FORMAT = 1

_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4: about 0.2 s a hash on 2 cores


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; what ``admin_password_hash`` and admin.json hold)."""
    return _hasher.hash(password)


def is_argon2_hash(value: str) -> bool:
    """True when ``value`` parses as an argon2 hash (checks the encoding, not the password)."""
    try:
        _hasher.check_needs_rehash(value)
    except (InvalidHashError, ValueError):
        return False
    return value.startswith("$argon2")


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; a malformed hash is an :class:`AuthError`."""
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:  # mismatch (and the rarer argon2 verification failures)
        return False
    except InvalidHashError:
        raise AuthError(
            "The stored admin password hash is not an argon2 hash. Set a new one with "
            "`python -m rag admin-password` (or `--print-hash` for CATALOG_ADMIN_PASSWORD_HASH)."
        ) from None


def check_new_password(password: str, confirm: str) -> str:
    """``password`` when it may become the admin password; else an :class:`AuthError` saying why."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"The admin password needs at least {MIN_PASSWORD_CHARS} characters "
                        f"(this one has {len(password)}).",
                        key="password_too_short", params={"min": MIN_PASSWORD_CHARS, "length": len(password)})
    if len(password) > MAX_PASSWORD_CHARS:
        raise AuthError(f"The admin password may have at most {MAX_PASSWORD_CHARS} characters.",
                        key="password_too_long", params={"max": MAX_PASSWORD_CHARS})
    if not hmac.compare_digest(password.encode(), confirm.encode()):
        raise AuthError("The two passwords differ: type the same password twice.", key="passwords_differ")
    return password


def _duration(seconds: float) -> str:
    """30 -> '30 s', 600 -> '10 min' (rounded up: a user who waits that long is let in)."""
    s = max(1, math.ceil(seconds))
    return f"{s} s" if s < 120 else f"{math.ceil(s / 60)} min"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically (temp file, fsync, rename) readable by this user only (0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Limits:
    """How failed sign-ins are slowed down (the defaults are the app's)."""

    max_failures: int = 5  # failures of one account before it is locked
    first_lock_s: float = 30.0  # the first lock; each further failure doubles it
    max_lock_s: float = 900.0
    forget_after_s: float = 3600.0  # an account's failures are forgotten after this long without one
    server_failures: int = 20  # failures of all accounts together within server_window_s lock the server
    server_window_s: float = 900.0


class LoginLimiter:
    """Failed-attempt counts per account and server-wide, kept in a JSON file under a file lock.

    On disk rather than in memory so that every session and process of the data dir shares them, a
    reload or a second browser tab does not reset them, and the CLI can clear them.
    """

    def __init__(self, path: Path, limits: Limits = Limits(), clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.limits = limits
        self.clock = clock
        self._lock = FileLock(str(path.with_name(".attempts.lock")))

    def _load(self) -> dict[str, Any]:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
            if (isinstance(state, dict) and isinstance(state.get("accounts"), dict)
                    and isinstance(state.get("recent"), list)):
                return state
            logger.warning("%s has an unexpected shape; failed sign-in counts start again from zero", self.path)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:  # only counts are lost: never lock the admin out for good
            logger.warning("Cannot read %s (%s); failed sign-in counts start again from zero", self.path, exc)
        return {"accounts": {}, "recent": []}

    def _save(self, state: dict[str, Any]) -> None:
        _write_private(self.path, json.dumps(state, indent=1))

    def _account(self, state: dict[str, Any], account: str, now: float) -> dict[str, float]:
        entry = state["accounts"].get(account) or {"failures": 0, "last": 0.0, "locked_until": 0.0}
        if entry["failures"] and now - entry["last"] > self.limits.forget_after_s and now >= entry["locked_until"]:
            entry = {"failures": 0, "last": 0.0, "locked_until": 0.0}
        return entry

    def _server_locked_until(self, state: dict[str, Any], now: float) -> float:
        recent = sorted(t for t in state["recent"] if now - t < self.limits.server_window_s)
        state["recent"] = recent
        if len(recent) < self.limits.server_failures:
            return 0.0
        return recent[-self.limits.server_failures] + self.limits.server_window_s  # when the count drops below

    def attempt(self, account: str, ok: Callable[[], bool]) -> None:
        """Run the check ``ok`` for ``account`` unless locked; count a failure and raise its message.

        Lock, check and count happen under one file lock, so parallel sessions cannot all slip in
        before the count catches up (sign-ins are serialised: a verify takes about 0.2 s).
        """
        with self._lock:
            state = self._load()
            now = self.clock()
            server_until = self._server_locked_until(state, now)
            if now < server_until:
                wait = _duration(server_until - now)
                raise LoginLockedError(
                    f"Too many failed sign-in attempts on this server: signing in is locked for another {wait}.",
                    key="locked_server", params={"wait": wait},
                )
            entry = self._account(state, account, now)
            if now < entry["locked_until"]:
                wait = _duration(entry["locked_until"] - now)
                raise LoginLockedError(f"Too many failed attempts: signing in is locked for another {wait}.",
                                       key="locked", params={"wait": wait})
            if ok():
                # The server-wide window keeps its failures: a known PIN cannot reset it.
                if state["accounts"].pop(account, None) is not None:
                    self._save(state)
                return
            entry["failures"] += 1
            entry["last"] = now
            over = entry["failures"] - self.limits.max_failures
            lock = min(self.limits.first_lock_s * 2**over, self.limits.max_lock_s) if over >= 0 else 0.0
            entry["locked_until"] = now + lock
            state["accounts"][account] = entry
            state["recent"].append(now)
            self._save(state)
        wrong = f"Wrong {WHAT.get(account, 'password')}."
        if lock:
            raise AuthError(f"{wrong} Too many failed attempts: signing in is locked for {_duration(lock)}.",
                            key=f"wrong_{account}_locked", params={"lock": _duration(lock)})
        left = self.limits.max_failures - entry["failures"]
        first_lock = _duration(self.limits.first_lock_s)
        raise AuthError(f"{wrong} {left} attempt{'' if left == 1 else 's'} left before signing in is locked for "
                        f"{first_lock}.", key=f"wrong_{account}_left", params={"left": left, "lock": first_lock})

    def clear(self) -> None:
        """Forget every count and lock (``python -m rag admin-password --unlock``)."""
        with self._lock:
            self.path.unlink(missing_ok=True)


class AccessControl:
    """The admin account, the staff PIN and the limiter of one data dir.

    Cheap to build (one hash when ``admin_password`` is set); the app keeps one per process. Holds no
    per-user state: which session is signed in is the page layer's business (``st.session_state``).
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.dir = settings.data_dir / "auth"
        self.account_path = self.dir / "admin.json"
        self.setup_code_path = self.dir / "setup-code.txt"
        self.limiter = LoginLimiter(self.dir / "attempts.json", clock=clock)
        self.idle_s = settings.admin_idle_minutes * 60.0
        self.admin_emails = frozenset(e.lower() for e in settings.admin_emails)
        self._lock = FileLock(str(self.dir / ".account.lock"))
        self._settings_hash: str | None = None
        if settings.admin_password_hash is not None:
            self._settings_hash = settings.admin_password_hash.get_secret_value()
        elif settings.admin_password is not None:
            self._settings_hash = hash_password(settings.admin_password.get_secret_value())
        self._staff_pin = settings.staff_pin.get_secret_value() if settings.staff_pin is not None else None
        self._announced = False
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    @property
    def clock(self) -> Callable[[], float]:
        return self.limiter.clock

    # ------------------------------------------------------------------ the admin account
    @property
    def source(self) -> Literal["settings", "file", "none"]:
        """Where the admin password comes from: settings (env/secrets), admin.json, or nowhere yet."""
        if self._settings_hash is not None:
            return "settings"
        return "file" if self.account_path.is_file() else "none"

    def has_admin(self) -> bool:
        return self.source != "none"

    def _read_account(self) -> dict[str, Any]:
        try:
            account = json.loads(self.account_path.read_text(encoding="utf-8"))
            if not isinstance(account, dict) or not isinstance(account.get("password_hash"), str):
                raise ValueError("no password_hash")
            return account
        except (OSError, ValueError) as exc:
            raise AuthError(
                f"The admin account file {self.account_path} cannot be read ({exc}). "
                "Set a new password with `python -m rag admin-password`."
            ) from None

    def account_stamp(self) -> str | None:
        """Changes whenever the admin password is set again: a session signed in under an old stamp is signed out."""
        if self._settings_hash is not None:
            return "settings"
        if not self.account_path.is_file():
            return None
        return str(self._read_account().get("generation", ""))

    def _write_account(self, password_hash: str, generation: str | None = None) -> str:
        generation = generation or secrets.token_hex(8)
        account = {
            "format": ACCOUNT_FORMAT, "user": ADMIN, "password_hash": password_hash, "generation": generation,
            "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        _write_private(self.account_path, json.dumps(account, indent=1) + "\n")
        return generation

    def sign_in(self, password: str) -> str:
        """Check the admin password (rate-limited); returns the :meth:`account_stamp` to keep in the session."""
        if self._settings_hash is not None:
            self.limiter.attempt(ADMIN, lambda: verify_password(self._settings_hash, password))
            return "settings"
        if not self.account_path.is_file():
            raise AuthError("There is no admin account yet: create the admin password first.", key="no_admin_yet")
        account = self._read_account()
        self.limiter.attempt(ADMIN, lambda: verify_password(account["password_hash"], password))
        if _hasher.check_needs_rehash(account["password_hash"]):  # argon2's recommended cost went up
            with self._lock:
                self._write_account(hash_password(password), account.get("generation"))
        return str(account.get("generation", ""))

    def setup_code(self) -> str:
        """The one-time code the first-run form asks for: made once, kept in setup-code.txt, logged once a process."""
        with self._lock:
            try:
                code = self.setup_code_path.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                code = ""
            if not code:
                code = "-".join("".join(secrets.choice(SETUP_ALPHABET) for _ in range(4)) for _ in range(3))
                _write_private(self.setup_code_path, code + "\n")
        if not self._announced:
            self._announced = True
            logger.warning(
                "No admin account yet. Admin setup code: %s (type it on the app's Catalog or Fine-tune page to "
                "create the admin password; also saved in %s)", code, self.setup_code_path,
            )
        return code

    def create_admin(self, setup_code: str, password: str, confirm: str) -> str:
        """First run: check the setup code (rate-limited), then save the new password; returns its stamp."""
        if self.has_admin():
            raise AuthError("An admin password already exists: sign in with it, or reset it with "
                            "`python -m rag admin-password`.", key="admin_exists")
        expected = self.setup_code()
        typed = setup_code.strip().upper().replace(" ", "")
        self.limiter.attempt(SETUP, lambda: hmac.compare_digest(typed.encode(), expected.encode()))
        check_new_password(password, confirm)
        with self._lock:
            if self.account_path.is_file():  # another session won the race
                raise AuthError("An admin password was just created in another session: sign in with it.",
                                key="admin_created_elsewhere")
            generation = self._write_account(hash_password(password))
            self.setup_code_path.unlink(missing_ok=True)
        logger.warning("Admin password created from the app's first-run form (%s)", self.account_path)
        return generation

    def set_password(self, password: str, confirm: str) -> Path:
        """Set or reset the admin password in admin.json (the CLI): clears lockouts and the setup code."""
        if self._settings_hash is not None:
            raise AuthError(
                "The admin password is set in the settings (admin_password_hash or admin_password, from the "
                "CATALOG_* environment or .streamlit/secrets.toml): change it there. "
                "`python -m rag admin-password --print-hash` prints a hash to paste."
            )
        check_new_password(password, confirm)
        with self._lock:
            self._write_account(hash_password(password))
            self.setup_code_path.unlink(missing_ok=True)
        self.limiter.clear()
        return self.account_path

    # ------------------------------------------------------------------ OIDC admins and staff
    def is_admin_email(self, email: str | None, verified: bool | None = None) -> bool:
        """An OIDC user is admin when their e-mail is in ``admin_emails`` (and not marked unverified)."""
        return bool(email) and verified is not False and email.strip().lower() in self.admin_emails

    @property
    def staff_pin_required(self) -> bool:
        return self._staff_pin is not None

    def check_staff_pin(self, pin: str) -> None:
        """Accept the staff PIN or raise :class:`AuthError` (rate-limited like the password)."""
        if self._staff_pin is None:
            return
        expected = self._staff_pin
        self.limiter.attempt(STAFF, lambda: hmac.compare_digest(pin.strip().encode(), expected.encode()))
