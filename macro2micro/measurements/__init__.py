"""``evaluate`` modules shipped with the toolkit, loadable offline by path::

import evaluate
import macro2micro.measurements as measurements

diversity = evaluate.load(measurements.path("sft_diversity"), module_type="measurement")
diversity.compute(data=responses, tokenizer="word")
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent


def path(name: str = "sft_diversity") -> str:
    """The folder of a shipped measurement (what ``evaluate.load`` takes)."""
    folder = HERE / name
    if not (folder / f"{name}.py").is_file():
        valid = sorted(p.name for p in HERE.iterdir() if (p / f"{p.name}.py").is_file())
        from macro2micro.dataset_builder.errors import OptionsError

        raise OptionsError(f"no measurement {name!r}; valid: {', '.join(valid)}")
    return str(folder)
