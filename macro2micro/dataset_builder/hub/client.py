"""The Hugging Face Hub: one-commit publishing with card metadata merged, and downloads by repo id.

Everything honours ``HF_ENDPOINT``, ``HF_TOKEN`` (or the saved login) and ``HF_HUB_OFFLINE``.
Errors become :class:`HubError` with one line naming the repo and what failed; no token or
request header is ever part of a message.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from macro2micro.dataset_builder.errors import HubError
from macro2micro.dataset_builder.naming import check_repo_id

logger = logging.getLogger(__name__)


def _reason(err: Exception) -> str:
    """The first line of a Hub error, with anything after 'Authorization' cut away."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    cut = text.lower().find("authorization")
    return (text[:cut].rstrip(" ,:;({[") if cut >= 0 else text)[:300]


def download_repo(
    repo_id: str, repo_type: str = "dataset", revision: str | None = None, allow_patterns: list[str] | None = None
) -> tuple[Path, str | None]:
    """``snapshot_download`` of a repo: ``(local folder, resolved commit sha)``."""
    from huggingface_hub import snapshot_download

    check_repo_id(repo_id, f"{repo_type} repo id")
    try:
        path = snapshot_download(repo_id, repo_type=repo_type, revision=revision, allow_patterns=allow_patterns)
    except Exception as err:  # offline, missing, private, network: one line
        raise HubError(
            f"{repo_type} repo {repo_id!r}: could not download it ({_reason(err)}); is it a local path "
            "that does not exist, or is the Hub unreachable (HF_HUB_OFFLINE, HF_ENDPOINT, HF_TOKEN)?"
        ) from None
    sha = Path(path).name if len(Path(path).name) == 40 else None
    return Path(path), sha


def download_file(repo_id: str, filename: str, repo_type: str = "dataset", revision: str | None = None) -> Path:
    """One file of a repo (``hf_hub_download``), e.g. a dataset card to validate before ``datasets`` reads it."""
    from huggingface_hub import hf_hub_download

    check_repo_id(repo_id, f"{repo_type} repo id")
    try:
        return Path(hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision))
    except Exception as err:  # offline, missing, private, network: one line
        raise HubError(
            f"{repo_type} repo {repo_id!r}: could not download {filename} ({_reason(err)}); is it a local path "
            "that does not exist, or is the Hub unreachable (HF_HUB_OFFLINE, HF_ENDPOINT, HF_TOKEN)?"
        ) from None


def publish_folder(
    folder: str | Path,
    repo_id: str,
    private: bool = False,
    dry_run: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Create the repo if needed, merge the card metadata already there, upload in one commit.

    The token comes from ``token``, ``HF_TOKEN`` or the saved login, and is never printed.
    Returns the commit URL (or a description of what would be uploaded, on a dry run).
    """
    from huggingface_hub import DatasetCard, DatasetCardData, HfApi
    from huggingface_hub.errors import EntryNotFoundError, RemoteEntryNotFoundError, RepositoryNotFoundError

    check_repo_id(repo_id, "dataset repo id")
    folder = Path(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    if dry_run:
        size = sum((folder / f).stat().st_size for f in files)
        return f"dry run: would upload {len(files)} files ({size / 1e6:.1f} MB) to datasets/{repo_id}"
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        try:
            remote = DatasetCard.load(repo_id, repo_type="dataset", token=token)
        except (EntryNotFoundError, RemoteEntryNotFoundError, RepositoryNotFoundError, FileNotFoundError):
            remote = None  # a new repo has no card yet
        if remote is not None:
            local = DatasetCard.load(str(folder / "README.md"))
            merged = {**remote.data.to_dict(), **local.data.to_dict()}
            if merged != local.data.to_dict():
                local.data = DatasetCardData(**merged)
                staging = folder.parent / f".{folder.name}.card"
                staging.mkdir(exist_ok=True)
                local.save(str(staging / "README.md"))
                shutil.copy2(staging / "README.md", folder / "README.md")
                shutil.rmtree(staging, ignore_errors=True)
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(folder),
            commit_message=commit_message or "macro2micro: publish diversity ladders",
        )
    except Exception as err:
        raise HubError(f"dataset repo {repo_id!r}: upload failed ({_reason(err)})") from None
    return str(getattr(info, "commit_url", info))
