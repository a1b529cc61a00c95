"""What a subset is measured by: the paper's seven diversity metrics, the word tokens they count, and what else
a ladder varies (lengths, sources)."""
