"""Fine-tuning studio core: train, evaluate, save and use text and image classifiers.

No Streamlit in here (the Fine-tune page and ``python -m finetune`` are thin shells).
Saved models live under ``settings.finetuned_models_dir``, one folder per model name, in
Hugging Face format with a model card; :mod:`finetune.registry` lists and loads them.
"""
