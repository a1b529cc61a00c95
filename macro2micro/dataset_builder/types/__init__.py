"""The three type extractors: micro (mid-band tokens), macro (semantic clusters), meso (normalized tags)."""
