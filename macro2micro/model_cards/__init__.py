"""Dataset and model cards: Jinja templates (package data) and their rendering.

- :func:`render_dataset_card`: the dataset repo's card (configs, metrics, how it was built);
- :func:`render_model_card`: an adapter's card (base model, dataset repo and config, recipe, scores);
- :func:`template_path`: a template file, found with ``importlib.resources``.
"""

from macro2micro.model_cards.dataset_card import render_dataset_card
from macro2micro.model_cards.model_card import render_model_card
from macro2micro.model_cards.templates import template_path

__all__ = ["render_dataset_card", "render_model_card", "template_path"]
