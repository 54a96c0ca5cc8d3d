"""The adapter's model card (README.md): Hub metadata, what it does, how to use it, metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import QueryAdapter


def _metrics_table(metrics: dict[str, Any]) -> str:
    base, adapted = metrics.get("baseline") or {}, metrics.get("adapter") or {}
    if not base or not adapted:
        return ""
    k = metrics.get("k", 10)
    rows = [f"| model | Recall@{k} | MRR@{k} |", "| --- | --- | --- |"]
    for label, m in (("base model", base), ("base model + this adapter", adapted)):
        rows.append(f"| {label} | {m.get('recall', float('nan')):.4f} | "
                    f"{m.get('mrr', float('nan')):.4f} |")
    where = ", ".join(f"{key}: {metrics[key]}" for key in ("split", "n_val", "dataset")
                      if key in metrics)
    note = f"\nMeasured through a real Chroma collection ({where}).\n" if where else "\n"
    return "\n## Evaluation\n\n" + "\n".join(rows) + "\n" + note


def render_card(adapter: "QueryAdapter") -> str:
    from huggingface_hub import ModelCardData

    data = ModelCardData(
        library_name="chroma-adapter", base_model=adapter.base_model,
        pipeline_tag="sentence-similarity",
        tags=["chroma", "embedding-adapter", "query-adapter", "retrieval", "sentence-transformers"])
    training = adapter.training
    trained = ""
    if training:
        parts = [f"{k}: `{training[k]}`" for k in ("recipe", "split", "n_train", "epochs")
                 if k in training]
        trained = "\n## Training\n\n" + ", ".join(parts) + ".\n" if parts else ""
    d = adapter.dimension
    return f"""---
{data.to_yaml()}
---

# Query adapter for `{adapter.base_model}`

A query-only linear adapter (`q' = W q + b`, {d}x{d}) trained with
`chroma-adapter` (`pip install chroma-adapter`). It maps the embeddings of
*queries* from `{adapter.base_model}` nearer to the documents they should retrieve. Documents keep
their stored embeddings: an existing Chroma collection built with `{adapter.base_model}` is served
through the adapter without re-embedding anything.

## Usage

```python
import chromadb
from chroma_adapter import AdapterEmbeddingFunction

ef = AdapterEmbeddingFunction.from_pretrained("path/or/hub-id/of/this/adapter")
collection = chromadb.PersistentClient("db").get_or_create_collection("docs", embedding_function=ef)
collection.query(query_texts=["your question"], n_results=10)
```

For a collection that already uses `SentenceTransformerEmbeddingFunction("{adapter.base_model}")`:
`chroma_adapter.query(collection, ["your question"], ef)` (nothing is re-embedded), or
`chroma-adapter attach` to move it onto the adapter by copying its stored vectors.

Settings: strength `{adapter.strength}`, output normalised: `{adapter.normalize_output}`. The
adapter refuses to run on another base model (it checks a fingerprint of `{adapter.base_model}`).
{_metrics_table(adapter.metrics)}{trained}"""
