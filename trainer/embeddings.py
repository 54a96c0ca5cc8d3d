"""Embed once: every text goes through the base embedding function a single time.

The seed notebook re-encoded query, positive and negative for every item of every epoch (about
2.9 hours on this CPU). Here texts are embedded with the very embedding function that embeds
documents in Chroma, in batches, and kept in an on-disk cache keyed by the model (its config and
its fingerprint) and each text's SHA-256. The cache is append-only and written batch by batch, so
an interrupted run resumes where it stopped and a second run embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from chroma_adapter import fingerprint

DEFAULT_CACHE = Path(os.environ.get("CHROMA_ADAPTER_CACHE",
                                    Path.home() / ".cache" / "chroma-adapter" / "embeddings"))


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_key(ef: Any) -> tuple[str, dict[str, Any]]:
    """A key that changes when the model's config or its actual outputs change."""
    fp = fingerprint.compute(ef)
    ident = {"name": ef.name(), "config": ef.get_config(), "fingerprint": fp["values"]}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()
    return digest[:20], fp


class EmbeddingCache:
    """``embed(texts)`` -> float32 [n, d], computing only the texts not cached yet."""

    def __init__(self, ef: Any, cache_dir: str | os.PathLike | None = DEFAULT_CACHE,
                 batch_size: int = 64, progress: bool = True):
        self.ef, self.batch_size, self.progress = ef, batch_size, progress
        self.key, self.fingerprint = model_key(ef)
        self.dim = int(self.fingerprint["dimension"])
        self.dir = Path(cache_dir) / self.key if cache_dir is not None else None
        self.index: dict[str, int] = {}
        self.vectors = np.zeros((0, self.dim), np.float32)
        self.computed = 0  # texts embedded by this instance (0 on a warm cache)
        if self.dir is not None:
            self._load()

    def _paths(self) -> tuple[Path, Path]:
        assert self.dir is not None
        return self.dir / "keys.txt", self.dir / "vectors.f32"

    def _load(self) -> None:
        keys_path, vec_path = self._paths()
        if not keys_path.exists():
            return
        text = keys_path.read_text()
        keys = [k for k in text.split("\n") if len(k) == 64]
        raw = np.fromfile(vec_path, dtype=np.float32) if vec_path.exists() else np.zeros(0, np.float32)
        n = min(len(keys), raw.size // self.dim)  # a torn last write is dropped
        if text and (not text.endswith("\n") or len(keys) != n):  # realign keys with vectors
            keys_path.write_text("".join(k + "\n" for k in keys[:n]))
        self.vectors = raw[: n * self.dim].reshape(n, self.dim).copy()
        self.index = {k: i for i, k in enumerate(keys[:n])}

    def _append(self, start: int, keys: list[str], vecs: np.ndarray) -> None:
        """Persist rows ``start .. start + len(keys)`` (the caller keeps them in memory)."""
        for i, k in enumerate(keys):
            self.index[k] = start + i
        if self.dir is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        keys_path, vec_path = self._paths()
        if start == 0 and (keys_path.exists() or vec_path.exists()):  # torn state: restart clean
            keys_path.unlink(missing_ok=True)
            vec_path.unlink(missing_ok=True)
        elif vec_path.exists() and vec_path.stat().st_size != start * self.dim * 4:
            with open(vec_path, "r+b") as f:  # drop a torn tail so rows and keys line up
                f.truncate(start * self.dim * 4)
        with open(vec_path, "ab") as f:  # vectors first, then the keys that make them valid
            f.write(np.ascontiguousarray(vecs, np.float32).tobytes())
            f.flush()
            os.fsync(f.fileno())
        with open(keys_path, "a") as f:
            f.write("".join(k + "\n" for k in keys))
            f.flush()
            os.fsync(f.fileno())

    def embed(self, texts: Sequence[str], desc: str = "embedding") -> np.ndarray:
        keys = [_text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts):
            if k not in self.index and k not in missing:
                missing[k] = t
        if missing:
            todo = list(missing.items())
            bar = None
            if self.progress:
                from tqdm import tqdm

                bar = tqdm(total=len(todo), desc=desc, unit="text", leave=False)
            blocks, rows = [self.vectors], len(self.vectors)
            try:
                for start in range(0, len(todo), self.batch_size):
                    batch = todo[start:start + self.batch_size]
                    vecs = np.asarray(self.ef([t for _, t in batch]), dtype=np.float32)
                    self._append(rows, [k for k, _ in batch], vecs)
                    blocks.append(vecs)
                    rows += len(batch)
                    self.computed += len(batch)
                    if bar is not None:
                        bar.update(len(batch))
            finally:  # one concatenation per call, not per batch (100k texts stay linear)
                self.vectors = np.concatenate(blocks)
                if bar is not None:
                    bar.close()
        return self.vectors[[self.index[k] for k in keys]] if keys else \
            np.zeros((0, self.dim), np.float32)
