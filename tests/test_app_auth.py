"""The admin and staff gates on the real app (AppTest): what a signed-out session can reach, and signing in.

The gates need no catalog index: each test points the app at an empty data dir with no sample catalogs,
so nothing is ingested and no model is loaded. The admin account, the setup code and the failed-attempt
counts are the real files in that dir. Only the clock of the process-wide access object is a fake, so
lock messages are checked to the second.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_pages import auth, resources  # noqa: E402
from app_pages.components import md  # noqa: E402
from rag.__main__ import main  # noqa: E402
from rag.auth import AccessControl, hash_password  # noqa: E402
from rag.settings import load_settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
CATALOG, FINE_TUNE = "app_pages/catalog.py", "app_pages/fine_tune.py"
PASSWORD = "back-office-2468"
LOCKED = "Wrong password. Too many failed attempts: signing in is locked for 30 s."


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def _clear_caches() -> None:
    resources.get_settings.clear()
    resources.get_index.clear()
    auth.get_access.clear()


@pytest.fixture
def clock(tmp_path, monkeypatch) -> Clock:
    """Point the app at an empty data dir (no sample catalogs) and freeze its access object's clock."""
    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CATALOG_CATALOG_DIR", str(tmp_path / "no-samples"))
    _clear_caches()
    fake = Clock()
    yield fake
    _clear_caches()


def start(clock: Clock, page: str | None = None) -> AppTest:
    """A new browser session (what a reload is): the app's first run, then ``page``."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    auth.get_access().limiter.clock = clock  # the process-wide object every session shares
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def make_admin() -> AccessControl:
    """The shop's admin account in the test's data dir, as `python -m rag admin-password` makes it."""
    access = AccessControl(load_settings())
    access.set_password(PASSWORD, PASSWORD)
    return access


def sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input(key="admin_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def unlocked(at: AppTest) -> bool:
    """The Catalog page's admin part is drawn (its upload section and store actions)."""
    return "Update from files" in [s.value for s in at.subheader] and "Create store" in [b.label for b in at.button]


def assert_only_the_sign_in_form(at: AppTest) -> None:
    """Nothing that changes anything is on the page: no uploader, no tab, no button but "Sign in"."""
    assert [s.value for s in at.subheader] == ["🔒 Admin sign-in"]
    assert [b.label for b in at.button] == ["Sign in"]  # no Apply, Rebuild, Create store, Delete, Train…
    assert [t.label for t in at.text_input] == ["Admin password"]
    assert not at.file_uploader and not at.tabs


# ---------------------------------------------------------------- signed out
@pytest.mark.parametrize("page", [CATALOG, FINE_TUNE])
def test_a_signed_out_session_reaches_no_admin_action(clock, page):
    make_admin()
    at = start(clock, page)

    assert_only_the_sign_in_form(at)
    assert at.title[0].value == ("📦 Catalog · techstore" if page == CATALOG else "Fine-tune a classifier")
    assert not at.sidebar.button, "no Log out for a session that is not signed in"


def test_staff_pages_stay_open_without_a_pin(clock):
    make_admin()
    at = start(clock)
    assert at.title[0].value == "💬 Ask the catalog"
    assert "Admin password" not in [t.label for t in at.text_input]
    for page, title in (("app_pages/reviews.py", "Reviews"), ("app_pages/photo.py", "Photo")):
        at.switch_page(page).run()
        assert not at.exception
        assert title.lower() in at.title[0].value.lower()
        assert "🔒 Admin sign-in" not in [s.value for s in at.subheader]


