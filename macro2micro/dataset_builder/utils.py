"""Small shared helpers: atomic output folders, the cache folder, stable hashing, lazy imports, reading saved
Arrow files batch by batch, handing freed memory back."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from macro2micro.dataset_builder.defaults import PRECISIONS
from macro2micro.dataset_builder.errors import MissingDependencyError, OptionsError

logger = logging.getLogger(__name__)

# The exact install line for every optional dependency, so a missing one says how to get it.
_INSTALL_HINTS = {
    "sentence_transformers": "pip install 'macro2micro[macro]'",
    "sklearn": "pip install 'macro2micro[macro]'",
    "umap": "pip install 'macro2micro[umap]'",
    "trl": "pip install 'macro2micro[train]'",
    "peft": "pip install 'macro2micro[train]'",
    "accelerate": "pip install 'macro2micro[train]'",
    "gradio": "pip install 'macro2micro[space]'",
    "gradio_client": "pip install 'macro2micro[space]'",
    "pandas": "pip install 'macro2micro[space]'",
    "matplotlib": "pip install 'macro2micro[space]'",
    "nh3": "pip install 'macro2micro[space]'",
    "markdown_it": "pip install 'macro2micro[space]'",
    "gguf": "pip install gguf",
    "zstandard": "pip install 'macro2micro[zstd]'",
    "ray": "pip install 'macro2micro[ray]'",
}


def require(module: str) -> Any:
    """Import an optional dependency, or raise an ImportError that gives the install line."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        hint = _INSTALL_HINTS.get(top, f"pip install {top}")
        raise MissingDependencyError(f"{module!r} is needed for this step but is not installed: run `{hint}`") from err


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off while millions of small objects (token ids, words) are made: it would
    run often, for nothing (none of them make cycles). Measured: 7 % of micro tokenization at 117K rows."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def release_memory() -> None:
    """Hand memory that is free but still held back to the system: after a stage drops large arrays, glibc keeps
    their freed pages in its heaps (one per thread that allocated) and Arrow in its pool, and the resident set stays
    where the stage's peak left it. No-op where glibc's ``malloc_trim`` is missing."""
    import ctypes
    import ctypes.util

    gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def torch_threads() -> int:
    """Let torch use every core (``$MACRO2MICRO_TORCH_THREADS`` overrides), whatever ``OMP_NUM_THREADS`` tells BLAS.

    The project sets ``OMP_NUM_THREADS=1`` for numpy and scipy (small, many calls); torch's own pool is what
    embedding, training and generation run on, and one thread leaves half of a 2-core machine idle.
    """
    import torch

    wanted = int(os.environ.get("MACRO2MICRO_TORCH_THREADS") or len(os.sched_getaffinity(0)) or 1)
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return wanted


def resolve_precision(precision: str, device: str = "cpu") -> str:
    """``float32`` or ``bfloat16``: ``auto`` is bfloat16 where ``device`` computes it natively (a CUDA GPU that
    supports it, a CPU with AVX512-BF16 or AMX; measured on such a 2-core CPU: MiniLM embeds 3x and SmolLM2
    decodes 2.5x faster, cosines within 2.4e-3), else float32 (emulated bfloat16 is slower than float32)."""
    if precision not in PRECISIONS:
        raise OptionsError(f"precision={precision!r}; valid: {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    import torch

    if str(device).startswith("cuda"):
        return "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"
    native = [
        getattr(torch.cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    ]
    return "bfloat16" if any(native) else "float32"


def autocast(precision: str, device: str = "cpu"):
    """A context in which torch computes at ``precision`` (resolved): mixed bfloat16 autocast, which keeps norms and
    softmax in float32, or nothing for float32."""
    if resolve_precision(precision, device) == "float32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device_type=str(device).split(":")[0], dtype=torch.bfloat16)


def cache_dir(*parts: str) -> Path:
    """The toolkit's cache folder ($MACRO2MICRO_CACHE, else ~/.cache/macro2micro), created on demand."""
    root = Path(os.environ.get("MACRO2MICRO_CACHE") or Path.home() / ".cache" / "macro2micro")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def stable_json(obj: Any) -> str:
    """Canonical JSON (sorted keys, no whitespace variance) so that equal content hashes equally."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def sha256_text(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def hash_files(paths: list[Path]) -> str:
    """sha256 over the names and bytes of files, in sorted order: identity of a local model folder."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``target`` in one rename (cache entries).

    If the body raises, the temporary folder is removed and ``target`` is left exactly as it was.
    Folders a user names go through :class:`macro2micro.dataset_builder.outputs.OutputFolder` instead.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    mask = os.umask(0)
    os.umask(mask)
    tmp.chmod(0o777 & ~mask)  # mkdtemp's 0700 would make the result private
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path (same suffix) to write; on success it replaces ``path`` in one rename.

    Readers never see half a file, and a failed write leaves ``path`` as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.tmp-{os.getpid()}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file through :func:`atomic_file`."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def package_versions(
    names: tuple[str, ...] = (
        "macro2micro",
        "numpy",
        "scipy",
        "datasets",
        "transformers",
        "tokenizers",
        "sentence-transformers",
        "scikit-learn",
        "nltk",
        "torch",
    ),
) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def whole_files(ds, columns: Iterable[str] = ()) -> list[str]:
    """The Arrow stream files that hold exactly ``ds`` (as ``load_from_disk`` opens a saved Dataset: no indices
    mapping, every row of every file), in order, each with ``columns``; else ``[]``."""
    import pyarrow as pa

    files = [f["filename"] for f in getattr(ds, "cache_files", None) or []]
    if not files or getattr(ds, "_indices", None) is not None:
        return []
    try:
        total = 0
        for path in files:
            with pa.memory_map(path) as f:  # the schema and batch lengths only
                reader = pa.ipc.open_stream(f)
                if any(name not in reader.schema.names for name in columns):
                    return []
                total += sum(len(b) for b in reader)
    except (OSError, pa.ArrowInvalid):
        return []
    return files if total == len(ds) else []


def stream_batches(files: list[str]) -> Iterator:
    """The record batches of Arrow stream files, in order, read through the files one batch at a time: a full pass
    through a memory map would leave every page it touched in the process's resident set."""
    import pyarrow as pa

    for path in files:
        with pa.OSFile(path) as f:
            yield from pa.ipc.open_stream(f)
