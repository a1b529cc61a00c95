from tests.training.conftest import tiny_model_dir  # noqa: F401  (shared fixture)
