"""The console script: every command's help lists its options with defaults; YAML configs; one spelling."""

import pytest

from macro2micro.cli.commands import COMMANDS
from macro2micro.cli.main import main


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_every_command_has_help_with_defaults(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "(default:" in text and "--config FILE.yaml" in text
    assert "--verbose" in text


def test_top_level_help_lists_every_command(capsys):
    assert main([]) == 0
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert command.name in text
    with pytest.raises(SystemExit) as exit_info:
        main(["nope"])
    assert exit_info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


def test_build_from_a_yaml_config_with_overrides_and_unknown_keys_refused(tmp_path, capsys):
    from tests.conftest import make_synthetic_corpus

    make_synthetic_corpus(n=120).to_json(str(tmp_path / "c.jsonl"))
    config = tmp_path / "run.yaml"
    config.write_text(
        f"corpus: [{tmp_path / 'c.jsonl'}]\nstrategies: [micro_response, random]\nbudget: 20\n"
        f"levels: 3\ntokenizer: word\nlow: 3\nhigh: 200\nout: {tmp_path / 'o'}\n"
    )
    assert main(["build", "--config", str(config), "--budget", "25"]) == 0
    import json

    assert json.loads((tmp_path / "o/build.json").read_text())["options"]["budget"] == 25  # the flag wins
    config.write_text(config.read_text() + "budgett: 3\n")
    assert main(["build", "--config", str(config)]) == 2
    assert "unknown option(s) ['budgett']" in capsys.readouterr().err
    assert main(["build", "--config", str(config), "--budget", "x"]) != 0


def test_yaml_values_are_checked_like_flags(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    for text, message in [
        ("budget: many\n", "budget"),
        ("levels: [3]\n", "levels"),
        ("strategies: micro_response\nseed: 1.5\n", "seed"),
    ]:
        config.write_text(f"corpus: [{tmp_path / 'c.jsonl'}]\nout: {tmp_path / 'o'}\n" + text)
        assert main(["build", "--config", str(config)]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert message in err and str(config) in err, err
    assert not (tmp_path / "o").exists()


def test_only_expected_failures_become_one_line_a_bug_keeps_its_traceback(tmp_path, capsys, monkeypatch):
    from macro2micro.cli.commands.paper import PaperCommand
    from macro2micro.dataset_builder.errors import OptionsError

    def fail_with(err):
        def run(self, *options):
            raise err

        return run

    out = ["paper", "--out", str(tmp_path / "p")]
    monkeypatch.setattr(PaperCommand, "run", fail_with(OptionsError("budget=0 must be positive")))
    assert main(out) == 2
    assert (
        capsys.readouterr().err.strip()
        == "macro2micro paper: error: budget=0 must be positive (-v shows the traceback)"
    )
    monkeypatch.setattr(PaperCommand, "run", fail_with(PermissionError(13, "Permission denied", "/data/x.jsonl")))
    assert main(out) == 2 and "Permission denied: '/data/x.jsonl'" in capsys.readouterr().err
    monkeypatch.setattr(PaperCommand, "run", fail_with(KeyError("id")))
    with pytest.raises(KeyError):  # a bug: not swallowed into one line
        main(out)
    monkeypatch.setattr(PaperCommand, "run", fail_with(ValueError("an internal invariant broke")))
    with pytest.raises(ValueError, match="internal invariant"):
        main(out)


def test_ingest_whole_conversations_from_a_gzip_file_with_a_row_limit(tmp_path, capsys):
    import gzip
    import json

    chats = [
        {
            "messages": [{"role": "system", "content": "be brief"}]
            + [{"role": r, "content": f"{r} {i} {j}"} for j in range(i + 1) for r in ("user", "assistant")]
        }
        for i in range(6)
    ]
    with gzip.open(tmp_path / "chats.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(c) + "\n" for c in chats)
    args = ["ingest", "--corpus", str(tmp_path / "chats.jsonl.gz"), "--out", str(tmp_path / "c")]
    assert main([*args, "--multi_turn", "all", "--max_rows", "4", "--sample_seed", "2"]) == 0
    summary = json.loads((tmp_path / "c/summary.json").read_text())
    assert summary["rows"] == 4 and summary["sample"] == {"max_rows": 4, "seed": 2, "from_rows": 6}
    assert summary["options"] == {"multi_turn": "all", "system": "keep", "system_side": "none"}
    assert summary["turns"]["messages"]["system"] == 4 and summary["turns"]["per_row"]["max"] > 1
    assert '"over_max_rows": 2' in capsys.readouterr().out
    assert main([*args, "--multi_turn", "every", "--overwrite"]) == 2
    assert "invalid choice: 'every' (choose from 'first', 'drop', 'all')" in capsys.readouterr().err


def test_the_demo_command_runs_its_stages_through_the_dataset_repo(tmp_path, capsys):
    """`macro2micro demo` parses every stage's options and runs them in order (training left to the slow tests)."""
    out = tmp_path / "demo_out"
    args = ["demo", "--out", str(out), "--skip_training", "--max_rows", "300", "--budget", "30", "--levels", "3"]
    args += ["--strategies", "micro_response", "random", "--tokenizer", "word", "--embedder", "none"]
    assert main(args) == 0, capsys.readouterr().err
    assert (out / "hub_dataset" / "README.md").is_file() and (out / "subsets" / "build.json").is_file()
    assert "configs in" in capsys.readouterr().out


def test_the_demo_prints_a_space_command_the_shell_finds(monkeypatch):
    """make demo runs the venv's console script without activating the venv: the printed command names its path."""
    import sys
    from pathlib import Path

    from macro2micro.cli.commands.demo import _console_script

    here = Path(sys.executable).parent / "macro2micro"
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert _console_script() == (str(here) if here.exists() else "macro2micro")
    monkeypatch.setenv("PATH", f"{here.parent}:/usr/bin:/bin")
    assert _console_script() == "macro2micro"
