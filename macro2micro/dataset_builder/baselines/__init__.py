"""Baselines at the same N: the selection literature's strategies, under the ladders' contract and registry."""
