"""The Hub dataset repo: the folder (parquet per config, card), its one-commit upload, and the one reader of
published artifacts."""