# ---------------------------------------------------------------- password sign-in
def test_wrong_passwords_are_counted_then_locked_even_for_the_right_one_then_let_in(clock):
    make_admin()
    at = start(clock, CATALOG)

    for left in (4, 3, 2, 1):
        sign_in(at, "guess-" + str(left))
        assert errors(at) == [f"Wrong password. {left} attempt{'s' if left > 1 else ''} left before signing in "
                              "is locked for 30 s."]
        assert_only_the_sign_in_form(at)
    sign_in(at, "guess-0")
    assert errors(at) == [LOCKED]

    sign_in(at, PASSWORD)
    assert errors(at) == ["Too many failed attempts: signing in is locked for another 30 s."]
    assert_only_the_sign_in_form(at)

    reloaded = start(clock, CATALOG)  # a reload is a new session: the count is the server's, not the session's
    clock.t += 12
    sign_in(reloaded, PASSWORD)
    assert errors(reloaded) == ["Too many failed attempts: signing in is locked for another 18 s."]

    clock.t += 18
    sign_in(reloaded, PASSWORD)
    assert not errors(reloaded)
    assert unlocked(reloaded)
    assert not unlocked(at), "signing in is per session"
    at.run()
    assert_only_the_sign_in_form(at)


def test_right_password_unlocks_both_admin_pages_and_log_out_locks_them_again(clock):
    make_admin()
    at = sign_in(start(clock, CATALOG), PASSWORD)
    assert not errors(at) and unlocked(at)
    assert [c.value for c in at.sidebar.caption][-1] == "🔓 Signed in as admin"

    at.switch_page(FINE_TUNE).run()
    assert [t.label for t in at.tabs] == ["Text classifier", "Image classifier", "Chat data (JSONL)"]
    assert "Start training" in [b.label for b in at.button]

    next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    assert not at.exception
    assert_only_the_sign_in_form(at)
    at.switch_page(CATALOG).run()
    assert_only_the_sign_in_form(at)
    assert "auth_admin" not in at.session_state


def test_a_password_reset_or_30_idle_minutes_sign_the_session_out(clock, monkeypatch):
    make_admin()
    at = sign_in(start(clock, CATALOG), PASSWORD)
    clock.t += 29 * 60
    at.run()
    assert unlocked(at), "used within the idle limit"

    clock.t += 31 * 60
    at.run()
    assert [i.value for i in at.info] == ["Signed out after 30 minutes without use: sign in again."]
    assert_only_the_sign_in_form(at)

    sign_in(at, PASSWORD)
    assert unlocked(at)
    monkeypatch.setattr("sys.stdin", io.StringIO("the new back-office secret\n"))
    assert main(["admin-password", "--password-stdin"]) == 0
    at.run()
    assert [i.value for i in at.info] == ["The admin password was changed: sign in again."]
    assert_only_the_sign_in_form(at)
    sign_in(at, "the new back-office secret")
    assert unlocked(at)


# ---------------------------------------------------------------- first run
def test_first_run_creates_the_admin_with_the_setup_code_from_the_server_log(clock, caplog):
    with caplog.at_level(logging.WARNING, logger="rag.auth"):
        at = start(clock, CATALOG)
    access = auth.get_access()
    code = access.setup_code_path.read_text().strip()
    assert f"Admin setup code: {code}" in caplog.text
    assert [s.value for s in at.subheader] == ["🔑 Create the admin password"]
    assert code not in " ".join(m.value for m in [*at.markdown, *at.caption, *at.code]), "the page never shows the code"
    assert [b.label for b in at.button] == ["Create admin"] and not at.file_uploader

    def create(typed: str, password: str, confirm: str) -> list[str]:
        at.text_input(key="admin_setup_code").input(typed)
        at.text_input(key="admin_new_password").input(password)
        at.text_input(key="admin_confirm_password").input(confirm)
        next(b for b in at.button if b.label == "Create admin").click().run()
        assert not at.exception
        return errors(at)

    assert create("ABCD-EFGH-JKLM", PASSWORD, PASSWORD) == [
        "Wrong setup code. 4 attempts left before signing in is locked for 30 s."
    ]
    assert create(code, "short", "short") == ["The admin password needs at least 10 characters (this one has 5)."]
    assert create(code, PASSWORD, PASSWORD + "x") == ["The two passwords differ: type the same password twice."]
    assert not access.has_admin()

    assert create(code, PASSWORD, PASSWORD) == []
    assert unlocked(at)
    assert access.source == "file" and not access.setup_code_path.exists()

    other = start(clock, CATALOG)  # everyone else now gets the sign-in form, not the setup form
    assert_only_the_sign_in_form(other)
    assert unlocked(sign_in(other, PASSWORD))


