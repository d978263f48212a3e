"""Finding a checkpoint on disk: a folder given by the user, or the Hugging Face cache, never the network."""

from __future__ import annotations

import os
from pathlib import Path

from openreels.errors import OpenreelsError
from openreels.models.registry import DEFAULT_ANIMATE_MODEL, DEFAULT_COMPOSE_MODEL, DEFAULT_MODEL, ModelSpec
from openreels.models.tiny import bundled_a1_dir, bundled_a2_dir


def hf_cache_dir() -> Path:
    """The hub cache folder as huggingface_hub resolves it, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def cached_snapshot(repo_id: str) -> Path | None:
    """The newest complete snapshot of `repo_id` in the HF cache, or None; makes no network call."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(repo_id, cache_dir=hf_cache_dir(), local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        return None
    return path if _looks_like_checkpoint(path) else None


def _looks_like_checkpoint(path: Path) -> bool:
    return (
        (path / "model_index.json").is_file()
        or (path / "config.json").is_file()
        or (path / "transformer" / "config.json").is_file()
    )


# The small models shipped inside the package, besides the default (which has a random stand-in).
_BUNDLED = {DEFAULT_ANIMATE_MODEL: bundled_a1_dir, DEFAULT_COMPOSE_MODEL: bundled_a2_dir}


def download_hint(spec: ModelSpec) -> str:
    cmd = f"huggingface-cli download {spec.hf_repo}"
    if spec.base_repo:
        cmd += f" && huggingface-cli download {spec.base_repo} --exclude 'transformer/*'"
    return f"run `{cmd}` (about {spec.download_gb:g} GB of disk) or pass --model PATH to a local copy"


def locate_weights(spec: ModelSpec, path: str | os.PathLike | None = None) -> Path:
    """The folder holding `spec`'s weights: `path` if given, else the HF cache; fails with the download command.

    For the default tiny model this is the bundled folder or, until it ships, a random stand-in built once
    into the openreels cache.
    """
    if path is not None:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise OpenreelsError(
                f"model folder not found: {folder}; pass an existing checkpoint folder to --model"
            )
        if not _looks_like_checkpoint(folder):
            raise OpenreelsError(
                f"{folder} holds no checkpoint (no model_index.json or config.json); pass a diffusers-format folder"
            )
        return folder
    if spec.id == DEFAULT_MODEL:
        from openreels.models.tiny import default_tiny_dir

        return default_tiny_dir()
    if spec.id in _BUNDLED:
        folder = _BUNDLED[spec.id]()
        if folder is None:
            raise OpenreelsError(f"the bundled {spec.id} model is missing; reinstall openreels")
        return folder
    if spec.hf_repo is None and Path(spec.id).is_dir():  # a spec read from a checkpoint folder
        return locate_weights(spec, spec.id)
    if spec.hf_repo is None:
        raise OpenreelsError(f"model {spec.id} has no download source; pass --model PATH")
    found = cached_snapshot(spec.hf_repo)
    if found is None or (spec.base_repo and cached_snapshot(spec.base_repo) is None):
        raise OpenreelsError(f"model {spec.id} is not downloaded: {download_hint(spec)}")
    return found


def weights_present(spec: ModelSpec) -> bool:
    """Whether `locate_weights(spec)` would succeed without building or downloading anything."""
    if spec.id == DEFAULT_MODEL:
        return True
    if spec.id in _BUNDLED:
        return _BUNDLED[spec.id]() is not None
    if spec.hf_repo is None:
        return Path(spec.id).is_dir()
    return cached_snapshot(spec.hf_repo) is not None and (
        spec.base_repo is None or cached_snapshot(spec.base_repo) is not None
    )
