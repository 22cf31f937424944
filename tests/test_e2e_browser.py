"""A real browser on the real app: what a shop's admin and staff do, end to end (issue #11, item 10).

The app runs as ``streamlit run streamlit_app.py`` in a subprocess (``tests/appserver.py``) on an empty
data dir; Debian's Chromium is driven with Playwright. One scenario, in the order a new shop lives it:
the Catalog page is locked; the admin signs in, creates a store, uploads a small CSV and applies it;
on the Ask page the real model stack answers about the new product and the answer cites its row;
after Log out the Catalog page is locked again; the UI switches to Spanish. Every text the test
looks for is read from ``app_pages/locales/*.toml``, as the app shows it.

Chromium missing is a failure that names the fix (``.ci/run`` installs it), never a skip.
"""

from __future__ import annotations

import re

import pytest

from app_pages.i18n import LANGUAGES, catalog
from tests.appserver import CHROMIUM, CHROMIUM_ARGS, app_env, app_server, chromium_missing, free_port, tail

ADMIN_PASSWORD = "e2e-back-office-2468"
STORE = "e2e-shop"
PRODUCT = "Zorblax Quantum Kettle"
CSV = ("sku,name,category,price,stock,description\n"
       f"ZQ-1,{PRODUCT},Kitchen,47.50,12,A 1.7 litre glass kettle with a blue light\n"
       "ZQ-2,Plain Steel Toaster,Kitchen,23.00,5,Two-slot toaster\n"
       "ZQ-3,Oak Bread Board,Kitchen,15.25,30,Solid oak board\n")
WAIT_MS = 300_000  # first answer of a fresh app: the embedder and the language model load (2 shared cores)
EN, ES = catalog("en"), catalog("es")
ROWS_EN = EN["unit.row"][1].format(n=3)  # "3 rows" (tn's plural form; tn needs a session)


def plain(markdown: str) -> str:
    """A locale text as the page shows it (its Markdown emphasis gone)."""
    return re.sub(r"\*\*|__|`", "", markdown)


def starts(text: str) -> re.Pattern[str]:
    """A locale text found inside a longer label (an icon, a count around it), its characters taken literally."""
    return re.compile(re.escape(plain(text)))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    log = work / "app.log"
    # an empty catalog folder: no sample build on first start; the admin makes the store
    env = app_env(work / "data", ADMIN_PASSWORD, catalog_dir=str(work / "catalog"))
    (work / "catalog").mkdir()
    port = free_port()
    with app_server(env, port, log):
        yield f"http://127.0.0.1:{port}", log


@pytest.fixture(scope="module")
def browser():
    why = chromium_missing()
    if why:
        pytest.fail(why)
    from playwright.sync_api import sync_playwright  # requirements-dev.txt

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_admin_uploads_a_catalog_staff_ask_it_and_the_ui_speaks_spanish(app, browser, tmp_path):
    from playwright.sync_api import Error, expect

    url, log = app
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(120_000)
    expect.set_options(timeout=120_000)
    sidebar = page.get_by_test_id("stSidebar")
    csv_file = tmp_path / "kettles.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    step = "open the app"
    try:
        page.goto(url)
        step = "the Catalog page is locked before sign-in"
        sidebar.get_by_role("link", name=starts(EN["nav.catalog"])).click()
        expect(page.get_by_text(plain(EN["auth.sign_in_title"]))).to_be_visible()
        expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_have_count(0)

        step = "a wrong password is refused"
        page.get_by_label(EN["auth.admin_password"]).fill("not-the-password")
        page.get_by_role("button", name=EN["auth.sign_in"]).click()
        expect(page.get_by_test_id("stAlertContentError")).to_be_visible()
        expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_have_count(0)

        step = "admin sign-in"
        page.get_by_label(EN["auth.admin_password"]).fill(ADMIN_PASSWORD)
        page.get_by_role("button", name=EN["auth.sign_in"]).click()
        expect(sidebar.get_by_role("button", name=starts(EN["auth.log_out"]))).to_be_visible()

        step = "create a store, upload a CSV and apply it"
        page.get_by_label(EN["catalog.new_store"]).fill(STORE)
        page.get_by_role("button", name=EN["catalog.create_store"]).click()
        expect(page.get_by_text(plain(EN["catalog.title"]).format(store=STORE))).to_be_visible()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv_file))
        apply = page.get_by_role("button", name=starts(EN["catalog.apply"]))
        apply.click(timeout=WAIT_MS)
        done = page.get_by_test_id("stAlertContentSuccess").or_(page.get_by_test_id("stAlertContentError"))
        expect(done.first).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
            # "{summary} — {rows} embedded in {seconds:.1f} s.": the part the test can know
            EN["catalog.applied"].split("{summary}")[1].split("{seconds")[0].format(rows=ROWS_EN))

        step = "ask about the new product: the answer and its cited row"
        sidebar.get_by_role("link", name=starts(EN["nav.ask"])).click()
        expect(page.get_by_text(plain(EN["ask.caption"].format(store=STORE, rows=3)), exact=True)).to_be_visible()
        box = page.get_by_test_id("stChatInputTextArea")
        box.fill(f"How much is the {PRODUCT}?")
        box.press("Enter")
        answer = page.get_by_test_id("stChatMessage").last
        expect(answer.get_by_text(re.compile("⏱"))).to_be_visible(timeout=WAIT_MS)  # the finished answer's caption
        expect(answer).to_contain_text(PRODUCT)
        expect(answer).to_contain_text(re.compile(r"47[.,]50"))
        answer.get_by_text(starts(EN["components.sources"].split("{rows}")[0])).click()  # "Sources (" + the count
        expect(answer.get_by_test_id("stDataFrame")).to_be_visible()
        # the cited rows table is drawn on a canvas; its cells are also written in a hidden accessible table
        cells = answer.get_by_test_id("stDataFrame").locator('td[role="gridcell"]')
        expect(cells.first).to_be_attached()
        shown = cells.evaluate_all("cells => cells.map((c) => c.textContent.trim())")
        assert "ZQ-1" in shown and PRODUCT in shown and "Plain Steel Toaster" not in shown, shown
        assert any(re.fullmatch(r"47[.,]50?", c) for c in shown), f"no cited cell shows the price 47.50: {shown}"

        step = "log out: the Catalog page is locked again"
        sidebar.get_by_role("button", name=starts(EN["auth.log_out"])).click()
        sidebar.get_by_role("link", name=starts(EN["nav.catalog"])).click()
        expect(page.get_by_text(plain(EN["auth.sign_in_title"]))).to_be_visible()
        expect(page.get_by_label(EN["auth.admin_password"])).to_be_visible()
        expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_have_count(0)
        expect(page.get_by_role("button", name=starts(EN["catalog.apply"]))).to_have_count(0)

        step = "switch the UI to Spanish"
        sidebar.get_by_text(LANGUAGES["es"], exact=True).click()  # the segmented control of the language switch
        expect(page.get_by_text(plain(ES["auth.sign_in_title"]))).to_be_visible()
        expect(page.get_by_label(ES["auth.admin_password"])).to_be_visible()
        expect(sidebar.get_by_role("link", name=starts(ES["nav.ask"]))).to_be_visible()
        expect(sidebar.get_by_text(ES["sidebar.language"])).to_be_visible()
        expect(page.get_by_text(plain(EN["auth.sign_in_title"]))).to_have_count(0)
    except (AssertionError, Error) as exc:
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"step '{step}' failed: {exc}\nscreenshot: {shot}\napp log:\n{tail(log)}") from exc
    finally:
        context.close()
