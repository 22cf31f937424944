"""rag.auth without Streamlit: hashing, the account file, the setup code, the limiter, the settings and the CLI.

Real argon2, real files in a temp data dir, real file locks and threads; only the clock is a fake (a list
the test moves), so locks are checked to the second without sleeping.
"""

from __future__ import annotations

import io
import json
import logging
import stat
import threading

import pytest
from argon2 import PasswordHasher

from rag.__main__ import main
from rag.auth import (
    ADMIN, SETUP, STAFF, AccessControl, LoginLimiter, check_new_password, hash_password, verify_password,
)
from rag.errors import AuthError, LoginLockedError, SettingsError
from rag.settings import load_settings

PASSWORD = "correct horse battery"
FIRST_WRONG = "Wrong password. 4 attempts left before signing in is locked for 30 s."
STILL_LOCKED = "Too many failed attempts: signing in is locked for another {}."


class Clock:
    """A settable clock: ``clock.t += 30`` is thirty seconds later."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(settings, clock) -> AccessControl:
    return AccessControl(settings, clock=clock)


def refused(fn, *args) -> str:
    with pytest.raises(AuthError) as exc:
        fn(*args)
    return str(exc.value)


# ---------------------------------------------------------------- hashing and password rules
def test_hash_is_salted_argon2id_and_verifies_only_the_password():
    h = hash_password(PASSWORD)
    assert h.startswith("$argon2id$") and PASSWORD not in h
    assert h != hash_password(PASSWORD), "salted: the same password never gives the same hash"
    assert verify_password(h, PASSWORD)
    assert not verify_password(h, PASSWORD + " ")


def test_a_malformed_stored_hash_is_a_clear_error():
    assert refused(verify_password, "$2b$12$notargon", PASSWORD) == (
        "The stored admin password hash is not an argon2 hash. Set a new one with "
        "`python -m rag admin-password` (or `--print-hash` for CATALOG_ADMIN_PASSWORD_HASH)."
    )


def test_new_password_rules_name_the_problem():
    assert refused(check_new_password, "short", "short") == (
        "The admin password needs at least 10 characters (this one has 5)."
    )
    assert refused(check_new_password, "x" * 1025, "x" * 1025) == "The admin password may have at most 1024 characters."
    assert refused(check_new_password, PASSWORD, PASSWORD + "!") == (
        "The two passwords differ: type the same password twice."
    )
    assert check_new_password(PASSWORD, PASSWORD) == PASSWORD


# ---------------------------------------------------------------- the limiter
def test_five_failures_lock_for_30_s_then_each_further_failure_doubles_the_lock(tmp_path, clock):
    limiter = LoginLimiter(tmp_path / "attempts.json", clock=clock)
    messages = [refused(limiter.attempt, ADMIN, lambda: False) for _ in range(5)]
    assert messages == [
        "Wrong password. 4 attempts left before signing in is locked for 30 s.",
        "Wrong password. 3 attempts left before signing in is locked for 30 s.",
        "Wrong password. 2 attempts left before signing in is locked for 30 s.",
        "Wrong password. 1 attempt left before signing in is locked for 30 s.",
        "Wrong password. Too many failed attempts: signing in is locked for 30 s.",
    ]
    checked = []
    with pytest.raises(LoginLockedError, match=r"^Too many failed attempts: signing in is locked for another 30 s\.$"):
        limiter.attempt(ADMIN, lambda: checked.append(1) or True)
    assert not checked, "while locked the password is not even checked"
    clock.t += 20
    assert refused(limiter.attempt, ADMIN, lambda: True) == STILL_LOCKED.format("10 s")
    clock.t += 10
    assert refused(limiter.attempt, ADMIN, lambda: False) == (
        "Wrong password. Too many failed attempts: signing in is locked for 60 s."
    )
    clock.t += 60
    assert refused(limiter.attempt, ADMIN, lambda: False) == (
        "Wrong password. Too many failed attempts: signing in is locked for 2 min."
    )
    clock.t += 120
    limiter.attempt(ADMIN, lambda: True)  # the right password after the lock: let in, counts forgotten
    assert refused(limiter.attempt, ADMIN, lambda: False) == FIRST_WRONG


def test_the_lock_is_capped_at_15_minutes_and_failures_are_forgotten_after_an_hour(tmp_path, clock):
    limiter = LoginLimiter(tmp_path / "attempts.json", clock=clock)
    for _ in range(10):  # each after the previous lock: 30 s, 60 s … 960 s, capped at 900 s
        clock.t += 900
        with pytest.raises(AuthError):
            limiter.attempt(ADMIN, lambda: False)
    assert refused(limiter.attempt, ADMIN, lambda: True) == STILL_LOCKED.format("15 min")
    clock.t += 900 + 3600
    assert refused(limiter.attempt, ADMIN, lambda: False) == FIRST_WRONG


def test_accounts_are_counted_apart_and_the_server_locks_after_20_failures_in_15_minutes(tmp_path, clock):
    limiter = LoginLimiter(tmp_path / "attempts.json", clock=clock)
    for _ in range(4):
        with pytest.raises(AuthError):
            limiter.attempt(ADMIN, lambda: False)
    assert refused(limiter.attempt, STAFF, lambda: False) == (
        "Wrong PIN. 4 attempts left before signing in is locked for 30 s."
    )
    assert refused(limiter.attempt, SETUP, lambda: False) == (
        "Wrong setup code. 4 attempts left before signing in is locked for 30 s."
    )
    for account in ("w", "x", "y"):  # 18 failures, no account over its own limit
        for _ in range(4):
            with pytest.raises(AuthError):
                limiter.attempt(account, lambda: False)
    limiter.attempt(STAFF, lambda: True)  # a known PIN does not reset the server-wide count
    with pytest.raises(AuthError):
        limiter.attempt("z", lambda: False)
    assert refused(limiter.attempt, "z", lambda: False) == (
        "Wrong password. 3 attempts left before signing in is locked for 30 s."
    )
    assert refused(limiter.attempt, ADMIN, lambda: True) == (  # 20 failures in the window: nobody gets in
        "Too many failed sign-in attempts on this server: signing in is locked for another 15 min."
    )
    clock.t += 900  # the first failures leave the window
    limiter.attempt(ADMIN, lambda: True)


def test_counts_live_on_disk_so_a_new_session_or_process_sees_the_lock(tmp_path, clock):
    path = tmp_path / "auth" / "attempts.json"
    first = LoginLimiter(path, clock=clock)
    for _ in range(5):
        with pytest.raises(AuthError):
            first.attempt(ADMIN, lambda: False)
    assert mode(path) == 0o600
    again = LoginLimiter(path, clock=clock)  # what a reload, another tab or another process builds
    assert refused(again.attempt, ADMIN, lambda: True) == STILL_LOCKED.format("30 s")
    again.clear()
    first.attempt(ADMIN, lambda: True)


def test_parallel_attempts_cannot_slip_past_the_count(tmp_path, clock):
    """Ten sessions trying at the same instant: five are checked and counted, the other five are refused unchecked."""
    limiter = LoginLimiter(tmp_path / "attempts.json", clock=clock)
    errors: list[AuthError] = []
    start = threading.Barrier(10)

    def try_once():
        start.wait()
        try:
            limiter.attempt(ADMIN, lambda: verify_password(hash_password(PASSWORD), "guess-guess-guess"))
        except AuthError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=try_once) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 10
    assert sum(isinstance(e, LoginLockedError) for e in errors) == 5


def test_an_unreadable_counts_file_starts_from_zero_with_a_warning(tmp_path, clock, caplog):
    path = tmp_path / "attempts.json"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="rag.auth"):
        msg = refused(LoginLimiter(path, clock=clock).attempt, ADMIN, lambda: False)
    assert msg == FIRST_WRONG
    assert "failed sign-in counts start again from zero" in caplog.text


# ---------------------------------------------------------------- the admin account
def test_first_run_needs_the_setup_code_from_the_log_and_file(access, caplog):
    assert (access.source, access.has_admin(), access.account_stamp()) == ("none", False, None)
    with caplog.at_level(logging.WARNING, logger="rag.auth"):
        code = access.setup_code()
    assert code in caplog.text and str(access.setup_code_path) in caplog.text
    assert access.setup_code_path.read_text().strip() == code
    assert mode(access.setup_code_path) == 0o600 and mode(access.dir) == 0o700
    assert access.setup_code() == code, "one code until it is used"
    caplog.clear()
    access.setup_code()
    assert code not in caplog.text, "logged once per process"

    assert refused(access.create_admin, "AAAA-BBBB-CCCC", PASSWORD, PASSWORD) == (
        "Wrong setup code. 4 attempts left before signing in is locked for 30 s."
    )
    assert refused(access.create_admin, code, "short", "short") == (
        "The admin password needs at least 10 characters (this one has 5)."
    )
    stamp = access.create_admin(code.lower(), PASSWORD, PASSWORD)  # typed in lower case: still the code

    assert access.source == "file" and access.account_stamp() == stamp
    assert not access.setup_code_path.exists()
    assert mode(access.account_path) == 0o600
    saved = json.loads(access.account_path.read_text())
    assert saved["user"] == "admin" and saved["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in access.account_path.read_text()
    assert access.sign_in(PASSWORD) == stamp
    assert refused(access.create_admin, code, PASSWORD, PASSWORD) == (
        "An admin password already exists: sign in with it, or reset it with `python -m rag admin-password`."
    )


def test_sign_in_counts_wrong_passwords_and_a_reset_changes_the_stamp(access):
    assert refused(access.sign_in, PASSWORD) == "There is no admin account yet: create the admin password first."
    access.set_password(PASSWORD, PASSWORD)
    stamp = access.sign_in(PASSWORD)
    assert refused(access.sign_in, "not the password") == FIRST_WRONG
    access.set_password("a brand new secret", "a brand new secret")
    assert access.account_stamp() != stamp, "sessions signed in before the reset are signed out"
    assert refused(access.sign_in, PASSWORD) == FIRST_WRONG, "the reset cleared the earlier failure"


def test_a_weaker_stored_hash_is_upgraded_on_sign_in(access):
    access.set_password(PASSWORD, PASSWORD)
    account = json.loads(access.account_path.read_text())
    account["password_hash"] = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    access.account_path.write_text(json.dumps(account))
    stamp = access.sign_in(PASSWORD)
    upgraded = json.loads(access.account_path.read_text())
    assert "m=65536,t=3,p=4" in upgraded["password_hash"] and upgraded["generation"] == stamp


def test_a_damaged_account_file_names_the_file_and_the_fix(access):
    access.dir.mkdir(parents=True, exist_ok=True)
    access.account_path.write_text("{}")
    assert refused(access.sign_in, PASSWORD) == (
        f"The admin account file {access.account_path} cannot be read (no password_hash). "
        "Set a new password with `python -m rag admin-password`."
    )


def test_a_hash_or_password_from_settings_wins_and_cannot_be_reset_from_the_cli(tmp_path, clock):
    hashed = load_settings(data_dir=tmp_path / "a", admin_password_hash=hash_password(PASSWORD))
    by_hash = AccessControl(hashed, clock=clock)
    by_plain = AccessControl(load_settings(data_dir=tmp_path / "b", admin_password=PASSWORD), clock=clock)
    for access in (by_hash, by_plain):
        assert access.source == "settings" and access.has_admin()
        assert access.sign_in(PASSWORD) == "settings"
        assert refused(access.sign_in, "wrong password!") == FIRST_WRONG
        assert refused(access.set_password, "another password", "another password").startswith(
            "The admin password is set in the settings (admin_password_hash or admin_password"
        )
    assert not by_plain.account_path.exists()


def test_staff_pin_and_oidc_admin_emails(tmp_path, clock):
    settings = load_settings(data_dir=tmp_path, staff_pin="2468", admin_emails="Boss@Shop.example")
    access = AccessControl(settings, clock=clock)
    assert access.staff_pin_required
    assert refused(access.check_staff_pin, "1357") == "Wrong PIN. 4 attempts left before signing in is locked for 30 s."
    access.check_staff_pin(" 2468 ")
    assert access.is_admin_email("boss@shop.example") and access.is_admin_email(" BOSS@shop.example", True)
    assert not access.is_admin_email("boss@shop.example", verified=False)
    assert not access.is_admin_email("clerk@shop.example") and not access.is_admin_email(None)
    assert not AccessControl(load_settings(data_dir=tmp_path / "open")).staff_pin_required


# ---------------------------------------------------------------- settings
def test_access_settings_from_env_and_secrets_toml(tmp_path, monkeypatch):
    h = hash_password(PASSWORD)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        f'admin_password_hash = "{h}"\nadmin_emails = ["Boss@Shop.example", "it@shop.example"]\n'
        '[assistant]\nstaff_pin = "2468"\n'
    )
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.admin_password_hash.get_secret_value() == h and h not in repr(s)
    assert s.admin_emails == ["boss@shop.example", "it@shop.example"]
    assert s.staff_pin.get_secret_value() == "2468"
    monkeypatch.setenv("CATALOG_ADMIN_EMAILS", "a@shop.example, b@shop.example")
    assert load_settings().admin_emails == ["a@shop.example", "b@shop.example"]


@pytest.mark.parametrize(("overrides", "problem"), [
    ({"admin_password_hash": "$2b$12$abc"}, "admin_password_hash: Value error, must be an argon2 hash ($argon2id$...), "
                                            "as `python -m rag admin-password --print-hash` prints"),
    ({"admin_password": "short"}, "admin_password: Value error, needs at least 10 characters"),
    ({"staff_pin": "12"}, "staff_pin: Value error, needs at least 4 characters"),
    ({"admin_emails": "boss, it@shop.example"}, "admin_emails: Value error, not e-mail addresses: boss"),
    ({"admin_password": PASSWORD, "admin_password_hash": hash_password(PASSWORD)},
     "settings: Value error, set admin_password_hash or admin_password, not both"),
])
def test_invalid_access_settings_are_refused_with_the_fix(overrides, problem):
    with pytest.raises(SettingsError) as exc:
        load_settings(**overrides)
    assert str(exc.value) == (
        f"Invalid settings ({problem}). Check the CATALOG_* environment variables or .streamlit/secrets.toml."
    )


# ---------------------------------------------------------------- the CLI
def test_cli_sets_resets_prints_and_unlocks(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["admin-password", "--password-stdin"]) == 0
    access = AccessControl(load_settings())
    assert capsys.readouterr().out == (
        f"Admin password saved in {access.account_path}. Failed sign-in counts are cleared, and sessions "
        "signed in with the old password are signed out.\n"
    )
    access.sign_in(PASSWORD)

    for _ in range(5):
        with pytest.raises(AuthError):
            access.sign_in("not it, sorry")
    assert main(["admin-password", "--unlock"]) == 0
    assert capsys.readouterr().out == "Failed sign-in counts and locks cleared.\n"
    access.sign_in(PASSWORD)

    monkeypatch.setattr("sys.stdin", io.StringIO("tiny\n"))
    assert main(["admin-password", "--password-stdin"]) == 2
    assert capsys.readouterr().err == "error: The admin password needs at least 10 characters (this one has 4).\n"

    monkeypatch.setattr("sys.stdin", io.StringIO("for the cloud secrets\n"))
    assert main(["admin-password", "--password-stdin", "--print-hash"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password(printed, "for the cloud secrets")
    access.sign_in(PASSWORD)  # --print-hash saved nothing

    monkeypatch.setenv("CATALOG_ADMIN_PASSWORD_HASH", printed)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["admin-password", "--password-stdin"]) == 2
    assert capsys.readouterr().err.startswith("error: The admin password is set in the settings")
