"""Reading, writing and cross-checking the files of :mod:`.schemas`: one line naming the file and field."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from macro2micro.dataset_builder.defaults import FULL_CONFIG
from macro2micro.dataset_builder.errors import ArtifactError
from macro2micro.dataset_builder.hub.schemas import manifest_hash, short

M = TypeVar("M", bound=BaseModel)


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _first_non_finite(value: Any, loc: tuple = ()) -> tuple | None:
    if isinstance(value, float) and not math.isfinite(value):
        return loc
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_non_finite(item, (*loc, key))
        if found is not None:
            return found
    return None


def validate(model: type[M] | TypeAdapter, data: Any, source: str | Path) -> M:
    """``data`` parsed into ``model``, or an ArtifactError naming ``source``, the field and what is wrong."""
    bad = _first_non_finite(data)
    if bad is not None:
        raise ArtifactError(f"{source}: field {_where(bad)!r}: not a finite number (nan, inf or out of range)")
    try:
        return model.validate_python(data) if isinstance(model, TypeAdapter) else model.model_validate(data)
    except ValidationError as err:
        errors = err.errors(include_url=False)
        # a union's branches each report; the deepest error is the one that names what is wrong
        e = max(errors, key=lambda e: (len(e["loc"]), -errors.index(e)))
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        msg = e["msg"].removeprefix("Value error, ")
        got = e.get("input")
        if isinstance(got, str | int | float | bool) and not isinstance(e.get("ctx", {}).get("error"), ValueError):
            msg += f" (got {short(got)})"
        where = f"field {_where(loc)!r}" if loc else "content"
        raise ArtifactError(f"{source}: {where}: {msg}") from None


def read_json(path: str | Path, what: str) -> Any:
    """A JSON file, or an ArtifactError naming it (missing, not UTF-8, not JSON, nested too deeply)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing ({what})") from None
    except IsADirectoryError:
        raise ArtifactError(f"{path}: a folder, not the {what} file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{path}: not valid JSON ({err})") from None
    except RecursionError:
        raise ArtifactError(f"{path}: JSON nested too deeply to read ({what})") from None


def read_model(model: type[M] | TypeAdapter, path: str | Path, what: str) -> dict:
    """A JSON file read and validated against ``model``; returns the data as read (it is what was validated)."""
    data = read_json(path, what)
    validate(model, data, path)
    return data


def write_json(model: type[BaseModel] | TypeAdapter, data: Any, path: str | Path, **dump) -> None:
    """Validate ``data`` against ``model`` and write it as JSON: a writer never emits what its reader refuses."""
    validate(model, data, path)
    Path(path).write_text(json.dumps(data, allow_nan=False, **dump), encoding="utf-8")


def check_build(build_dir: Path, info: dict, manifests: dict[str, dict]) -> None:
    """What one file of a build says about another: configs, corpus, budget, levels and each manifest's hash."""
    corpus, budget = info["corpus"], info["options"]["budget"]
    for config, m in manifests.items():
        where = build_dir / "manifests" / f"{config}.json"
        if m["config"] != config:
            raise ArtifactError(f"{where}: field 'config': {short(m['config'])}, not {config!r} (its file name)")
        if m["corpus"]["fingerprint"] != corpus["fingerprint"] or m["corpus"]["rows"] != corpus["rows"]:
            raise ArtifactError(
                f"{where}: field 'corpus': fingerprint {m['corpus']['fingerprint']} ({m['corpus']['rows']} rows), "
                f"not build.json's {corpus['fingerprint']} ({corpus['rows']} rows)"
            )
        if m["budget"] != budget:
            raise ArtifactError(f"{where}: field 'budget': {m['budget']}, not build.json's N={budget}")
        if m.get("level_name") is not None and m["level_name"] not in info["level_names"]:
            raise ArtifactError(f"{where}: field 'level_name': {short(m['level_name'])} is not one of build.json's")
        if manifest_hash(m) != m["manifest_sha256"]:
            raise ArtifactError(
                f"{where}: field 'manifest_sha256' does not match the manifest's content: it was edited after the "
                "build (rebuild it with `macro2micro build`)"
            )


def check_metrics(source: str, metrics: dict, configs: list[str] | None = None) -> None:
    """The metrics (a file or the card's copy) hold ``full`` and, with a build at hand, exactly its configs."""
    if FULL_CONFIG not in metrics:
        raise ArtifactError(f"{source}: no {FULL_CONFIG!r} entry (the whole corpus)")
    if configs is not None and sorted(metrics) != sorted([FULL_CONFIG, *configs]):
        extra = sorted(set(metrics) - {FULL_CONFIG, *configs})
        missing = sorted({FULL_CONFIG, *configs} - set(metrics))
        raise ArtifactError(
            f"{source}: its configs are not build.json's (extra: {short(extra)}, missing: {short(missing)})"
        )
