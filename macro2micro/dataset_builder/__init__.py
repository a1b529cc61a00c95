"""Build diversity-controlled SFT subsets: corpus -> types -> ladder -> subsets -> metrics -> repo folder.

The method is the one of "From Macro to Micro: Probing Dataset Diversity in Language Model
Fine-Tuning" (arXiv 2505.24768). This is the lowest layer: it imports no other package of the
project. See the README's "How the code is laid out" for the map of modules.
"""
