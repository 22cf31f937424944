"""Side tools staff use next to the assistant: review sentiment, photo → product, asking by voice.

Pure modules (no Streamlit): :mod:`tools.sentiment`, :mod:`tools.vision`, :mod:`tools.speech`.
``python -m tools sentiment|image|transcribe`` is their command line.
"""
