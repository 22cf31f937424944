"""The admin and staff gates of the pages; the checks themselves live in :mod:`rag.auth`.

One line gates a page or everything below a point::

    require_admin()   # the sign-in form instead of the rest of the script, until signed in
    if is_admin():    # or a block that should just be absent for staff
        st.button("Delete store")

Who is signed in is per session (``st.session_state``), never in the process-wide cache: the cached
:class:`rag.auth.AccessControl` only holds the account and the shared failed-attempt counts. With an OIDC
provider in ``[auth]`` of secrets.toml, admins sign in with ``st.login`` and are the e-mails listed in
``admin_emails``; otherwise with the admin password (created on first run with a setup code).
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from app_pages.components import md
from app_pages.i18n import error_text, t
from app_pages.resources import get_settings
from rag.auth import MIN_PASSWORD_CHARS, AccessControl
from rag.errors import AuthError

ADMIN_KEY = "auth_admin"  # {"stamp": account stamp, "seen": last use}: a password sign-in of this session
STAFF_KEY = "auth_staff"  # True once this session typed the staff PIN
NOTICE_KEY = "auth_notice"  # why this session was signed out, shown once on the sign-in form


@st.cache_resource(show_spinner=False)
def get_access() -> AccessControl:
    return AccessControl(get_settings())


def oidc_providers() -> list[str | None] | None:
    """The ``st.login`` providers of ``[auth]`` in secrets.toml (``None`` = its unnamed one); ``None`` without OIDC."""
    if not st.secrets.load_if_toml_exists() or "auth" not in st.secrets:
        return None
    section = st.secrets["auth"]
    named = [name for name, value in section.items() if isinstance(value, Mapping) and "client_id" in value]
    return named or ([None] if "client_id" in section else [])


def is_admin() -> bool:
    """True when this session may change things (signed in, not idle too long, password not reset since)."""
    access = get_access()
    if oidc_providers() is not None:
        user = st.user
        return bool(user.get("is_logged_in")) and access.is_admin_email(user.get("email"), user.get("email_verified"))
    signed = st.session_state.get(ADMIN_KEY)
    if not signed:
        return False
    now = access.clock()
    try:
        stamp = access.account_stamp()
    except AuthError:  # a damaged account file: the sign-in form shows its message and the fix
        stamp = None
    if signed["stamp"] != stamp:
        notice = t("auth.password_changed")
    elif now - signed["seen"] > access.idle_s:
        notice = t("auth.idle_signed_out", minutes=round(access.idle_s / 60))
    else:
        signed["seen"] = now
        return True
    del st.session_state[ADMIN_KEY]
    st.session_state[NOTICE_KEY] = notice
    return False


def require_admin() -> None:
    """Stop the script here unless this session is an admin; the sign-in (or first-run) form is drawn instead."""
    if is_admin():
        return
    access = get_access()
    if notice := st.session_state.pop(NOTICE_KEY, None):
        st.info(notice)
    providers = oidc_providers()
    if providers is not None:
        _oidc_sign_in(access, providers)
    elif access.has_admin():
        _password_sign_in(access)
    else:
        _first_run(access)
    st.stop()


def _signed_in(stamp: str) -> None:
    st.session_state[ADMIN_KEY] = {"stamp": stamp, "seen": get_access().clock()}
    st.rerun()


def _password_sign_in(access: AccessControl) -> None:
    st.subheader(t("auth.sign_in_title"))
    st.caption(t("auth.sign_in_caption"))
    with st.form("admin_sign_in", clear_on_submit=True):
        password = st.text_input(t("auth.admin_password"), type="password", key="admin_password")
        if st.form_submit_button(t("auth.sign_in"), type="primary"):
            try:
                stamp = access.sign_in(password)
            except AuthError as exc:
                st.error(md(error_text(exc)))
            else:
                _signed_in(stamp)


def _first_run(access: AccessControl) -> None:
    access.setup_code()  # made and logged once; only the server's log and its file show it, never the page
    st.subheader(t("auth.first_run_title"))
    st.caption(t("auth.first_run_caption"))
    st.code(str(access.setup_code_path), language=None)
    with st.form("admin_setup", clear_on_submit=True):
        typed = st.text_input(t("auth.setup_code"), key="admin_setup_code", placeholder="XXXX-XXXX-XXXX")
        password = st.text_input(t("auth.new_password"), type="password", key="admin_new_password",
                                 help=t("auth.new_password_help", min=MIN_PASSWORD_CHARS))
        confirm = st.text_input(t("auth.confirm_password"), type="password", key="admin_confirm_password")
        if st.form_submit_button(t("auth.create_admin"), type="primary"):
            try:
                stamp = access.create_admin(typed, password, confirm)
            except AuthError as exc:
                st.error(md(error_text(exc)))
            else:
                _signed_in(stamp)


def _oidc_sign_in(access: AccessControl, providers: list[str | None]) -> None:
    st.subheader(t("auth.sign_in_title"))
    if not providers:
        st.error(t("auth.oidc_no_provider"))
        return
    if not access.admin_emails:
        st.warning(t("auth.oidc_no_admin_emails"))
    user = st.user
    if user.get("is_logged_in"):
        st.error(t("auth.oidc_not_admin", who=md(user.get("email") or t("auth.this_account"))))
        st.button(t("auth.log_out"), key="auth_oidc_other", on_click=log_out)
        return
    st.caption(t("auth.oidc_caption"))
    for name in providers:
        st.button(t("auth.sign_in_with", provider=name.title() if name else t("auth.your_account")),
                  key=f"auth_login_{name or 'default'}", type="primary", on_click=st.login,
                  args=(name,) if name else ())


def require_staff() -> None:
    """With a staff PIN set, stop the script until this session has typed it (admins pass)."""
    access = get_access()
    if not access.staff_pin_required or st.session_state.get(STAFF_KEY) or is_admin():
        return
    st.title(t("auth.pin_title"))
    with st.form("staff_pin_form", clear_on_submit=True):
        pin = st.text_input(t("auth.pin"), type="password", key="staff_pin")
        if st.form_submit_button(t("auth.unlock"), type="primary"):
            try:
                access.check_staff_pin(pin)
            except AuthError as exc:
                st.error(md(error_text(exc)))
            else:
                st.session_state[STAFF_KEY] = True
                st.rerun()
    st.stop()


def log_out() -> None:
    """Forget this session's sign-ins (admin and staff PIN); with OIDC also drop the identity cookie."""
    for key in (ADMIN_KEY, STAFF_KEY):
        st.session_state.pop(key, None)
    if oidc_providers() is not None and st.user.get("is_logged_in"):
        st.logout()


def sidebar_account() -> None:
    """Sidebar: who is signed in, and Log out; nothing for an open staff session."""
    admin = is_admin()
    if not admin and not st.session_state.get(STAFF_KEY):
        return
    if admin:
        who = st.user.get("email") if oidc_providers() is not None else t("auth.admin_name")
        st.caption(t("auth.signed_in_as", who=md(str(who))))
    st.button(t("auth.log_out"), key="auth_logout", icon="🔒", on_click=log_out)
