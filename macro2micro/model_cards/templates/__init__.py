"""Card templates (Jinja, rendered through huggingface_hub's ``from_template``)."""

from importlib import resources
from pathlib import Path


def template_path(name: str) -> Path:
    """The path of a template shipped with the package (``dataset_card.md``, ``model_card.md``)."""
    path = resources.files(__name__).joinpath(name)
    if not path.is_file():
        raise FileNotFoundError(f"no card template {name!r} in model_cards/templates")
    return Path(str(path))
