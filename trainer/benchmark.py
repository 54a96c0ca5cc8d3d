"""``chroma-adapter benchmark``: every headline figure, measured in one run on this machine.

Quality through real Chroma (Recall@k / MRR@k): the base model, the seed notebook's recipe and our
default recipe on the seed's random split (seed 42) and on by-chunk splits (seeds 0, 1, 2: the
held-out chunks' questions are never trained on), the shared 30-epoch seed adapter on all
questions, and the offline pseudo-query generator (no LLM) scored on all real questions.
Speed: cold embedding and fit seconds, the seed notebook's own loop (re-encode every item every
epoch) timed on a few batches and extrapolated, the query-time overhead of the adapter EF against
the plain SentenceTransformer EF, and fit time / peak RSS for 100k synthetic pairs.
Prints a readable table and, last, one JSON line.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from chroma_adapter import AdapterEmbeddingFunction
from chroma_adapter.embedding_function import default_base_embedding_function

from .data import DATASET_FILE, NEGATIVES_FILE, SEED_ADAPTER_FILE, find_data_dir, load_dataset
from .embeddings import EmbeddingCache
from .evaluate import ChromaEvaluator
from .report import table
from .train import DEFAULT_BASE_MODEL, negative_chunks, train


def seed_loop_seconds(st_model: Any, pairs: list[tuple[str, str]], negatives: list[str],
                      batches: int = 3, batch_size: int = 32, seed: int = 0) -> float:
    """Seconds per batch of the notebook's loop: query, positive and a random negative encoded
    one item at a time (its TripletDataset.__getitem__), then one adapter step."""
    import random

    import torch

    rng = random.Random(seed)
    adapter = torch.nn.Linear(384, 384)
    opt = torch.optim.AdamW(adapter.parameters(), lr=3e-3)
    loss_fn = torch.nn.TripletMarginLoss(margin=1.0, p=2)
    st_model.encode("warm up", convert_to_tensor=True)
    start = time.perf_counter()
    for _ in range(batches):
        items = [rng.choice(pairs) for _ in range(batch_size)]
        q = torch.stack([st_model.encode(a, convert_to_tensor=True) for a, _ in items])
        p = torch.stack([st_model.encode(b, convert_to_tensor=True) for _, b in items])
        n = torch.stack([st_model.encode(rng.choice(negatives), convert_to_tensor=True)
                         for _ in items])
        loss = loss_fn(adapter(q), p, n)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / batches


def query_overhead(ef: AdapterEmbeddingFunction, queries: list[str], rounds: int = 5) -> dict:
    """Per-query time, one query per call as an application does, adapter EF vs plain EF.
    Interleaved rounds; medians."""
    plain = ef.base
    per = max(1, len(queries) // rounds)
    t_plain, t_adapt = [], []
    for r in range(rounds):
        chunk = queries[r * per:(r + 1) * per]
        for fn, sink in ((plain, t_plain), (ef.embed_query, t_adapt)):
            start = time.perf_counter()
            for q in chunk:
                fn([q])
            sink.append((time.perf_counter() - start) / len(chunk))
    p, a = statistics.median(t_plain), statistics.median(t_adapt)
    return {"n_queries": per * rounds, "plain_ms": p * 1e3, "adapter_ms": a * 1e3, "ratio": a / p}


SYNTHETIC = """
import json, resource, time, numpy as np, torch
from trainer.recipes import fit
rng = np.random.default_rng(0)
def unit(n, d=384):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)
chunks = unit({n_chunks})
pos = rng.integers(0, {n_chunks}, {n_pairs})
queries = chunks[pos] + 0.8 * unit({n_pairs})
queries /= np.linalg.norm(queries, axis=1, keepdims=True)
res = fit("default", torch.from_numpy(queries), torch.from_numpy(pos).long(),
          torch.from_numpy(chunks), torch.from_numpy(unit(200)), seed=0)
