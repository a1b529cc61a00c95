"""The engine option, without Ray: its checks, where it is taken, and what a missing Ray says."""

import sys

import pytest

from macro2micro.dataset_builder.engine.options import EngineOptions
from macro2micro.dataset_builder.errors import MissingDependencyError, OptionsError


def test_engine_options_are_checked():
    with pytest.raises(OptionsError, match="engine='spark'; valid: local, ray"):
        EngineOptions("spark")
    with pytest.raises(OptionsError, match="needs --engine ray"):
        EngineOptions("local", ray_address="auto")
    with pytest.raises(OptionsError, match="ray_address='nowhere'; valid: auto, ray://HOST:PORT"):
        EngineOptions("ray", ray_address="nowhere")
    with pytest.raises(OptionsError, match="ray_block_rows=0"):
        EngineOptions("ray", ray_block_rows=0)
    assert EngineOptions("ray", ray_address="ray://head:10001").ray and not EngineOptions().ray


def test_a_missing_ray_gives_the_install_line(monkeypatch, synthetic_corpus):
    import macro2micro as m2m

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as when it is not installed
    with pytest.raises(MissingDependencyError, match=r"run `pip install 'macro2micro\[ray\]'`"):
        m2m.build_ladders(synthetic_corpus, strategies=["random"], budget=10, engine="ray")
    with pytest.raises(OptionsError, match="unknown option 'ray_adress'; did you mean ray_address"):
        m2m.build_ladders(synthetic_corpus, strategies=["random"], budget=10, ray_adress="auto")


def test_the_commands_take_the_engine(tmp_path):
    from macro2micro.cli.commands.build import BuildCommand
    from macro2micro.cli.commands.ingest import IngestCommand

    for command in (BuildCommand, IngestCommand):
        assert EngineOptions in command.options
