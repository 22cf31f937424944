"""Streamlit pages (thin scripts run by ``st.navigation``) and the UI-only helpers they share."""
