"""Above the extractors: the registry of strategy names, and the build of a family of ladders with its manifests."""