print(json.dumps({{"fit_seconds": res.seconds,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def synthetic_fit(n_pairs: int = 100_000, n_chunks: int = 2000) -> dict:
    """Fit the default recipe on synthetic pairs in a fresh process (clean peak RSS)."""
    out = subprocess.run([sys.executable, "-c", SYNTHETIC.format(n_pairs=n_pairs, n_chunks=n_chunks)],
                         capture_output=True, text=True, check=True)
    return {"n_pairs": n_pairs, **json.loads(out.stdout.strip().splitlines()[-1])}


def run_benchmark(data_dir: Path, *, k: int = 10, by_chunk_seeds=(0, 1, 2), quick: bool = False,
                  progress: bool = True) -> dict[str, Any]:
    from chroma_adapter.convert import convert_seed_checkpoint

    from .pseudo_queries import generate_pseudo_dataset

    ds = load_dataset(data_dir / DATASET_FILE)
    if quick:  # CI smoke: a slice of the data
        from .data import Dataset

        keep = set(range(40))
        ds = Dataset(ds.chunks, ds.chunk_ids, [p for p in ds.pairs if p[1] in keep][:400],
                     source=ds.source, sha256=ds.sha256)
        by_chunk_seeds = by_chunk_seeds[:1]
    t0 = time.perf_counter()
    negatives = negative_chunks([data_dir / NEGATIVES_FILE])
    chunk_seconds = time.perf_counter() - t0
    base_ef = default_base_embedding_function(DEFAULT_BASE_MODEL)
    out: dict[str, Any] = {"k": k, "n_pairs": len(ds.pairs), "n_chunks": len(ds.chunks),
                           "n_negatives": len(negatives), "negatives_chunk_seconds": chunk_seconds}
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(base_ef, Path(tmp) / "cache", progress=progress)  # cold: measured
        runs: dict[str, dict] = {}
        adapters: dict[str, Any] = {}

        def one(name: str, recipe: str, kind: str, seed: int) -> dict:
            r = train(ds, negatives, recipe=recipe, split_kind=kind, seed=seed, k=k, cache=cache)
            runs[name], adapters[name] = r.summary, r.adapter
            return r.summary

        first = one("default/random/42", "default", "random", 42)
        out["embed_seconds_cold"] = first["embed_seconds"]
        out["fit_seconds_default"] = first["fit_seconds"]
        one("seed/random/42", "seed", "random", 42)
        out["fit_seconds_seed"] = runs["seed/random/42"]["fit_seconds"]
        for s in by_chunk_seeds:
            one(f"default/by-chunk/{s}", "default", "by-chunk", s)
            one(f"seed/by-chunk/{s}", "seed", "by-chunk", s)
        out["runs"] = runs

        # all questions: base model and the shared seed adapter, through Chroma
        seed_dir = Path(tmp) / "seed-adapter"
        convert_seed_checkpoint(data_dir / SEED_ADAPTER_FILE,
                                seed_dir, base_embedding_function=base_ef)
        seed_ef = AdapterEmbeddingFunction.from_pretrained(seed_dir, base_embedding_function=base_ef)
        evaluator = ChromaEvaluator(ds.chunks, ds.chunk_ids, cache.embed(ds.chunks), base_ef)
        questions, gold = [q for q, _ in ds.pairs], ds.pair_chunk
        try:
            out["all_questions"] = {
                "baseline": evaluator.evaluate(questions, gold, k=k),
                "seed_adapter_30ep": evaluator.evaluate(questions, gold, adapter_ef=seed_ef, k=k)}

            # offline generator: pseudo-queries from the chunks only, scored on the real questions
            pseudo_items = generate_pseudo_dataset(ds.chunks, seed=0)  # offline default: 60 per chunk
            pseudo_path = Path(tmp) / "pseudo.json"
            pseudo_path.write_text(json.dumps(pseudo_items))
            pseudo = load_dataset(pseudo_path)
            res = train(pseudo, negatives, recipe="default", split_kind="none", seed=0, k=k,
                        cache=cache, chroma_eval=False)
            pseudo_ef = AdapterEmbeddingFunction(res.adapter, base_ef)
            out["offline_generator"] = {
                "n_pseudo_pairs": len(pseudo.pairs), "fit_seconds": res.summary["fit_seconds"],
                "adapter": evaluator.evaluate(questions, gold, adapter_ef=pseudo_ef, k=k)}
        finally:
            evaluator.close()

        # speed: the notebook loop, query overhead, 100k synthetic pairs
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(DEFAULT_BASE_MODEL, device="cpu")
        texts = [(q, ds.chunks[p]) for q, p in ds.pairs]
        per_batch = seed_loop_seconds(st, texts, negatives, batches=2 if quick else 3)
        n_train = runs["seed/random/42"]["n_train"]
        seed_total = per_batch * -(-n_train // 32) * 30
        ours = out["embed_seconds_cold"] + out["fit_seconds_default"]
        out["seed_loop"] = {"seconds_per_batch": per_batch, "extrapolated_30_epochs_s": seed_total,
                            "ours_embed_plus_fit_s": ours, "speedup": seed_total / ours}
        out["query_overhead"] = query_overhead(
            AdapterEmbeddingFunction(adapters["default/random/42"], base_ef),
            questions[: 200 if quick else 1000])
        out["synthetic"] = synthetic_fit(10_000 if quick else 100_000)
    return out


def _mean(runs: dict, prefix: str, part: str, metric: str, seeds) -> float:
    return float(np.mean([runs[f"{prefix}/by-chunk/{s}"][part][metric] for s in seeds]))


def render(out: dict[str, Any], by_chunk_seeds=(0, 1, 2)) -> str:
    k, runs = out["k"], out["runs"]
    seeds = [s for s in by_chunk_seeds if f"default/by-chunk/{s}" in runs]
    rows = []
    r42 = runs["default/random/42"]
    rows.append(["base model", "random 42 (val)", r42["n_val"], r42["baseline"]["recall"],
                 r42["baseline"]["mrr"]])
    for name, label in (("seed/random/42", "seed recipe"), ("default/random/42", "default recipe")):
        rows.append([label, "random 42 (val)", runs[name]["n_val"], runs[name]["adapter"]["recall"],
                     runs[name]["adapter"]["mrr"]])
    for s in seeds:
        base = runs[f"default/by-chunk/{s}"]
        rows.append(["base model", f"by-chunk {s} (val)", base["n_val"], base["baseline"]["recall"],
                     base["baseline"]["mrr"]])
        for prefix, label in (("seed", "seed recipe"), ("default", "default recipe")):
            r = runs[f"{prefix}/by-chunk/{s}"]
            rows.append([label, f"by-chunk {s} (val)", r["n_val"], r["adapter"]["recall"],
                         r["adapter"]["mrr"]])
    for label, prefix, part in (("base model", "default", "baseline"),
                                ("seed recipe", "seed", "adapter"),
                                ("default recipe", "default", "adapter")):
        rows.append([label, f"by-chunk mean {','.join(map(str, seeds))}", "",
                     _mean(runs, prefix, part, "recall", seeds), _mean(runs, prefix, part, "mrr", seeds)])
    allq = out["all_questions"]
    n_all = allq["baseline"]["n"]
    rows.append(["base model", "all questions", n_all, allq["baseline"]["recall"], allq["baseline"]["mrr"]])
    rows.append(["shared seed adapter (30 ep)", "all questions", n_all,
                 allq["seed_adapter_30ep"]["recall"], allq["seed_adapter_30ep"]["mrr"]])
    og = out["offline_generator"]
    rows.append(["offline generator + default", "all questions", n_all, og["adapter"]["recall"],
                 og["adapter"]["mrr"]])
    quality = table(["model", "evaluated on", "n", f"Recall@{k}", f"MRR@{k}"], rows)
    sl, qo, syn = out["seed_loop"], out["query_overhead"], out["synthetic"]
    speed = table(["speed", "value"], [
        ["embed once, cold (chunks + questions + negatives), s", out["embed_seconds_cold"]],
        ["fit, default recipe, s", out["fit_seconds_default"]],
        ["fit, seed recipe (30 epochs on cached tensors), s", out["fit_seconds_seed"]],
        ["seed notebook loop, s per batch of 32", sl["seconds_per_batch"]],
        ["seed notebook loop, 30 epochs extrapolated, s", sl["extrapolated_30_epochs_s"]],
        ["speed-up, embed + fit vs notebook loop (x)", sl["speedup"]],
        [f"query, plain SentenceTransformer EF, ms ({qo['n_queries']} queries)", qo["plain_ms"]],
        ["query, adapter EF, ms", qo["adapter_ms"]],
        ["query overhead ratio (adapter / plain)", qo["ratio"]],
        [f"fit, {syn['n_pairs']} synthetic pairs, s", syn["fit_seconds"]],
        [f"peak RSS, {syn['n_pairs']} synthetic pairs, MB", syn["peak_rss_mb"]],
    ])
    return quality + "\n\n" + speed


def add_arguments(p) -> None:
    p.add_argument("--data", help="reference data directory (else $CHROMA_ADAPTER_DATA)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="a small slice (smoke test), not the figures")
    p.add_argument("--json-out", help="also write the JSON object to this file")


def run(args) -> int:
    data_dir = find_data_dir(args.data, (DATASET_FILE, NEGATIVES_FILE, SEED_ADAPTER_FILE))
    out = run_benchmark(data_dir, k=args.k, quick=args.quick)
    print(render(out))
    line = json.dumps(out)
    if args.json_out:
        Path(args.json_out).write_text(line + "\n")
    print(line)
    return 0
