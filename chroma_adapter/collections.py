"""Drop-in paths for collections that already exist.

Chroma refuses to swap the persisted embedding function of a collection ("Embedding function
conflict"), and it should: that function embedded the documents. Two supported ways around it:

* :func:`query`: query an existing collection through the adapter without touching it (the
  adapted ``query_embeddings`` are computed here; documents and config stay as they are);
* :func:`attach`: copy the collection's stored embeddings, ids, documents, metadatas and uris
  into a new collection whose embedding function is the adapter (nothing re-embedded); the source
  is deleted only when asked, after the counts match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .embedding_function import AdapterEmbeddingFunction
from .errors import AdapterError

QUERY_BATCH = 256     # one query() with thousands of texts overflows SQLite's variable limit
COPY_BATCH = 1000


def _check_dimension(collection: Any, dim: int, got: int) -> None:
    if got != dim:
        raise AdapterError(f"collection {collection.name!r} stores {got}-d embeddings but the "
                           f"adapter is {dim}-d: it was built with another base model")


def query(collection: Any, query_texts: Sequence[str], ef: AdapterEmbeddingFunction, *,
          n_results: int = 10, batch_size: int = QUERY_BATCH, **kwargs: Any) -> dict[str, Any]:
    """``collection.query(query_texts=...)`` through the adapter, for a collection whose own
    embedding function is the plain base model. Batched; returns one merged QueryResult."""
    texts = list(query_texts)
    merged: dict[str, Any] = {}
    for start in range(0, len(texts), batch_size):
        embeddings = ef.embed_query(texts[start:start + batch_size])
        res = collection.query(query_embeddings=embeddings, n_results=n_results, **kwargs)
        for key, value in res.items():
            if isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            else:
                merged.setdefault(key, value)
    return merged


@dataclass
class AttachReport:
    source: str
    target: str
    copied: int
    source_deleted: bool


def attach(client: Any, source: str, target: str, ef: AdapterEmbeddingFunction, *,
           batch_size: int = COPY_BATCH, delete_source: bool = False) -> AttachReport:
    """Copy ``source`` into a new collection ``target`` served through ``ef``.

    Rerunnable: records are upserted by id, so an interrupted copy is finished by a rerun.
    """
    src = client.get_collection(source)
    space = ((src.configuration_json or {}).get("hnsw") or {}).get("space") \
        or (src.metadata or {}).get("hnsw:space") or ef.default_space()
    metadata = {k: v for k, v in (src.metadata or {}).items() if not k.startswith("hnsw:")}
    dst = client.get_or_create_collection(target, embedding_function=ef,
                                          metadata=metadata or None,
                                          configuration={"hnsw": {"space": space}})
    total = src.count()
    for offset in range(0, total, batch_size):
        page = src.get(include=["embeddings", "documents", "metadatas", "uris"],
                       limit=batch_size, offset=offset)
        embeddings = np.asarray(page["embeddings"], dtype=np.float32)
        _check_dimension(src, ef.adapter.dimension, embeddings.shape[1])
        record: dict[str, Any] = {"ids": page["ids"], "embeddings": embeddings}
        for key in ("documents", "metadatas", "uris"):
            values = page.get(key)
            if values is not None and any(v is not None for v in values):
                record[key] = values
        dst.upsert(**record)
    copied = dst.count()
    if copied != total:
        raise AdapterError(f"attach {source!r} -> {target!r}: copied {copied} of {total} records; "
                           f"the source is left as it is, rerun to finish")
    if delete_source:
        client.delete_collection(source)
    return AttachReport(source, target, copied, delete_source)
