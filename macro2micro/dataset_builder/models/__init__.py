"""The models the dataset stages run: tokenizers, sentence embedders (MiniLM, a distilled static one), LLM
backends, and the embedded offline assets they resolve to."""
