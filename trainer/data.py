"""Training data: the seed dataset format, query logs, and train/validation splits.

Seed format (``apple_QA_dataset.json``), read and written as is: a JSON list of
``{"chunk_index": int, "input_chunk": str, "questions": {"question_1": str, ...}}``. A chunk with
no questions is valid: a document that is searched but has no training query.
A query log (``--queries``) is JSON Lines of ``{"query": str, "chunk_index": int}`` pointing into a
dataset's chunks: real user queries with the chunk that answered them.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

DATA_ENV = "CHROMA_ADAPTER_DATA"
HUB_HINT = ("get the reference data from the Hugging Face Hub: dataset "
            "AdamLucek/apple-environmental-report-QA-retrieval (apple_QA_dataset.json) and adapters "
            "AdamLucek/all-MiniLM-L6-v2-query-only-linear-adapter-AppleQA; NVIDIA's 10-K PDF "
            "(fiscal 2024) from investor.nvidia.com")
SPLITS = ("random", "by-chunk", "none")


class DataError(ValueError):
    """Malformed training data; the message names the file and the entry."""


DATASET_FILE, NEGATIVES_FILE = "apple_QA_dataset.json", "nvidia_10k.pdf"
SEED_ADAPTER_FILE = "seed_adapters/linear_adapter_30epochs.pth"


def find_data_dir(path: str | os.PathLike | None = None,
                  needs: Sequence[str] = (DATASET_FILE,)) -> Path:
    """The reference data directory: ``path`` (a flag), else ``$CHROMA_ADAPTER_DATA``; it must
    hold the files in ``needs`` (names relative to it)."""
    chosen = path or os.environ.get(DATA_ENV)
    if not chosen:
        raise DataError(f"no data directory: pass --data DIR or set {DATA_ENV}; {HUB_HINT}")
    d = Path(chosen).expanduser()
    missing = [name for name in needs if not (d / name).is_file()]
    if missing:
        raise DataError(f"{d}: no {' or '.join(missing)} there; {HUB_HINT}")
    return d


@dataclass
class Dataset:
    chunks: list[str]                       # position -> chunk text
    chunk_ids: list[int]                    # position -> chunk_index
    pairs: list[tuple[str, int]]            # (question, chunk position), in file order
    source: str = "<memory>"
    sha256: str = ""
    pair_chunk: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.pair_chunk = [p for _, p in self.pairs]


def _fail(source: str, where: str, why: str) -> DataError:
    return DataError(f"{source}: {where}: {why}")


def load_dataset(path: str | os.PathLike, queries: str | os.PathLike | None = None) -> Dataset:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such dataset file; {HUB_HINT}")
    raw = path.read_bytes()
    try:
        items = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    src = str(path)
    if not isinstance(items, list) or not items:
        raise DataError(f"{src}: expected a non-empty JSON list of "
                        f"{{chunk_index, input_chunk, questions}} objects")
    chunks, ids, pairs, seen = [], [], [], {}
    for n, item in enumerate(items):
        where = f"entry {n}"
        if not isinstance(item, dict):
            raise _fail(src, where, "expected an object")
        cid, text, qs = item.get("chunk_index"), item.get("input_chunk"), item.get("questions", {})
        if not isinstance(cid, int) or isinstance(cid, bool):
            raise _fail(src, where, f"chunk_index must be an integer, got {cid!r}")
        if cid in seen:
            raise _fail(src, where, f"chunk_index {cid} repeats entry {seen[cid]}")
        if not isinstance(text, str) or not text.strip():
            raise _fail(src, where, "input_chunk must be a non-empty string")
        if not isinstance(qs, dict):
            raise _fail(src, where, "questions must be an object {\"question_1\": ...}")
        seen[cid] = n
        for key, q in qs.items():
            if not isinstance(q, str) or not q.strip():
                raise _fail(src, f"{where} (chunk_index {cid}) {key}", "empty or non-string question")
            pairs.append((q, len(chunks)))
        chunks.append(text)
        ids.append(cid)
    digest = hashlib.sha256(raw)
    if queries is not None:
        pairs.extend(_load_queries(Path(queries), {c: i for i, c in enumerate(ids)}, digest))
    return Dataset(chunks, ids, pairs, source=src, sha256=digest.hexdigest())


def _load_queries(path: Path, position: dict[int, int], digest: Any) -> Iterable[tuple[str, int]]:
    if not path.is_file():
        raise DataError(f"{path}: no such query log")
    raw = path.read_bytes()
    digest.update(raw)
    out = []
    for n, line in enumerate(raw.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {n}: not valid JSON ({exc})") from None
        q, cid = (rec.get("query"), rec.get("chunk_index")) if isinstance(rec, dict) else (None, None)
        if not isinstance(q, str) or not q.strip():
            raise DataError(f"{path}: line {n}: \"query\" must be a non-empty string")
        if cid not in position:
            raise DataError(f"{path}: line {n}: chunk_index {cid!r} is not a chunk of the dataset")
        out.append((q, position[cid]))
    return out


def split(ds: Dataset, kind: str = "random", *, seed: int = 42, val_fraction: float = 0.2
          ) -> tuple[list[int], list[int]]:
    """Indices into ``ds.pairs``: (train, validation).

    ``random``: pairs shuffled, the last ``val_fraction`` held out (the seed notebook's split:
    most validation chunks were also training targets). ``by-chunk``: ``val_fraction`` of the
    chunks held out with all their questions; the adapter never trains on them. ``none``: train
    on everything, no validation.
    """
    if kind not in SPLITS:
        raise DataError(f"unknown split {kind!r}; choose one of {', '.join(SPLITS)}")
    if not 0.0 < val_fraction < 1.0 and kind != "none":
        raise DataError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    rng = random.Random(seed)
    order = list(range(len(ds.pairs)))
    if kind == "none":
        return order, []
    if kind == "random":
        rng.shuffle(order)
        n_train = len(order) - round(len(order) * val_fraction)
        return sorted(order[:n_train]), sorted(order[n_train:])
    positions = list(range(len(ds.chunks)))
    rng.shuffle(positions)
    held = set(positions[:round(len(positions) * val_fraction)])
    train = [i for i in order if ds.pair_chunk[i] not in held]
    val = [i for i in order if ds.pair_chunk[i] in held]
    return train, val


def write_dataset(path: str | os.PathLike, items: Any) -> None:
    """Write a seed-format file (any JSON) atomically: temp file in the same directory, fsync,
    ``os.replace``; a crash leaves the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(items, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
