"""The Spanish and English UI: the texts of both languages, the language of a session, and every page in Spanish.

The catalogs are the real locale files; the pages run in AppTest on the real app. The gate tests use an
empty data dir (no index, no model), like tests/test_app_auth.py; the page tests use the sample catalogs
ingested once with the real e5 model, like tests/test_app.py. No question reaches the LLM here: the
answers' language is the chain's (tests/test_app.py, tests/test_prompts.py).
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_pages import auth, i18n, resources  # noqa: E402
from app_pages.i18n import DEFAULT, ERRORS, LANGUAGES, catalog, language_for_locale  # noqa: E402
from ingest.pipeline import run as run_ingest  # noqa: E402
from rag.auth import ADMIN, SETUP, STAFF, AccessControl, Limits, LoginLimiter, check_new_password  # noqa: E402
from rag.chain import validate_question  # noqa: E402
from rag.errors import AssistantError  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from tests.conftest import MODEL_CACHE  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "streamlit_app.py")
PAGES = [ROOT / "streamlit_app.py", *sorted((ROOT / "app_pages").glob("*.py"))]
PASSWORD = "back-office-2468"
CATALOG, FINE_TUNE, REVIEWS, PHOTO, ASK = (f"app_pages/{p}.py" for p in ("catalog", "fine_tune", "reviews", "photo",
                                                                         "ask"))


def placeholders(text: str | list[str]) -> list[set[str]]:
    """The ``{names}`` of a text (each form of a count text), as str.format reads them."""
    forms = text if isinstance(text, list) else [text]
    return [{name for _, name, _, _ in string.Formatter().parse(form) if name is not None} for form in forms]


# ---------------------------------------------------------------- the texts
def test_both_languages_have_the_same_keys_and_placeholders():
    en, es = catalog("en"), catalog("es")
    ui_es = {k: v for k, v in es.items() if not k.startswith(ERRORS)}  # core errors: English is the core's text
    assert not [k for k in en if k.startswith(ERRORS)]
    assert sorted(set(en) - set(ui_es)) == [], "missing in es.toml"
    assert sorted(set(ui_es) - set(en)) == [], "missing in en.toml"
    assert {k: placeholders(en[k]) for k in en} == {k: placeholders(es[k]) for k in en}
    assert {k for k, v in en.items() if isinstance(v, list)} == {k for k, v in es.items() if isinstance(v, list)}
    assert all(len(v) == 2 for v in (*en.values(), *es.values()) if isinstance(v, list))


def test_spanish_texts_are_not_left_in_english():
    en, es = catalog("en"), catalog("es")
    same = {k for k in en if es[k] == en[k]}
    # Names, codes and formats that are the same in both languages.
    assert same == {
        "components.progress", "components.summary_detail", "table.base", "table.f1", "ft_text.base_metric",
        "ft_chat.axis_tokens", "ft_chat.language_es", "ft_chat.language_en", "ft_text.base_reason",
        "reviews.word.neutral", "components.total",
    }


def used_keys() -> set[str]:
    """Every literal key the pages pass to t/tn/t_known, including both keys of ``t("a" if c else "b")``."""
    keys = set()
    for path in PAGES:
        src = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r'\b(?:t|tn|t_known)\(\s*"([a-z0-9_.]+)"', src))
        keys |= {k for pair in re.findall(r'\bt\("([a-z0-9_.]+)" if [^()]*? else "([a-z0-9_.]+)"', src) for k in pair}
    return keys


def test_every_text_a_page_asks_for_exists():
    from app_pages import finetune_text, reviews
    from tools.sentiment.model import ASPECTS, LABELS
    from tools.speech import LANGUAGE_NAMES

    families = {  # keys the pages build from a value
        *(f"components.phase.{p}" for p in ("embed", "copy")),
        *(f"components.count.{c}" for c in ("added", "updated", "removed", "unchanged", "rejected")),
        *(f"components.change.{c}" for c in ("added", "updated", "removed")),
        *(f"components.currency_source.{s}" for s in ("price cells", "header", "text", "override")),
        *(f"reviews.word.{w}" for w in (*LABELS, *ASPECTS)),
        *(f"reviews.metric.{w}" for w in LABELS),
        *(f"table.{c}" for c in reviews.COLUMNS),
        *(f"ft_text.example.{Path(n).stem}" for n in finetune_text.EXAMPLES),
        *(f"ft_text.base.{b}" for b in finetune_text.BASE_CHOICES),
        *(f"ft_text.source.{s}" for s in ("example", "upload")),
        *(f"ft_text.data_language.{lang}" for lang in ("es", "en", "mixed")),
        *(f"ft_image.split.{s}" for s in ("train", "val")),
        *(f"ft_chat.language_{v}" for v in ("own", "es", "en")),
        *(f"language.{lang}" for lang in LANGUAGE_NAMES),
    }
    keys = used_keys()
    assert len(keys) > 300, "the scan finds the pages' keys"
    for lang in LANGUAGES:
        assert sorted((keys | families) - set(catalog(lang))) == [], lang
    # t("key") with no values formats the text at once: such a text must not expect any
    bare = {k for path in PAGES for k in re.findall(r'\bt\("([a-z0-9_.]+)"\)', path.read_text(encoding="utf-8"))}
    assert len(bare) > 200
    assert [k for k in sorted(bare) if placeholders(catalog("en")[k]) != [set()]] == []


def test_the_browser_locale_picks_the_language():
    assert DEFAULT == "en"
    for locale in ("es", "es-ES", "es-MX", "es-419", "ES_ar", " es-CO "):
        assert language_for_locale(locale) == "es", locale
    for locale in ("en", "en-US", "en-GB", "de-DE", "pt-BR", "ca-ES", "", None):
        assert language_for_locale(locale) == "en", locale


# ---------------------------------------------------------------- the core errors that pages translate
def core_errors(tmp_path) -> list[AssistantError]:
    """Each translated core error, raised by the real code."""
    raised = []

    def catch(fn, *args):
        with pytest.raises(AssistantError) as info:
            fn(*args)
        raised.append(info.value)

    catch(validate_question, "   ", 100)
    catch(validate_question, "x" * 101, 100)
    catch(check_new_password, "short", "short")
    catch(check_new_password, "x" * 1025, "x" * 1025)
    catch(check_new_password, "a" * 12, "b" * 12)
    access = AccessControl(load_settings(data_dir=tmp_path / "a", model_dir=MODEL_CACHE))
    catch(access.sign_in, PASSWORD)  # no admin yet
    access.set_password(PASSWORD, PASSWORD)
    catch(access.create_admin, "CODE", PASSWORD, PASSWORD)  # one exists
    limiter = LoginLimiter(tmp_path / "attempts.json", Limits(max_failures=2, server_failures=7))
    for account in (ADMIN, SETUP, STAFF):
        for _ in range(3):  # attempts left, then locked, then still locked
            catch(limiter.attempt, account, lambda: False)
    catch(limiter.attempt, ADMIN, lambda: True)  # 6 failures, the next one locks the server
    limiter = LoginLimiter(tmp_path / "server.json", Limits(server_failures=1))
    catch(limiter.attempt, STAFF, lambda: False)
    catch(limiter.attempt, ADMIN, lambda: True)
    return raised


def test_the_common_core_errors_have_spanish_texts(tmp_path):
    errors = core_errors(tmp_path)
    es = catalog("es")
    keyed: dict[str, AssistantError] = {}
    for e in errors:
        keyed.setdefault(e.key, e)  # the first of each
    source_keys = set()
    for path in (ROOT / "rag").glob("*.py"):
        source_keys |= set(re.findall(r'\bkey="([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert source_keys <= set(keyed) | {"admin_created_elsewhere"}  # a race between two sessions: not raised here
    assert {k.removeprefix(ERRORS) for k in es if k.startswith(ERRORS)} == set(keyed) | {"admin_created_elsewhere"}
    for key, exc in keyed.items():
        assert placeholders(es[ERRORS + key]) == [set(exc.params)], key
    assert es[ERRORS + "wrong_staff_left"].format(**keyed["wrong_staff_left"].params) == (
        "PIN incorrecto. Intentos restantes antes de bloquear el acceso durante 30 s: 1."
    )
    assert str(keyed["wrong_staff_left"]) == "Wrong PIN. 1 attempt left before signing in is locked for 30 s."
    assert es[ERRORS + "question_too_long"].format(**keyed["question_too_long"].params) == (
        "La pregunta tiene 101 caracteres; el límite es 100. Pregunte por uno o dos productos a la vez."
    )


SUMMARIES = """
import streamlit as st
from app_pages.components import deleted_summary, ingest_summary
from ingest.indexer import IngestReport
from rag.store import DeletedStore

