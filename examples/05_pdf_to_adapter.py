"""End to end from a PDF: chunk -> generate questions -> train -> evaluate -> save (-> push).

    python examples/05_pdf_to_adapter.py DOMAIN.pdf NEGATIVES.pdf OUTPUT_DIR [--max-chunks N] [--push USER/REPO]

Questions come from an OpenAI-compatible LLM when OPENAI_API_KEY is set (OPENAI_BASE_URL for a
local server: vLLM, Ollama, LM Studio), else from the offline pseudo-query generator (no network).
Generation is cached next to the output: rerunning asks only for what is missing.
"""

import os
import sys
from pathlib import Path

from trainer.chunking import chunk_pdfs
from trainer.data import load_dataset, write_dataset
from trainer.generate import generate_dataset
from trainer.pseudo_queries import generate_pseudo_dataset
from trainer.report import print_metrics
from trainer.train import negative_chunks, train

args = sys.argv[1:]
opt = lambda name, default=None: args[args.index(name) + 1] if name in args else default  # noqa: E731
domain_pdf, negatives_pdf, out_dir = map(Path, args[:3])
out_dir.mkdir(parents=True, exist_ok=True)

chunks = chunk_pdfs([domain_pdf])[: int(opt("--max-chunks", 10**9))]
dataset_path = out_dir / "dataset.json"
if os.environ.get("OPENAI_API_KEY"):
    report = generate_dataset(chunks, model=os.environ.get("MODEL", "gpt-4o-mini"), n=20,
                              cache_path=out_dir / "questions.cache.jsonl", output_path=dataset_path)
    print(report.summary_line())
    if not report.ok:
        sys.exit("some chunks failed: rerun to retry only those")
else:
    print("no OPENAI_API_KEY: using the offline pseudo-query generator")
    write_dataset(dataset_path, generate_pseudo_dataset(chunks, seed=0))

result = train(load_dataset(dataset_path), negative_chunks([negatives_pdf]), recipe="default",
               split_kind="by-chunk", seed=0)
print_metrics(result.summary, title="held-out chunks (by-chunk split)")
result.adapter.save_pretrained(out_dir / "adapter")
print(f"adapter saved to {out_dir / 'adapter'}")
if opt("--push"):
    info = result.adapter.push_to_hub(opt("--push"))
    print("pushed:", info.commit_url)
