"""``chroma-adapter train``: dataset -> split -> embed once -> fit -> evaluate in Chroma -> save.

Data flow: the dataset's chunks, its questions and the out-of-domain negatives are embedded once
by the adapter's base embedding function (cached on disk); the recipe fits ``W, b`` on those
tensors; the adapter is evaluated through a real Chroma collection against the base model on the
validation questions; ``--output`` gets the adapter (config with ``training`` and ``metrics``),
its model card and a PNG of the training curves.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from chroma_adapter import AdapterEmbeddingFunction, QueryAdapter
from chroma_adapter.embedding_function import default_base_embedding_function

from .data import (DATASET_FILE, NEGATIVES_FILE, SPLITS, Dataset, find_data_dir, load_dataset,
                   split)
from .embeddings import DEFAULT_CACHE, EmbeddingCache
from .evaluate import ChromaEvaluator, numpy_metrics

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CURVES_NAME = "training_curves.png"


@dataclass
class TrainResult:
    adapter: QueryAdapter
    summary: dict[str, Any]        # the --json object
    history: list[dict[str, Any]]


def negative_chunks(pdfs: Sequence[str | Path]) -> list[str]:
    from .chunking import chunk_pdfs

    return chunk_pdfs([str(p) for p in pdfs])


def train(ds: Dataset, negatives: Sequence[str], *, recipe: str = "default",
          split_kind: str = "random", seed: int = 42, val_fraction: float = 0.2,
          epochs: int | None = None, k: int = 10, base_model: str = DEFAULT_BASE_MODEL,
          base_ef: Any = None, cache: EmbeddingCache | None = None,
          cache_dir: str | Path | None = DEFAULT_CACHE, chroma_eval: bool = True,
          progress: bool = True, **overrides: Any) -> TrainResult:
    import torch

    from .recipes import fit

    if not negatives:
        raise ValueError("no negatives: the recipes need out-of-domain text (--negatives PDF)")
    base_ef = base_ef or (cache.ef if cache else default_base_embedding_function(base_model))
    cache = cache or EmbeddingCache(base_ef, cache_dir, progress=progress)
    train_idx, val_idx = split(ds, split_kind, seed=seed, val_fraction=val_fraction)
    if not train_idx:
        raise ValueError(f"{ds.source}: no training pairs (every chunk has zero questions?)")

    t0 = time.perf_counter()
    chunk_vecs = cache.embed(ds.chunks, "chunks")
    question_vecs = cache.embed([q for q, _ in ds.pairs], "questions")
    negative_vecs = cache.embed(list(negatives), "negatives")
    embed_seconds = time.perf_counter() - t0

    gold = np.asarray(ds.pair_chunk)
    val_q, val_gold = question_vecs[val_idx], gold[val_idx]
    baseline_curve = numpy_metrics(val_q, val_gold, chunk_vecs, k) if val_idx else None

    def on_epoch(epoch: int, weight: np.ndarray, bias: np.ndarray) -> dict[str, float]:
        if baseline_curve is None:
            return {}
        m = numpy_metrics(val_q @ weight.T + bias, val_gold, chunk_vecs, k)
        out = {"val_recall": m["recall"], "val_mrr": m["mrr"]}
        if epoch == 1:
            out.update(baseline_recall=baseline_curve["recall"], baseline_mrr=baseline_curve["mrr"])
        return out

    result = fit(recipe, torch.from_numpy(question_vecs[train_idx]),
                 torch.from_numpy(gold[train_idx]).long(), torch.from_numpy(chunk_vecs),
                 torch.from_numpy(negative_vecs), seed=seed, epochs=epochs, on_epoch=on_epoch,
                 **overrides)

    training = {"recipe": recipe, "params": result.params, "split": split_kind, "seed": seed,
                "val_fraction": val_fraction, "n_train": len(train_idx), "n_val": len(val_idx),
                "n_chunks": len(ds.chunks), "n_negatives": len(negatives),
                "dataset": Path(ds.source).name, "dataset_sha256": ds.sha256,
                "embed_seconds": round(embed_seconds, 3), "fit_seconds": round(result.seconds, 3),
                "epochs": len(result.history)}
    adapter = QueryAdapter(result.weight, result.bias, base_model=base_model,
                           fingerprint=cache.fingerprint, training=training)

    eval_idx = val_idx or train_idx  # split "none": say so, the figures are on training data
    summary: dict[str, Any] = {"k": k, "n_train": len(train_idx), "n_val": len(val_idx),
                               "split": split_kind, "recipe": recipe, "seed": seed,
                               "evaluated_on": "validation" if val_idx else "training (no held-out data)"}
    if chroma_eval:
        evaluator = ChromaEvaluator(ds.chunks, ds.chunk_ids, chunk_vecs, base_ef)
        try:
            questions = [ds.pairs[i][0] for i in eval_idx]
            golds = [ds.pairs[i][1] for i in eval_idx]
            summary["baseline"] = evaluator.evaluate(questions, golds, k=k)
            summary["adapter"] = evaluator.evaluate(
                questions, golds, adapter_ef=AdapterEmbeddingFunction(adapter, base_ef), k=k)
        finally:
            evaluator.close()
    else:
        summary["baseline"] = numpy_metrics(question_vecs[eval_idx], gold[eval_idx], chunk_vecs, k)
        summary["adapter"] = numpy_metrics(adapter.apply(question_vecs[eval_idx]), gold[eval_idx],
                                           chunk_vecs, k)
    summary.update(embed_seconds=round(embed_seconds, 3), fit_seconds=round(result.seconds, 3))
    adapter.metrics = {key: summary[key] for key in
                       ("k", "split", "n_val", "evaluated_on", "baseline", "adapter")}
    adapter.metrics["dataset"] = Path(ds.source).name
    return TrainResult(adapter, summary, result.history)


# -- `chroma-adapter train` --------------------------------------------------------------------

def add_arguments(p) -> None:
    p.add_argument("--data", help="reference data directory (else $CHROMA_ADAPTER_DATA): "
                                  "apple_QA_dataset.json and nvidia_10k.pdf")
    p.add_argument("--dataset", help="seed-format dataset JSON (default: DATA/apple_QA_dataset.json)")
    p.add_argument("--queries", help="query log, JSON Lines of {query, chunk_index}, added to the pairs")
    p.add_argument("--negatives", nargs="+", help="out-of-domain PDF(s) for random negatives "
                                                 "(default: DATA/nvidia_10k.pdf)")
    p.add_argument("--recipe", default="default", help="default (ours) or seed (the notebook's)")
    p.add_argument("--split", choices=SPLITS, default="random")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--base-model", default=DEFAULT_BASE_MODEL, help="Hub id of the base model")
    p.add_argument("--cache-dir", default=str(DEFAULT_CACHE), help="embedding cache directory")
    p.add_argument("--output", help="directory to save the adapter in")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def run(args) -> int:
    from .report import plot_history, print_metrics

    needs = [name for name, given in ((DATASET_FILE, args.dataset), (NEGATIVES_FILE, args.negatives))
             if not given]
    data_dir = find_data_dir(args.data, needs) if needs else None
    dataset_path = Path(args.dataset) if args.dataset else data_dir / DATASET_FILE
    negative_pdfs = args.negatives or [data_dir / NEGATIVES_FILE]
    ds = load_dataset(dataset_path, args.queries)
    negatives = negative_chunks(negative_pdfs)
    res = train(ds, negatives, recipe=args.recipe, split_kind=args.split, seed=args.seed,
                val_fraction=args.val_fraction, epochs=args.epochs, k=args.k,
                base_model=args.base_model, cache_dir=args.cache_dir)
    s = res.summary
    print(f"\nembedded in {s['embed_seconds']:.1f} s, fitted in {s['fit_seconds']:.1f} s "
          f"({s['n_train']} training pairs, recipe {args.recipe})")
    print_metrics(s, title=f"split {args.split} (seed {args.seed}), evaluated on {s['evaluated_on']}")
    if args.output:
        out = res.adapter.save_pretrained(args.output)
        plot_history(res.history, out / CURVES_NAME,
                     title=f"{args.recipe} recipe, split {args.split} (seed {args.seed})")
        print(f"saved adapter to {out}")
    if args.json:
        print(json.dumps(s))
    return 0
