"""The corpus stage: SFT data in any common layout -> one clean ``datasets.Dataset``, and its token features."""
