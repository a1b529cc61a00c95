"""The output contract of every command that writes a folder.

- It replaces only a folder that macro2micro marked as an earlier output of the same kind
  (a ``.macro2micro-output.json`` marker inside), an empty folder, or anything with ``overwrite``.
- It refuses an output that is, holds or sits inside one of its inputs.
- It checks that it can write there, and takes a lock, before any work starts: a second run
  into the same folder is refused at once.
- It writes into a temporary sibling folder and renames it into place only when everything
  succeeded; a failed or killed run leaves the earlier output as it was.
- It removes the temporary folders that earlier runs left behind when they were killed, and
  puts back an earlier output that a run killed between its two renames had moved aside.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from macro2micro.dataset_builder.errors import OutputError

MARKER = ".macro2micro-output.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_marker(folder: str | Path) -> dict | None:
    """The marker of a folder macro2micro wrote, or None."""
    try:
        return json.loads((Path(folder) / MARKER).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _input_paths(inputs: Iterable[str | Path | None]) -> list[Path]:
    out = []
    for item in inputs:
        if item is None:
            continue
        path = Path(item)
        if path.exists():
            out.append(path.resolve())
    return out


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_target(target: Path, kind: str, inputs: Iterable[str | Path | None], overwrite: bool) -> None:
    """Refuse a target that overlaps an input, is a file, or holds something macro2micro did not write."""
    resolved = target.resolve()
    for path in _input_paths(inputs):
        if _inside(resolved, path):
            where = "is" if resolved == path else "sits inside"
            raise OutputError(f"--out {target} {where} the input {path}: choose an output folder outside the inputs")
        if _inside(path, resolved):
            raise OutputError(f"--out {target} holds the input {path}: choose an output folder that does not")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputError(f"--out {target} exists and is not a folder: choose another path")
    if target.is_dir() and os.path.ismount(target):
        raise OutputError(f"--out {target} is a mount point, which cannot be replaced: choose a folder inside it")
    _never_replace(target, resolved)
    if not target.is_dir() or overwrite:
        return
    marker = read_marker(target)
    if marker is None and any(target.iterdir()):
        raise OutputError(
            f"--out {target} is a non-empty folder that macro2micro did not write; choose another "
            "folder, or pass --overwrite to replace it"
        )
    if marker is not None and marker.get("kind") != kind:
        raise OutputError(
            f"--out {target} holds the output of `macro2micro {marker.get('kind')}`, not of "
            f"`macro2micro {kind}`; choose another folder, or pass --overwrite to replace it"
        )


# What --overwrite still refuses to replace: it deletes the folder, and these are never ours to delete.
_PROTECTED = {
    ".git": "a git repository",
    ".hg": "a Mercurial repository",
    "pyvenv.cfg": "a Python virtual environment",
    "pyproject.toml": "a Python project",
    "setup.py": "a Python project",
}


def _never_replace(target: Path, resolved: Path) -> None:
    """Refuse, even with --overwrite, a folder that holds, anywhere below it, a repository, a venv, a project,
    the program itself, the current folder or home, or files that an enclosing git repository tracks."""
    if not target.is_dir():
        return
    for place, what in (
        (Path.cwd(), "the current folder"),
        (Path(sys.prefix), "the running Python environment"),
        (Path.home(), "your home folder"),
        *((p, "the running program's own code") for p in _program_folders()),
    ):
        if _inside(Path(os.path.realpath(place)), resolved):
            raise OutputError(f"--out {target} holds {what}; macro2micro never replaces it, even with --overwrite")
    for root, dirs, files in os.walk(target):
        for name in (*dirs, *files):
            if name in _PROTECTED:
                found = Path(root) / name
                raise OutputError(
                    f"--out {target} holds {_PROTECTED[name]} ({found}); macro2micro never replaces such a "
                    "folder, even with --overwrite: choose another --out"
                )
    tracked = _git_tracked(resolved)
    if tracked:
        raise OutputError(
            f"--out {target} holds files tracked by the git repository at {tracked[0]} (e.g. {tracked[1]}); "
            "macro2micro never replaces them, even with --overwrite: choose another --out"
        )


def _program_folders() -> list[Path]:
    """Where the running program's code lives: the folder of every module it has loaded."""
    files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
    return sorted({Path(f).parent for f in files if f})


