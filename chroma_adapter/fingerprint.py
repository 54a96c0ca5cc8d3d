"""Base-model fingerprint: the adapter's guard against running on the wrong embedding model.

An adapter is a map from one model's query space to the same model's document space. Applied
to another model's vectors (other weights, other pooling, other dimension) it silently returns
garbage. The config therefore stores the base model's embeddings of a few fixed probe texts
(first ``DIMS`` coordinates, rounded); building the embedding function re-embeds the probes with
the base embedding function actually in use and refuses to go on when they differ.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .errors import BaseModelMismatchError

VERSION = 1
PROBE_TEXTS = (
    "What were the company's total greenhouse gas emissions last year?",
    "The quick brown fox jumps over the lazy dog.",
    "Recycled aluminium and renewable electricity reduce the product's carbon footprint.",
)
DIMS = 32
DECIMALS = 5
# Same model, other BLAS/batch size: differences ~1e-6. Another model: ~1e-1.
TOLERANCE = 2e-3

Embed = Callable[[Sequence[str]], Any]


def compute(embed: Embed) -> dict[str, Any]:
    vectors = np.asarray(embed(list(PROBE_TEXTS)), dtype=np.float64)
    return {
        "version": VERSION,
        "texts": list(PROBE_TEXTS),
        "dimension": int(vectors.shape[1]),
        "values": np.round(vectors[:, :DIMS], DECIMALS).tolist(),
    }


def check(expected: dict[str, Any], embed: Embed, *, adapter_name: str, adapter_model: str,
          actual_model: str) -> None:
    """Raise :class:`BaseModelMismatchError` unless ``embed`` reproduces ``expected``."""
    texts = expected.get("texts") or list(PROBE_TEXTS)
    vectors = np.asarray(embed(list(texts)), dtype=np.float64)
    want = np.asarray(expected["values"], dtype=np.float64)
    prefix = (f"{adapter_name}: adapter trained on base model '{adapter_model}' cannot run on "
              f"'{actual_model}'")
    if vectors.ndim != 2 or vectors.shape[1] != int(expected["dimension"]):
        got = vectors.shape[1] if vectors.ndim == 2 else "?"
        raise BaseModelMismatchError(
            f"{prefix}: embedding dimension {got} != {expected['dimension']}")
    diff = float(np.max(np.abs(vectors[:, : want.shape[1]] - want)))
    if not np.isfinite(diff) or diff > TOLERANCE:
        raise BaseModelMismatchError(
            f"{prefix}: its embeddings of the probe texts differ from the adapter's "
            f"fingerprint (max |diff| {diff:.3g} > {TOLERANCE:g}); other weights or pooling")
