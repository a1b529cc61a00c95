"""The fault suite: every command's output contract, kills, concurrent runs, bad disks, tampered metadata.

Each test asserts the exit status, the one-line message, and that no byte outside the output changed.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from macro2micro.cli.main import main
from tests.conftest import make_synthetic_corpus

WORD = ["--tokenizer", "word", "--low", "3", "--high", "200"]


def snapshot(root: Path, skip: Path | None = None) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones included) except under ``skip``."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not (skip and (p == skip or skip in p.parents)):
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def debris(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") and p.name != ".hypothesis")


def run(args, capsys) -> tuple[int, str]:
    rc = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    return rc, (err[-1] if err else "")


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "in" / "data.jsonl"
    path.parent.mkdir()
    make_synthetic_corpus(n=120).to_json(str(path))
    return path


def build_args(corpus, out, *extra):
    return [
        "build",
        "--corpus",
        str(corpus),
        "--strategies",
        "micro_response",
        "random",
        "--budget",
        "20",
        "--levels",
        "3",
        *WORD,
        "--out",
        str(out),
        *extra,
    ]


def test_a_foreign_folder_is_refused_and_kept_unless_overwrite(tmp_path, corpus_file, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    before = snapshot(tmp_path)
    rc, line = run(build_args(corpus_file, out), capsys)
    assert rc == 2 and "is a non-empty folder that macro2micro did not write" in line and "--overwrite" in line
    assert snapshot(tmp_path) == before
    assert run(build_args(corpus_file, out, "--overwrite"), capsys)[0] == 0
    assert not (out / "thesis.tex").exists() and (out / "build.json").exists()
    again = build_args(corpus_file, out)  # our own earlier output: replaced without --overwrite
    assert run(again, capsys)[0] == 0 and debris(tmp_path) == []


def test_outputs_that_are_hold_or_sit_inside_an_input_are_refused(tmp_path, corpus_file, capsys):
    before = snapshot(tmp_path)
    cases = [
        (["ingest", "--corpus", str(corpus_file), "--out", str(corpus_file)], "is the input"),
        (["ingest", "--corpus", str(corpus_file.parent), "--out", str(corpus_file.parent / "clean")], "sits inside"),
        (["ingest", "--corpus", str(corpus_file), "--out", str(tmp_path)], "holds the input"),
        (build_args(corpus_file.parent, corpus_file.parent), "is the input"),
    ]
    for args, message in cases:
        rc, line = run(args, capsys)
        assert rc == 2 and message in line, (args, line)
    assert snapshot(tmp_path) == before
    # an ingested corpus used as --corpus cannot be the build's --out either
    assert run(["ingest", "--corpus", str(corpus_file), "--out", str(tmp_path / "c")], capsys)[0] == 0
    rc, line = run(build_args(tmp_path / "c", tmp_path / "c"), capsys)
    assert rc == 2 and "is the input" in line and (tmp_path / "c" / "summary.json").exists()


def test_a_second_concurrent_run_into_one_folder_refuses_at_once(tmp_path, corpus_file, capsys):
    from macro2micro.dataset_builder.outputs import OutputFolder

    out = tmp_path / "subsets"
    with OutputFolder(out, "build"):
        start = time.perf_counter()
        rc, line = run(build_args(corpus_file, out), capsys)
        assert rc == 2 and "another macro2micro run is writing" in line
        assert time.perf_counter() - start < 5
    assert [p.name for p in out.iterdir()] == [".macro2micro-output.json"]  # only the first run's (empty) output
    assert debris(tmp_path) == []


def test_tampered_names_never_become_paths(tmp_path, corpus_file, capsys):
    assert run(build_args(corpus_file, tmp_path / "subsets"), capsys)[0] == 0
    info = json.loads((tmp_path / "subsets/build.json").read_text())
    info["configs"][0] = "../../x"
    (tmp_path / "subsets/build.json").write_text(json.dumps(info))
    before = snapshot(tmp_path)
    publish = ["publish", "--corpus", str(corpus_file), "--subsets", str(tmp_path / "subsets"), *WORD[:2]]
    publish += ["--embedder", "none", "--out", str(tmp_path / "repo")]
    rc, line = run(publish, capsys)
    assert rc == 2 and "build.json: field 'configs[0]': '../../x' is not a safe name" in line
    rc, line = run([*publish, "--repo_id", "../../etc", "--dry_run"], capsys)
    assert rc == 2 and "--repo_id '../../etc' is not valid" in line
    assert snapshot(tmp_path) == before and not (tmp_path / "repo").exists()


def test_a_config_named_dotdot_on_a_card_is_refused_by_train(tmp_path, capsys):
    repo = tmp_path / "repo"
    (repo / "x").mkdir(parents=True)
    (repo / "README.md").write_text("---\nconfigs:\n- config_name: '..'\n  data_files: x/*.parquet\n---\n")
    import datasets

    datasets.Dataset.from_dict({"messages": [[]]}).to_parquet(str(repo / "x/a.parquet"))
    rc, line = run(
        ["train", "--dataset", str(repo), "--configs", "*", "--print_commands", "--out", str(tmp_path / "runs")],
        capsys,
    )
    assert rc == 2 and "README.md: field 'configs[0].config_name': '..' is not a safe name" in line
    assert not (tmp_path / "runs").exists()
    # the printed commands would write into --out: it is checked like any output, before any config is read
    rc, line = run(["train", "--dataset", str(repo), "--print_commands", "--out", str(repo / "runs")], capsys)
    assert rc == 2 and "sits inside the input" in line and not (repo / "runs").exists()


@pytest.mark.parametrize("mode", ["raise", "skip"])
def test_deep_json_and_lone_surrogates(tmp_path, mode, capsys):
    path = tmp_path / "bad.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    good = json.dumps({"instruction": "fine", "output": "ok"})
    path.write_text("\n".join([good, deep, '{"instruction": "a\\ud800b", "output": "x"}', good.replace("ok", "ok2")]))
    out = tmp_path / "corpus"
    rc, line = run(["ingest", "--corpus", str(path), "--out", str(out), "--on_error", mode], capsys)
    if mode == "raise":
        assert rc == 2 and "bad.jsonl, line 2: JSON nested too deeply to read" in line and not out.exists()
    else:
        assert rc == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["rows"] == 2 and summary["dropped"]["invalid"] == 2
        assert any("line 3, field 'instruction': text holds a lone surrogate" in e for e in summary["errors_skipped"])


def test_missing_inputs_and_bad_options_fail_in_one_line_before_any_work(tmp_path, corpus_file, capsys):
    cases = [
        (["ingest", "--corpus", "data/nope.jsonl", "--out", str(tmp_path / "o")], "data/nope.jsonl: no such file"),
        (
            ["build", "--corpus", str(corpus_file), "--strategies", ",", "--out", str(tmp_path / "o")],
            "name at least one strategy",
        ),
        (
            [
                "publish",
                "--corpus",
                str(corpus_file),
                "--subsets",
                str(tmp_path),
                "--self_bleu_sample",
                "-1",
                "--out",
                str(tmp_path / "o"),
            ],
            "self_bleu_sample=-1",
        ),
        (
            [
                "publish",
                "--corpus",
                str(corpus_file),
                "--subsets",
                str(tmp_path),
                "--bootstrap",
                "-3",
                "--out",
                str(tmp_path / "o"),
            ],
            "bootstrap=-3",
        ),
        (["publish", "--corpus", str(corpus_file), "--out", str(tmp_path / "o")], "--subsets"),
        (
            ["ingest", "--corpus", str(corpus_file), "--split", "test", "--out", str(tmp_path / "o")],
            "--split test applies to saved DatasetDict folders",
        ),
        (
            ["train", "--dataset", str(tmp_path), "--recipe", "nope", "--out", str(tmp_path / "o")],
            "recipe 'nope' is neither a file nor one of demo",
        ),
        (["space", "--repo", str(tmp_path / "no_repo")], "no_repo"),
        (
            [
                "build",
                "--corpus",
                str(corpus_file),
                "--tokenizer",
                "org-that-is-not/cached-model",
                "--out",
                str(tmp_path / "o"),
            ],
            "tokenizer 'org-that-is-not/cached-model' could not be loaded",
        ),
    ]
    for args, message in cases:
        rc, line = run(args, capsys)
        assert rc == 2 and message in line, (args, line)
        assert line.startswith(f"macro2micro {args[0]}: error: ") and "Traceback" not in line
    assert not (tmp_path / "o").exists()


def test_verbose_keeps_the_traceback(tmp_path, capsys):
    rc = main(["ingest", "--corpus", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o"), "-v"])
    assert rc == 2 and "Traceback" in capsys.readouterr().err


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode
        == 0
    )


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


def test_a_full_disk_fails_cleanly_and_keeps_the_earlier_output(tmp_path, corpus_file, capsys, monkeypatch):
    disk = tmp_path / "small"
    mounted = _mount_tmpfs(disk, "size=256k")
    try:
        out = disk / "corpus"
        assert run(["ingest", "--corpus", str(corpus_file), "--out", str(out)], capsys)[0] == 0
        before = snapshot(disk)
        big = tmp_path / "in" / "big.jsonl"
        make_synthetic_corpus(n=3000).to_json(str(big))
        if not mounted:  # no tmpfs here: simulate the disk filling up while the rows are written
            import errno

            import datasets

            def full(*a, **kw):
                raise OSError(errno.ENOSPC, "No space left on device")

            monkeypatch.setattr(datasets.Dataset, "save_to_disk", full)
        rc, line = run(["ingest", "--corpus", str(big), "--out", str(out)], capsys)
        assert rc == 2 and "No space left on device" in line and f"writing {out} failed" in line, line
        assert snapshot(disk) == before and debris(disk) == []
    finally:
        if mounted:
            _umount(disk)


def test_a_read_only_target_fails_before_any_work(tmp_path, capsys, monkeypatch):
    disk = tmp_path / "ro"
    mounted = _mount_tmpfs(disk, "size=64k,ro")
    try:
        bad = tmp_path / "bad.jsonl"
        bad.write_text("{broken\n")  # reading it would fail: the output check must come first
        if not mounted:
            import tempfile

            def read_only(*a, **kw):
                raise PermissionError(30, "Read-only file system")

            monkeypatch.setattr(tempfile, "mkdtemp", read_only)
            disk.chmod(0o555)
        rc, line = run(["ingest", "--corpus", str(bad), "--out", str(disk / "corpus")], capsys)
        assert rc == 2 and ("Read-only file system" in line or "Permission denied" in line), line
    finally:
        if mounted:
            _umount(disk)
        disk.chmod(0o755)


def _kill_when(proc: subprocess.Popen, ready) -> bool:
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    return False


@pytest.mark.slow
def test_kill_9_at_several_points_then_a_clean_rerun(tmp_path, corpus_file):
    """build and publish killed while writing: the earlier output stays, a rerun succeeds and sweeps the debris."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "macro2micro"]
    big = tmp_path / "in" / "big.jsonl"
    make_synthetic_corpus(n=4000).to_json(str(big))
    subsets, repo = tmp_path / "subsets", tmp_path / "repo"
    build = [
        *cli,
        *build_args(big, subsets)[:-2],
        "--strategies",
        "micro_response",
        "micro_instruction",
        "random",
        "--budget",
        "300",
        "--levels",
        "7",
        "--out",
        str(subsets),
    ]
    assert subprocess.run(build, env=env, capture_output=True).returncode == 0
    earlier = snapshot(subsets)
    tmp_has = [
        lambda: any(tmp_path.glob(".subsets.tmp-*")),
        lambda: any(tmp_path.glob(".subsets.tmp-*/manifests/*.json")),
        lambda: any(tmp_path.glob(".subsets.tmp-*/micro_instruction_min")),
    ]
    killed = 0
    for ready in tmp_has:
        proc = subprocess.Popen(
            [*build[:-1], str(subsets), "--seed", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        killed += _kill_when(proc, ready)
        assert snapshot(subsets) == earlier  # the earlier output intact until a run completes
    assert killed >= 2
    assert debris(tmp_path)  # the killed runs left their temporary folders and lock behind
    assert subprocess.run([*build[:-1], str(subsets), "--seed", "1"], env=env, capture_output=True).returncode == 0
    assert snapshot(subsets) != earlier and debris(tmp_path) == []
    publish = [
        *cli,
        "publish",
        "--corpus",
        str(big),
        "--subsets",
        str(subsets),
        *WORD[:2],
        "--embedder",
        "none",
        "--self_bleu_sample",
        "20",
        "--out",
        str(repo),
    ]
    proc = subprocess.Popen(publish, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _kill_when(proc, lambda: any(tmp_path.glob(".repo.tmp-*")))
    assert not repo.exists()
    assert subprocess.run(publish, env=env, capture_output=True).returncode == 0
    assert debris(tmp_path) == [] and (repo / "README.md").exists()


def test_a_run_killed_between_its_two_renames_gets_its_earlier_output_back(tmp_path, corpus_file, capsys):
    out = tmp_path / "corpus"
    assert run(["ingest", "--corpus", str(corpus_file), "--out", str(out)], capsys)[0] == 0
    earlier = snapshot(out)
    os.replace(out, tmp_path / ".corpus.old-99999")  # what a kill after the first rename leaves
    (tmp_path / ".corpus.tmp-99999-abc").mkdir()
    from macro2micro.dataset_builder.outputs import OutputFolder

    with pytest.raises(KeyboardInterrupt), OutputFolder(out, "ingest"):
        assert snapshot(out) == earlier  # put back before anything else happens
        raise KeyboardInterrupt  # and this run fails too: the earlier output must survive it
    assert snapshot(out) == earlier and debris(tmp_path) == []


def test_overwrite_never_replaces_a_repository_or_a_project(tmp_path, corpus_file, capsys):
    for name, what in [(".git", "a git repository"), ("pyvenv.cfg", "a Python virtual environment")]:
        out = tmp_path / f"work-{name.strip('.')}"
        out.mkdir()
        (out / name).mkdir() if name == ".git" else (out / name).write_text("home = /usr\n")
        before = snapshot(tmp_path)
        rc, line = run(build_args(corpus_file, out, "--overwrite"), capsys)
        assert rc == 2 and str(out) in line and what in line, line
        assert snapshot(tmp_path) == before


def test_publish_refuses_a_tokenizer_other_than_the_builds(tmp_path, corpus_file, capsys):
    subsets = tmp_path / "subsets"
    assert run(build_args(corpus_file, subsets), capsys)[0] == 0
    publish = ["publish", "--corpus", str(corpus_file), "--subsets", str(subsets), "--embedder", "none"]
    rc, line = run([*publish, "--tokenizer", "embedded:smollm2-135m", "--out", str(tmp_path / "repo")], capsys)
    assert rc == 2 and "tokenizer embedded:smollm2-135m differs from the build's word" in line
    assert not (tmp_path / "repo").exists()


def test_sigterm_cleans_up_like_ctrl_c(tmp_path, corpus_file):
    """A scheduler's SIGTERM: exit status 143, one line, the earlier output intact and no debris left."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    big = tmp_path / "in" / "big.jsonl"
    make_synthetic_corpus(n=4000).to_json(str(big))
    subsets = tmp_path / "subsets"
    args = [*build_args(big, subsets)[:-2], "--budget", "300", "--levels", "7", "--out", str(subsets)]
    assert subprocess.run([sys.executable, "-m", "macro2micro", *args], env=env, capture_output=True).returncode == 0
    earlier = snapshot(subsets)
    proc = subprocess.Popen(
        [sys.executable, "-m", "macro2micro", *args, "--seed", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(tmp_path.glob(".subsets.tmp-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.skip("the build finished before it could be terminated")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip().splitlines()[-1].endswith("terminated"), err
    assert snapshot(subsets) == earlier and debris(tmp_path) == []


@pytest.mark.parametrize("name", ["a?", "s*", "x[1]"])
def test_debris_is_matched_by_exact_name_never_as_a_pattern(tmp_path, corpus_file, capsys, name):
    """Another output's set-aside folder and a concurrent run's temporary folder match ``a?`` and ``s*`` as
    globs; neither may be touched. The run's own debris is swept whatever its name holds (``[``)."""
    parent = tmp_path / "o"
    parent.mkdir()
    others = [parent / ".ab.old-4242", parent / ".sb.tmp-4242-abc", parent / ".x1.tmp-1-zz"]
    for other in others:
        other.mkdir()
        (other / "keep.txt").write_text("someone else's")
    own = [parent / f".{name}.old-7", parent / f".{name}.tmp-7-abc_9"]
    for folder in own:
        folder.mkdir()
    out = parent / name
    assert run(["ingest", "--corpus", str(corpus_file), "--out", str(out)], capsys)[0] == 0
    assert all((o / "keep.txt").read_text() == "someone else's" for o in others)
    assert not any(f.exists() for f in own)
    assert (out / "summary.json").exists() and not (out / "keep.txt").exists()


@pytest.mark.parametrize(
    "plant, what",
    [
        ("proj/.git/HEAD", "a git repository"),
        ("deep/er/env/pyvenv.cfg", "a Python virtual environment"),
        ("code/pyproject.toml", "a Python project"),
    ],
)
def test_overwrite_refuses_what_lies_anywhere_below(tmp_path, corpus_file, capsys, plant, what):
    out = tmp_path / "wrap"
    (out / plant).parent.mkdir(parents=True)
    (out / plant).write_text("x")
    before = snapshot(tmp_path)
    rc, line = run(["ingest", "--corpus", str(corpus_file), "--out", str(out), "--overwrite"], capsys)
    assert rc == 2 and what in line and str(out / plant).rsplit("/", 1)[0] in line, line
    assert snapshot(tmp_path) == before


def test_overwrite_refuses_the_running_programs_own_code(tmp_path, corpus_file, capsys, monkeypatch):
    pkg = tmp_path / "tree" / "fake_pkg_for_overwrite"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "tree"))
    import fake_pkg_for_overwrite  # noqa: F401  # now part of the running program

    before = snapshot(tmp_path)
    rc, line = run(["ingest", "--corpus", str(corpus_file), "--out", str(pkg), "--overwrite"], capsys)
    assert rc == 2 and "the running program's own code" in line, line
    assert snapshot(tmp_path) == before


def test_overwrite_refuses_files_a_git_work_tree_tracks_but_replaces_an_untracked_output(
    tmp_path, corpus_file, capsys
):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "tracked.txt").write_text("history")
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "add", "sub/tracked.txt"], check=True)
    before = snapshot(tmp_path)
    rc, line = run(["ingest", "--corpus", str(corpus_file), "--out", str(tree / "sub"), "--overwrite"], capsys)
    assert rc == 2 and "tracked by the git repository" in line and "sub/tracked.txt" in line, line
    assert snapshot(tmp_path) == before
    (tree / "out").mkdir()
    (tree / "out" / "untracked.txt").write_text("scratch")
    assert run(["ingest", "--corpus", str(corpus_file), "--out", str(tree / "out"), "--overwrite"], capsys)[0] == 0
    assert (tree / "out" / "summary.json").exists() and (tree / "sub" / "tracked.txt").exists()


