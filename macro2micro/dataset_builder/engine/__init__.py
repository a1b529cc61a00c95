"""The engines of the stages that touch every row: ``local`` (in-process, the default) or ``ray`` (Ray Data).

The Ray engine runs what is per row (reading and cleaning records, token ids and band counts, embeddings) as
Ray Data maps and actor pools, and writes what it makes into the local engine's own caches, so that the global
steps (dedup, the type matrix, pruning, sampling) run unchanged on the driver and give the same bytes.
"""