def _git_tracked(folder: Path) -> tuple[str, str] | None:
    """``(repository, one tracked file)`` when a git work tree around ``folder`` tracks a file inside it."""
    import subprocess

    top = next((p for p in (folder, *folder.parents) if (p / ".git").exists()), None)
    if top is None:
        return None
    try:
        proc = subprocess.run(
            ["git", "-C", str(top), "ls-files", "-z", "--", str(folder.relative_to(top))],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise OutputError(
            f"--out {folder} sits inside the git repository {top}, and git could not list what it tracks "
            f"({err}); choose an --out outside it"
        ) from None
    if proc.returncode != 0:
        raise OutputError(
            f"--out {folder} sits inside the git repository {top}, and `git ls-files` failed "
            f"({proc.stderr.decode(errors='replace').strip()[:200]}); choose an --out outside it"
        )
    first = proc.stdout.split(b"\0", 1)[0]
    return (str(top), first.decode(errors="replace")) if first else None


class _Lock:
    """An exclusive, non-blocking lock on ``.NAME.lock`` beside the target, removed on release."""

    def __init__(self, target: Path):
        self.path = target.parent / f".{target.name}.lock"
        self.fd: int | None = None

    def acquire(self) -> None:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise OutputError(f"cannot write in {self.path.parent}: {err.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise OutputError(
                    f"another macro2micro run is writing {self.path.parent / self.path.name[1:-5]} "
                    f"(lock {self.path}); wait for it to finish or choose another --out"
                ) from None
            # The previous holder may have removed the file between our open and our lock: retry on a fresh one.
            try:
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    self.fd = fd
                    return
            except FileNotFoundError:
                pass
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            os.close(self.fd)
            self.fd = None


def _debris(target: Path) -> tuple[list[Path], list[Path]]:
    """``(set-aside earlier outputs, temporary folders)`` that runs into ``target`` left beside it: names matched
    exactly (``.NAME.old-PID``, ``.NAME.tmp-PID-XXXX``), never as a pattern, so another output's debris is
    never touched whatever characters the names hold."""
    name = re.escape(target.name)
    old, tmp = re.compile(rf"\.{name}\.old-(\d+)"), re.compile(rf"\.{name}\.tmp-\d+-[a-z0-9_]+")
    olds, tmps = [], []
    try:
        entries = list(os.scandir(target.parent))
    except FileNotFoundError:
        return [], []
    for entry in entries:
        if old.fullmatch(entry.name):
            olds.append(Path(entry.path))
        elif tmp.fullmatch(entry.name):
            tmps.append(Path(entry.path))
    olds.sort(key=lambda p: p.stat(follow_symlinks=False).st_mtime_ns)
    return olds, tmps


def _sweep(target: Path) -> None:
    """Remove what killed runs left beside ``target`` (we hold the lock, so every such folder is stale)."""
    olds, tmps = _debris(target)
    if olds and not target.exists():
        os.replace(olds[-1], target)  # a run died between its two renames: the earlier output comes back
        olds = olds[:-1]
    for stale in [*olds, *tmps]:
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


class OutputFolder:
    """``with OutputFolder(out, "build", inputs=[corpus]) as tmp:`` write into ``tmp``; it becomes ``out``.

    Args:
        target: the output folder.
        kind: the command writing it (recorded in the marker; only the same kind is replaced).
        inputs: paths the command reads (an output must not be, hold or sit inside one).
        overwrite: replace a folder that macro2micro did not write, or wrote as another kind.
    """

    def __init__(
        self, target: str | Path, kind: str, inputs: Iterable[str | Path | None] = (), overwrite: bool = False
    ):
        self.target, self.kind, self.inputs, self.overwrite = Path(target), kind, list(inputs), overwrite
        self.lock = _Lock(self.target)
        self.tmp: Path | None = None

    def check(self) -> OutputFolder:
        """Everything that can be checked before the work starts: the target, that the parent is writable, and
        that no other run holds the lock. Commands call it before loading any model."""
        check_target(self.target, self.kind, self.inputs, self.overwrite)
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.target.parent):
                pass
        except OSError as err:
            raise OutputError(f"cannot write in {self.target.parent}: {err.strerror}") from None
        self.lock.acquire()
        self.lock.release()
        return self

    def __enter__(self) -> Path:
        check_target(self.target, self.kind, self.inputs, self.overwrite)
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputError(f"cannot create {self.target.parent}: {err.strerror}") from None
        self.lock.acquire()
        try:
            _sweep(self.target)
            check_target(self.target, self.kind, self.inputs, self.overwrite)  # what the sweep put back
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-{os.getpid()}-", dir=self.target.parent))
            self.tmp.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would make the output private
        except OSError as err:
            self.lock.release()
            raise OutputError(f"cannot write in {self.target.parent}: {err.strerror}") from None
        except BaseException:
            self.lock.release()
            raise
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        tmp = self.tmp
        assert tmp is not None, "__exit__ without __enter__"
        try:
            if exc_type is not None:
                shutil.rmtree(tmp, ignore_errors=True)
                _disk_error(exc, self.target, "; nothing of this run was kept, an earlier output is as it was")
                return
            try:
                write_marker(tmp, self.kind)
                self._swap(tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        finally:
            self.lock.release()

    def _swap(self, tmp: Path) -> None:
        old = None
        if self.target.exists():
            old = self.target.parent / f".{self.target.name}.old-{os.getpid()}"
            os.replace(self.target, old)
        os.replace(tmp, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


# The disk, not the data: a full or read-only file system, a quota. Named by the output it stopped.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO}


def _disk_error(exc: BaseException | None, target: Path, kept: str = "") -> None:
    """Raise an OSError that the disk caused while writing ``target`` as an :class:`OutputError` naming it."""
    if isinstance(exc, OSError) and not isinstance(exc, OutputError) and exc.errno in _DISK_ERRNOS:
        raise OutputError(f"writing {target} failed: {exc.strerror or exc}{kept}") from exc


def write_marker(folder: str | Path, kind: str) -> None:
    from macro2micro.dataset_builder.utils import package_versions

    version = package_versions(("macro2micro",)).get("macro2micro", "unknown")
    # no timestamp: the same run twice writes the same bytes
    (Path(folder) / MARKER).write_text(json.dumps({"kind": kind, "tool": "macro2micro", "version": version}))


@contextlib.contextmanager
def claim_folder(
    target: str | Path, kind: str, inputs: Iterable[str | Path | None] = (), overwrite: bool = False
) -> Iterator[Path]:
    """A folder that a command fills in place, item by item (adapter runs, the demo's stages): checked and
    marked like :class:`OutputFolder`, locked for the whole run; each item inside is written atomically."""
    target = Path(target)
    check_target(target, kind, inputs, overwrite)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create {target}: {err.strerror}") from None
    lock = _Lock(target)
    lock.acquire()
    try:
        if read_marker(target) is None or overwrite:
            try:
                write_marker(target, kind)
            except OSError as err:
                raise OutputError(f"cannot write in {target}: {err.strerror}") from None
        try:
            yield target
        except OSError as err:
            _disk_error(err, target)
            raise
    finally:
        lock.release()
