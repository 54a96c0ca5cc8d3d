"""Train an adapter on (question, chunk) pairs, evaluate it through Chroma, save and reload it.

    python examples/04_train_and_evaluate.py OUTPUT_DIR

Uses the shared reference data ($CHROMA_ADAPTER_DATA, else ../shared/data): the Apple chunks
with their questions, NVIDIA's 10-K as out-of-domain negatives. A by-chunk split: the adapter is
scored on documents whose questions it never saw.
"""

import os
import sys
from pathlib import Path

from chroma_adapter import AdapterEmbeddingFunction, QueryAdapter
from trainer.data import find_data_dir, load_dataset
from trainer.evaluate import ChromaEvaluator
from trainer.report import print_metrics
from trainer.train import negative_chunks, train

out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/example-adapter")
data = find_data_dir(os.environ.get("CHROMA_ADAPTER_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")

dataset = load_dataset(data / "apple_QA_dataset.json")
negatives = negative_chunks([data / "nvidia_10k.pdf"])
result = train(dataset, negatives, recipe="default", split_kind="by-chunk", seed=0)
print_metrics(result.summary, title="by-chunk split, seed 0 (held-out documents)")
result.adapter.save_pretrained(out_dir)

# Reload as a user would, and check one held-out question end to end through Chroma.
ef = AdapterEmbeddingFunction(QueryAdapter.from_pretrained(out_dir))
evaluator = ChromaEvaluator(dataset.chunks, dataset.chunk_ids, ef(dataset.chunks), ef.base)
question, gold = dataset.pairs[0]
print("rank of the right chunk, base vs adapter:",
      evaluator.ranks([question], [gold])[0], evaluator.ranks([question], [gold], adapter_ef=ef)[0])
evaluator.close()
print(f"saved to {out_dir}")