report = IngestReport("shop", ["a.csv"], added=["1"], updated={"2": ["price", "stock"], "3": ["price"]},
                      removed=["4", "5"], unchanged=7, dry_run=True)
for deleted in (DeletedStore("shop", 1, 2, 3 * 2**20), DeletedStore("shop", 5, 1, None)):
    st.text(deleted_summary(deleted))
    st.text(deleted.summary())
st.text(ingest_summary(report))
st.text(report.summary())
"""


@pytest.mark.parametrize("locale", [None, "es-ES"])
def test_the_ingest_and_delete_summaries_are_the_core_lines_in_english(locale):
    at = AppTest.from_string(SUMMARIES)
    if locale:
        at.context["locale"] = locale
    shown = [t.value for t in at.run().text]
    assert not at.exception
    pairs = list(zip(shown[::2], shown[1::2], strict=True))
    if locale is None:
        assert all(ours == core for ours, core in pairs), pairs  # the same line the CLI prints
    else:
        assert [ours for ours, _ in pairs] == [
            "Tienda shop eliminada: 1 fila, 2 colecciones, 3.0 MB liberados",
            "Tienda shop eliminada: 5 filas, 1 colección, el espacio en disco se libera en el servidor de Chroma",
            "[simulación] shop: añadidas 1, actualizadas 2 (2 price, 1 stock), eliminadas 2, sin cambios 7, "
            "rechazadas 0",
        ]


# ---------------------------------------------------------------- the gates, with an empty data dir
def _clear_caches() -> None:
    resources.get_settings.clear()
    resources.get_index.clear()
    auth.get_access.clear()


@pytest.fixture
def empty(tmp_path, monkeypatch):
    """The app on an empty data dir with no sample catalogs: nothing to ingest, no model loaded."""
    monkeypatch.setenv("CATALOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CATALOG_CATALOG_DIR", str(tmp_path / "no-samples"))
    _clear_caches()
    yield
    _clear_caches()


def browser(locale: str | None = None) -> AppTest:
    """A new session from a browser whose language is ``locale`` (None: it does not say)."""
    at = AppTest.from_file(APP, default_timeout=240)
    if locale is not None:
        at.context["locale"] = locale
    return at.run()


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def switch(at: AppTest) -> AppTest:
    return at.sidebar.segmented_control(key="ui_language_switch")


def test_a_spanish_browser_gets_the_staff_pin_form_and_its_errors_in_spanish(empty, monkeypatch):
    monkeypatch.setenv("CATALOG_STAFF_PIN", "2468")
    at = browser("es-MX")
    assert not at.exception
    assert [t.value for t in at.title] == ["🔒 PIN del personal"]
    assert switch(at).value == "es" and switch(at).label == "🌐 Idioma"
    at.text_input(key="staff_pin").input("1357")
    next(b for b in at.button if b.label == "Desbloquear").click().run()
    assert errors(at) == ["PIN incorrecto. Intentos restantes antes de bloquear el acceso durante 30 s: 4."]

    switch(at).set_value("en").run()  # the switch is there before the PIN: a visitor can read the form
    assert [t.value for t in at.title] == ["🔒 Staff PIN"]
    at.text_input(key="staff_pin").input("2468")
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert at.title[0].value == "💬 Ask the catalog", "the pick outlived the runs that stopped at the PIN"


def test_first_run_and_sign_in_in_spanish(empty):
    at = browser("es-ES")
    assert at.title[0].value == "💬 Pregunte al catálogo"
    assert at.info[0].value.startswith("La tienda **techstore** todavía no tiene índice del catálogo.")
    assert at.sidebar.selectbox(key="store").label == "Tienda"
    at.switch_page(CATALOG).run()
    assert [s.value for s in at.subheader] == ["🔑 Cree la contraseña de administrador"]
    assert at.text_input(key="admin_setup_code").label == "Código de configuración"
    code = auth.get_access().setup_code()
    at.text_input(key="admin_setup_code").input(code)
    at.text_input(key="admin_new_password").input("short")
    at.text_input(key="admin_confirm_password").input("short")
    next(b for b in at.button if b.label == "Crear administrador").click().run()
    assert errors(at) == ["La contraseña de administrador necesita al menos 10 caracteres (esta tiene 5)."]

    AccessControl(load_settings()).set_password(PASSWORD, PASSWORD)  # as `python -m rag admin-password`
    at = browser("es-ES")
    at.switch_page(CATALOG).run()
    assert [s.value for s in at.subheader] == ["🔒 Acceso de administrador"]
    at.text_input(key="admin_password").input("not the password")
    next(b for b in at.button if b.label == "Iniciar sesión").click().run()
    assert errors(at) == ["Contraseña incorrecta. Intentos restantes antes de bloquear el acceso durante 30 s: 4."]
    at.text_input(key="admin_password").input(PASSWORD)
    next(b for b in at.button if b.label == "Iniciar sesión").click().run()
    assert not at.exception and not errors(at)
    assert at.title[0].value == "📦 Catálogo · techstore"
    assert at.info[0].value == ("La tienda **techstore** todavía no tiene índice. Suba abajo sus archivos de "
                                "catálogo para crearlo.")
    assert "🔓 Sesión iniciada como administrador" in [c.value for c in at.sidebar.caption]
    assert [b.label for b in at.sidebar.button] == ["Cerrar sesión"]


# ---------------------------------------------------------------- every page, on the sample catalogs
@pytest.fixture(scope="module")
def app_data(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("i18n-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CATALOG_DATA_DIR", str(data_dir))
        mp.setenv("CATALOG_MODEL_DIR", str(MODEL_CACHE))
        run_ingest(settings=load_settings())
        AccessControl(load_settings()).set_password(PASSWORD, PASSWORD)
    return data_dir


@pytest.fixture
def shop(app_data, monkeypatch):
    monkeypatch.setenv("CATALOG_DATA_DIR", str(app_data))
    monkeypatch.setenv("CATALOG_MODEL_DIR", str(MODEL_CACHE))
    _clear_caches()
    yield
    _clear_caches()


def test_the_switch_turns_every_page_spanish_and_the_pick_stays(shop):
    at = browser()  # the browser does not say: English
    assert at.title[0].value == "💬 Ask the catalog"
    assert switch(at).value == "en" and switch(at).options == ["English", "Español"]

    switch(at).set_value("es").run()
    assert not at.exception
    assert at.title[0].value == "💬 Pregunte al catálogo"
    assert at.caption[0].value == ("Las respuestas para **techstore** salen solo de su catálogo (63 filas) y citan "
                                   "las filas que usan.")
    assert at.chat_input[0].placeholder == "Pregunte por un producto, un precio, un plato…"
    assert "**Pruebe una de estas:**" in [m.value for m in at.markdown]
    assert at.sidebar.markdown[0].value == "**63 filas** en el índice"
    assert at.audio_input(key="voice_recording").label == "🎤 Pregunte por voz"
    assert [e.label for e in at.expander] == ["…o suba una grabación (WAV, MP3, OGG, WebM, M4A)"]
    at.chat_input[0].set_value("   ").run()  # a core error with a translation
    assert errors(at) == ["La pregunta está vacía: escriba lo que quiere saber del catálogo."]

    at.switch_page(PHOTO).run()
    assert not at.exception
    assert at.title[0].value == "📷 Foto → producto · techstore"
    assert at.file_uploader(key="photo_upload").label == "Suba una foto"
    assert at.info[-1].value == "Suba una foto (JPEG, PNG, WebP…) o active la cámara para empezar."
    assert at.toggle(key="photo_camera").label == "Usar la cámara"

    at.switch_page(REVIEWS).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "⭐ Reseñas"
    assert at.caption[0].value == ("Positiva, negativa o neutral para reseñas en español e inglés, con los aspectos "
                                   "del restaurante (comida, servicio, precio, ambiente) de los que habla cada una.")
    assert [t.label for t in at.tabs] == ["Una reseña", "Un archivo de reseñas"]
    assert at.button(key="reviews_analyze").label == "Analizar"
    at.text_area(key="reviews_text").input("La comida estuvo deliciosa y el servicio excelente").run()
    at.button(key="reviews_analyze").click().run()
    assert not at.exception
    assert (at.metric[0].label, at.metric[0].value) == ("Sentimiento", "😊 positivo")
    assert ":green-badge[comida +] :green-badge[servicio +]" in [m.value for m in at.markdown]
    at.button(key="reviews_sample").click().run()
    assert at.button(key="reviews_run").label == "Clasificar 28 reseñas"
    assert at.selectbox(key="reviews_by_sample_reviews.csv").options[0] == "(ninguna)"
    at.button(key="reviews_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert {"Reseñas", "Positivas", "Neutrales", "Negativas"} <= {m.label for m in at.metric}
    assert "Comentarios más negativos" in [s.value for s in at.subheader]
    assert "Haga clic en una barra para ver los comentarios que hay detrás." in [c.value for c in at.main.caption]

    at.switch_page(CATALOG).run()
    assert at.title[0].value == "📦 Catálogo · techstore"
    assert [s.value for s in at.subheader] == ["🔒 Acceso de administrador"]
    at.text_input(key="admin_password").input(PASSWORD)
    next(b for b in at.button if b.label == "Iniciar sesión").click().run()
    assert not at.exception and not errors(at)
    assert [m.label for m in at.metric] == ["Filas", "Archivos", "Versión del índice", "Última actualización"]
    assert [s.value for s in at.subheader] == ["Filas", "Actualizar desde archivos", "Tiendas"]
    assert at.file_uploader[0].label == "Archivos de catálogo"
    assert "Eliminar la tienda techstore" in [e.label for e in at.expander]

    at.switch_page(FINE_TUNE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Entrenar un clasificador"
    assert [t.label for t in at.tabs] == ["Clasificador de texto", "Clasificador de imágenes", "Datos de chat (JSONL)"]
    assert at.radio(key="ftt_source").options == ["Usar un conjunto de ejemplo", "Subir mi propio archivo"]
    assert at.radio(key="ft_image_how").value == "Un archivo .zip subido"
    assert "Revisar un archivo JSONL de chat" in [s.value for s in at.subheader]
    assert [m.label for m in at.metric][:4] == ["Filas", "Usadas para entrenar", "Etiquetas", "Idioma"]
    assert "Los datos están listos para entrenar." in [s.value for s in at.success]

    switch(at).set_value("en").run()  # and back: the tab keeps working with its English option
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Fine-tune a classifier"
    assert at.radio(key="ft_image_how").value == "A .zip upload"
    at.switch_page(ASK).run()
    assert at.title[0].value == "💬 Ask the catalog", "the English pick stays on the next page"


def test_a_spanish_browser_gets_spanish_until_the_switch_says_otherwise(shop):
    at = browser("es-ES")
    assert switch(at).value == "es"
    assert at.title[0].value == "💬 Pregunte al catálogo"
    switch(at).set_value("en").run()
    assert at.title[0].value == "💬 Ask the catalog"
    at.switch_page(PHOTO).run()
    assert at.title[0].value == "📷 Photo → product · techstore", "the browser's language does not win it back"
    assert at.session_state[i18n.STATE_KEY] == "en"