def test_a_fifo_and_dev_stdin_are_read_not_called_empty(tmp_path, capsys):
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)
    rows = "".join(json.dumps({"instruction": f"q {i}", "output": f"a {i}"}) + "\n" for i in range(3))
    writer = subprocess.Popen(["sh", "-c", f"cat > '{fifo}'"], stdin=subprocess.PIPE, text=True)
    writer.stdin.write(rows)
    writer.stdin.close()
    assert run(["ingest", "--corpus", str(fifo), "--out", str(tmp_path / "a")], capsys)[0] == 0
    writer.wait(timeout=30)
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["rows"] == 3
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "macro2micro", "ingest", "--corpus", "/dev/stdin", "--out"]
    done = subprocess.run([*cli, str(tmp_path / "b")], input=rows, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "wrote 3 rows" in done.stdout, done.stderr[-2000:]
    done = subprocess.run([*cli, str(tmp_path / "c")], input="", env=env, capture_output=True, text=True)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and "/dev/stdin: the stream (not a regular file) ended without any data" in last
    assert not (tmp_path / "c").exists()


def test_a_sigterm_during_the_imports_still_prints_its_line(tmp_path, corpus_file):
    proc = subprocess.Popen(
        [sys.executable, "-m", "macro2micro", "ingest", "--corpus", str(corpus_file), "--out", str(tmp_path / "o")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)  # the console script is importing torch, datasets and scipy (seconds)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "macro2micro ingest: error: terminated", err
    assert not (tmp_path / "o").exists()


def test_a_json_message_has_no_doubled_word(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "unterminated\n')
    rc, line = run(["ingest", "--corpus", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "Unterminated string starting at column 17" in line and "at at" not in line, line


def test_publish_needs_only_the_build_folder(tmp_path, corpus_file, capsys):
    """build.json records where the corpus was read from and how: publish finds it without --corpus; a build
    from an in-memory dataset keeps that corpus beside its configs, and without that copy says what to pass."""
    subsets = tmp_path / "subsets"
    assert run(build_args(corpus_file, subsets, "--format", "alpaca"), capsys)[0] == 0
    recorded = json.loads((subsets / "build.json").read_text())["corpus"]
    assert recorded["location"] == [str(corpus_file)] and recorded["read_with"]["format"] == "alpaca"
    rc, _ = run(["publish", "--subsets", str(subsets), "--embedder", "none", "--out", str(tmp_path / "repo")], capsys)
    assert rc == 0 and (tmp_path / "repo" / "README.md").exists()

    from macro2micro.api.build import build_ladders
    from macro2micro.api.corpus import load_corpus

    ds, _ = load_corpus(corpus_file)
    build_ladders(ds, strategies=["random"], budget=10, out=tmp_path / "mem", tokenizer="word")
    publish = ["publish", "--subsets", str(tmp_path / "mem"), "--embedder", "none", "--out"]
    assert run([*publish, str(tmp_path / "repo2")], capsys)[0] == 0
    shutil.rmtree(tmp_path / "mem" / "corpus")
    rc, line = run([*publish, str(tmp_path / "repo3")], capsys)
    assert rc == 2 and "records no corpus location" in line and "--corpus" in line, line
    assert not (tmp_path / "repo3").exists()
