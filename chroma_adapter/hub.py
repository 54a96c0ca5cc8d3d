"""Hub I/O for adapters, on huggingface_hub: a local directory or a Hub repo id in, a directory out.

Everything a Hub user expects comes from huggingface_hub itself: the shared cache
(``HF_HUB_CACHE``), offline mode (``HF_HUB_OFFLINE=1``), revisions (branch, tag or commit),
tokens (``HF_TOKEN`` or ``hf auth login``) and ``HF_ENDPOINT``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import AdapterError

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def _looks_local(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or ref.count("/") > 1 or "\\" in ref


def resolve(path_or_repo_id: str | os.PathLike, *, revision: str | None = None,
            token: str | bool | None = None, cache_dir: str | os.PathLike | None = None,
            local_files_only: bool = False) -> tuple[Path, tuple[str, str] | None]:
    """Return (directory holding the adapter files, (repo_id, commit) or None when local)."""
    ref = os.fspath(path_or_repo_id)
    path = Path(ref).expanduser()
    if path.is_dir():
        return path, None
    if path.exists():
        raise AdapterError(f"{ref}: is a file; an adapter is a directory holding "
                           f"{' and '.join(ADAPTER_FILES)}")
    if _looks_local(ref):
        raise AdapterError(f"{ref}: no such adapter directory")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (EntryNotFoundError, HFValidationError,
                                        LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    at = f"{ref}@{revision}" if revision else ref
    files = []
    try:
        for name in ADAPTER_FILES:
            files.append(hf_hub_download(ref, name, revision=revision, token=token,
                                         cache_dir=cache_dir, local_files_only=local_files_only))
    except HFValidationError:
        raise AdapterError(f"{ref}: neither an adapter directory nor a valid Hub repo id") from None
    except RepositoryNotFoundError:
        raise AdapterError(f"{at}: no such Hub repo (or it is private: pass token=... or "
                           f"log in)") from None
    except RevisionNotFoundError:
        raise AdapterError(f"{at}: the Hub repo has no revision {revision!r}") from None
    except LocalEntryNotFoundError:  # before its base class EntryNotFoundError
        raise AdapterError(f"{at}: {name} is not in the Hub cache and the Hub cannot be reached "
                           f"(offline mode, or no network); download it once online, or pass a "
                           f"local directory") from None
    except EntryNotFoundError:
        raise AdapterError(f"{at}: the Hub repo has no {name}; is it a chroma-adapter "
                           f"adapter?") from None
    directory = Path(files[0]).parent
    return directory, (ref, directory.name)


def push_folder(folder: str | os.PathLike, repo_id: str, *, private: bool | None = None,
                token: str | bool | None = None, revision: str | None = None,
                commit_message: str = "Upload query adapter", create_pr: bool = False) -> Any:
    """Create ``repo_id`` if needed (and ``revision`` as a branch) and upload ``folder``."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision and revision != "main" and not create_pr:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    return api.upload_folder(repo_id=repo_id, folder_path=os.fspath(folder),
                             commit_message=commit_message, revision=revision,
                             create_pr=create_pr)
