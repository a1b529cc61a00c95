"""Jinja templates of the dataset and model cards, rendered through huggingface_hub."""
