"""Fine-tune page: a manager trains a text or image classifier, checks it, and saves it.

Thin: each tab is drawn by its own module; the work happens in :mod:`finetune`.
"""

from __future__ import annotations

import streamlit as st

from app_pages import finetune_chat, finetune_image, finetune_text
from app_pages.auth import require_admin

st.title("Fine-tune a classifier")
require_admin()
st.caption(
    "Teach the assistant your own categories from a spreadsheet of examples or a folder of photos. "
    "Saved models are used by the Reviews and Photo pages and by `python -m finetune predict`."
)
text_tab, image_tab, chat_tab = st.tabs(["Text classifier", "Image classifier", "Chat data (JSONL)"])
with text_tab:
    finetune_text.render()
with image_tab:
    finetune_image.render()
with chat_tab:
    finetune_chat.render()
