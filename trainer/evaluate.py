"""Recall@k and MRR@k measured through a real Chroma collection.

The chunks go into a Chroma collection (cosine) under the base embedding function, with the
vectors that function gives (taken from the embedding cache: identical, and not recomputed).
Baseline: ``collection.query(query_texts=...)``, embedded by the base EF. Adapter: the same
questions embedded by ``AdapterEmbeddingFunction.embed_query`` and searched in the same
collection (``chroma_adapter.query``: the supported path for collections that already exist).
Reciprocal rank counts only within the top k (else 0), as in the seed notebook.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from typing import Any, Sequence

import numpy as np

import chroma_adapter

ADD_BATCH = 1000


def metrics_from_ranks(ranks: Sequence[int | None], k: int) -> dict[str, float]:
    """``ranks``: 1-based rank of the right chunk in the results, None when absent."""
    n = len(ranks)
    if n == 0:
        return {"recall": float("nan"), "mrr": float("nan"), "n": 0}
    hits = [r for r in ranks if r is not None and r <= k]
    return {"recall": len(hits) / n, "mrr": sum(1.0 / r for r in hits) / n, "n": n}


def ranks_from_ids(result_ids: Sequence[Sequence[str]], gold: Sequence[str]) -> list[int | None]:
    return [list(ids).index(g) + 1 if g in ids else None for ids, g in zip(result_ids, gold)]


class ChromaEvaluator:
    """A throwaway collection of the chunks, queried by text (baseline) or through an adapter."""

    def __init__(self, chunks: Sequence[str], chunk_ids: Sequence[int], chunk_vectors: np.ndarray,
                 base_ef: Any, client: Any = None):
        import chromadb

        self._tmp = None
        if client is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="chroma-adapter-eval-")
            client = chromadb.PersistentClient(self._tmp.name)
        self.client, self.base_ef = client, base_ef
        self.ids = [str(c) for c in chunk_ids]
        self.collection = client.create_collection(
            f"eval-{uuid.uuid4().hex[:12]}", embedding_function=base_ef,
            configuration={"hnsw": {"space": "cosine"}})
        for s in range(0, len(self.ids), ADD_BATCH):
            self.collection.add(ids=self.ids[s:s + ADD_BATCH],
                                documents=list(chunks[s:s + ADD_BATCH]),
                                embeddings=np.asarray(chunk_vectors[s:s + ADD_BATCH], np.float32))

    def ranks(self, questions: Sequence[str], gold_positions: Sequence[int], *,
              adapter_ef: Any = None, k: int = 10) -> list[int | None]:
        gold = [self.ids[p] for p in gold_positions]
        k = min(k, len(self.ids))
        if adapter_ef is None:
            result: dict[str, Any] = {"ids": []}
            for s in range(0, len(questions), chroma_adapter.collections.QUERY_BATCH):
                part = self.collection.query(
                    query_texts=list(questions[s:s + chroma_adapter.collections.QUERY_BATCH]),
                    n_results=k, include=[])
                result["ids"].extend(part["ids"])
        else:
            result = chroma_adapter.query(self.collection, questions, adapter_ef, n_results=k,
                                          include=[])
        return ranks_from_ids(result["ids"], gold)

    def evaluate(self, questions: Sequence[str], gold_positions: Sequence[int], *,
                 adapter_ef: Any = None, k: int = 10) -> dict[str, float]:
        return metrics_from_ranks(self.ranks(questions, gold_positions, adapter_ef=adapter_ef, k=k), k)

    def close(self) -> None:
        try:
            self.client.delete_collection(self.collection.name)
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()


def numpy_metrics(queries: np.ndarray, gold_positions: Sequence[int], chunk_vectors: np.ndarray,
                  k: int = 10) -> dict[str, float]:
    """Exact cosine top-k in numpy: only for per-epoch curves during training (cheap); reported
    figures come from :class:`ChromaEvaluator`."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    d = chunk_vectors / np.maximum(np.linalg.norm(chunk_vectors, axis=1, keepdims=True), 1e-12)
    sims = q @ d.T
    gold = np.asarray(gold_positions)
    better = (sims > sims[np.arange(len(gold)), gold][:, None]).sum(axis=1)
    ranks = [int(b) + 1 for b in better]
    return metrics_from_ranks(ranks, k)


# -- `chroma-adapter evaluate` -----------------------------------------------------------------

def add_arguments(p) -> None:
    p.add_argument("--adapter", required=True, help="adapter directory or Hub repo id")
    p.add_argument("--revision")
    p.add_argument("--dataset", help="seed-format dataset JSON (default: $CHROMA_ADAPTER_DATA/"
                                     "apple_QA_dataset.json)")
    p.add_argument("--data", help="reference data directory (else $CHROMA_ADAPTER_DATA)")
    p.add_argument("--split", choices=("all", "random", "by-chunk"), default="all",
                   help="which questions: all, or the validation part of a split")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--cache-dir", help="embedding cache directory")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def run(args) -> int:
    from chroma_adapter import AdapterEmbeddingFunction

    from .data import DATASET_FILE, find_data_dir, load_dataset, split
    from .embeddings import DEFAULT_CACHE, EmbeddingCache
    from .report import print_metrics

    dataset_path = args.dataset or find_data_dir(args.data) / DATASET_FILE
    ds = load_dataset(dataset_path)
    ef = AdapterEmbeddingFunction.from_pretrained(args.adapter, revision=args.revision)
    if args.split == "all":
        val = list(range(len(ds.pairs)))
    else:
        _, val = split(ds, args.split, seed=args.seed, val_fraction=args.val_fraction)
    cache = EmbeddingCache(ef.base, args.cache_dir or DEFAULT_CACHE)
    evaluator = ChromaEvaluator(ds.chunks, ds.chunk_ids, cache.embed(ds.chunks, "chunks"), ef.base)
    try:
        questions = [ds.pairs[i][0] for i in val]
        gold = [ds.pairs[i][1] for i in val]
        result = {"k": args.k, "n_val": len(val), "split": args.split,
                  "baseline": evaluator.evaluate(questions, gold, k=args.k),
                  "adapter": evaluator.evaluate(questions, gold, adapter_ef=ef, k=args.k)}
    finally:
        evaluator.close()
    print_metrics(result, title=f"{args.adapter} on {dataset_path} ({args.split})")
    if args.json:
        print(json.dumps(result))
    return 0
