"""Build diversity-controlled SFT subsets: corpus -> types -> ladder -> subsets -> metrics -> Hub folder.

The method is the one of "From Macro to Micro: Probing Dataset Diversity in Language Model
Fine-Tuning" (arXiv 2505.24768); see the project README for the map of modules.
"""

__version__ = "0.1.0"
