"""Fine-tune page: a manager trains a text or image classifier, checks it, and saves it.

Thin: each tab is drawn by its own module; the work happens in :mod:`finetune`.
"""

from __future__ import annotations

import streamlit as st

from app_pages import finetune_chat, finetune_image, finetune_text
from app_pages.auth import require_admin
from app_pages.i18n import t

st.title(t("fine_tune.title"))
require_admin()
st.caption(t("fine_tune.caption"))
text_tab, image_tab, chat_tab = st.tabs([t("fine_tune.tab_text"), t("fine_tune.tab_image"), t("fine_tune.tab_chat")])
with text_tab:
    finetune_text.render()
with image_tab:
    finetune_image.render()
with chat_tab:
    finetune_chat.render()
