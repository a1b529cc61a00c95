"""The public Python API, one module per stage: corpus, build, publish, train, evaluate, demo.

Import it from the top: ``import macro2micro as m2m; m2m.build_ladders(...)``. Every function takes the
same typed option dataclasses the console script parses (or their fields as keyword arguments), returns
``datasets`` objects or plain dicts, and writes a folder only when given ``out``.
"""