# ---------------------------------------------------------------- from env / secrets
@pytest.mark.parametrize("variable", ["CATALOG_ADMIN_PASSWORD_HASH", "CATALOG_ADMIN_PASSWORD"])
def test_an_admin_password_from_env_or_secrets_is_used_and_no_setup_form_appears(clock, monkeypatch, variable):
    monkeypatch.setenv(variable, hash_password(PASSWORD) if variable.endswith("HASH") else PASSWORD)
    at = start(clock, CATALOG)
    assert_only_the_sign_in_form(at)
    assert not auth.get_access().setup_code_path.exists()

    sign_in(at, "not the password")
    assert errors(at) == ["Wrong password. 4 attempts left before signing in is locked for 30 s."]
    sign_in(at, PASSWORD)
    assert not errors(at) and unlocked(at)


# ---------------------------------------------------------------- staff PIN
def test_a_staff_pin_is_asked_once_per_session_before_anything_is_shown(clock, monkeypatch):
    monkeypatch.setenv("CATALOG_STAFF_PIN", "2468")
    at = start(clock)
    assert [t.value for t in at.title] == ["🔒 Staff PIN"]
    assert not at.chat_input and not at.sidebar.selectbox, "no page and no store names before the PIN"

    at.text_input(key="staff_pin").input("1357")
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert errors(at) == ["Wrong PIN. 4 attempts left before signing in is locked for 30 s."]
    assert [t.value for t in at.title] == ["🔒 Staff PIN"]

    at.text_input(key="staff_pin").input("2468")
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert not at.exception and not errors(at)
    assert at.title[0].value == "💬 Ask the catalog"
    at.switch_page("app_pages/reviews.py").run()
    assert "🔒 Staff PIN" not in [t.value for t in at.title], "once per session"
    at.switch_page(CATALOG).run()
    assert [s.value for s in at.subheader] == ["🔑 Create the admin password"], "the PIN is not the admin password"

    next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    assert [t.value for t in at.title] == ["🔒 Staff PIN"]
    assert [t.value for t in start(clock).title] == ["🔒 Staff PIN"], "a new session asks again"


# ---------------------------------------------------------------- OIDC (st.login)
OIDC_SECRETS = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-random-cookie-secret",
        "google": {
            "client_id": "shop-client",
            "client_secret": "shop-secret",
            "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
        },
    }
}


def oidc_session(clock: Clock, user: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets.update(OIDC_SECRETS)
    at.user = user
    at.run()
    auth.get_access().limiter.clock = clock
    at.switch_page(CATALOG).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_with_oidc_admins_are_the_listed_emails_signed_in_through_st_login(clock, monkeypatch):
    monkeypatch.setenv("CATALOG_ADMIN_EMAILS", "boss@shop.example")
    make_admin()  # a password account exists too, but OIDC replaces it

    out = oidc_session(clock, {"is_logged_in": False})
    assert [s.value for s in out.subheader] == ["🔒 Admin sign-in"]
    assert [b.label for b in out.button] == ["Sign in with Google"]
    assert not out.text_input and not out.file_uploader

    clerk = oidc_session(clock, {"is_logged_in": True, "email": "clerk@shop.example", "email_verified": True})
    assert errors(clerk) == [  # the e-mail is shown as text, never as a live mailto link (app_pages.components.md)
        f"{md('clerk@shop.example')} is not an admin of this app. Admins are the e-mails listed in admin_emails."
    ]
    assert [b.label for b in clerk.button] == ["Log out"] and not clerk.file_uploader

    boss = oidc_session(clock, {"is_logged_in": True, "email": "Boss@Shop.example", "email_verified": True})
    assert unlocked(boss)
    assert [c.value for c in boss.sidebar.caption][-1] == f"🔓 Signed in as {md('Boss@Shop.example')}"
    next(b for b in boss.sidebar.button if b.label == "Log out").click().run()
    assert not boss.exception
    assert boss.user == {"is_logged_in": False}
    assert [b.label for b in boss.button] == ["Sign in with Google"]
