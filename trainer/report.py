"""Reports: the readable table, and the training curve plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (readable in a terminal, pasteable into notes and model cards)."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(r) for r in cells)])


def print_metrics(result: dict[str, Any], title: str = "") -> None:
    k = result.get("k", 10)
    rows = [["baseline (base model)", result["baseline"]["recall"], result["baseline"]["mrr"]],
            ["adapter", result["adapter"]["recall"], result["adapter"]["mrr"]]]
    if title:
        print(f"\n{title}: {result.get('n_val', '?')} questions")
    print(table(["", f"Recall@{k}", f"MRR@{k}"], rows))


def plot_history(history: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path | None:
    """Per-epoch training loss and validation Recall@10 / MRR@10 (PNG)."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["loss"] for h in history], marker="o", ms=3)
    ax1.set(xlabel="epoch", ylabel="training loss", title="loss")
    for key, label in (("val_recall", "Recall@10"), ("val_mrr", "MRR@10")):
        if any(key in h for h in history):
            ax2.plot([h["epoch"] for h in history if key in h],
                     [h[key] for h in history if key in h], marker="o", ms=3, label=label)
    base = history[0]
    for key, style in (("baseline_recall", "--"), ("baseline_mrr", ":")):
        if key in base:
            ax2.axhline(base[key], color="grey", ls=style, lw=1,
                        label=f"baseline {key.split('_')[1]}")
    ax2.set(xlabel="epoch", ylabel="validation (exact cosine)", title="validation")
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
