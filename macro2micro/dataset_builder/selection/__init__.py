"""The selection engine shared by every ladder: the strategy contract, nested pools by reverse greedy pruning,
the type-aware sampler and length windows. Below the type extractors, which implement its contract."""
