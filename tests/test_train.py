"""train -> evaluate -> from_pretrained -> Chroma query, on a slice of the shared data."""

import json

import chromadb
import numpy as np
import pytest

from chroma_adapter import AdapterEmbeddingFunction, QueryAdapter
from chroma_adapter.cli import main as cli
from trainer.data import load_dataset
from trainer.embeddings import EmbeddingCache
from trainer.train import train


@pytest.fixture(scope="module")
def small_dataset(apple, tmp_path_factory):
    """40 chunks (10 of them without questions: documents nobody asked about), 10 questions each."""
    items = []
    for c in apple[:40]:
        qs = dict(list(c["questions"].items())[:10]) if c["chunk_index"] < 30 else {}
        items.append({**c, "questions": qs})
    path = tmp_path_factory.mktemp("data") / "small.json"
    path.write_text(json.dumps(items))
    return path


@pytest.fixture(scope="module")
def negatives(apple):
    """Out-of-domain text without PDF parsing (chunking has its own tests)."""
    return [f"Item {i}. Revenue, operating income and GPU shipments for fiscal year {2000 + i} "
            f"are described in the consolidated statements of income." for i in range(40)]


@pytest.fixture(scope="module")
def cache(base_ef, tmp_path_factory):
    return EmbeddingCache(base_ef, tmp_path_factory.mktemp("emb"), progress=False)


def test_train_is_deterministic_and_records_its_settings(small_dataset, negatives, cache):
    ds = load_dataset(small_dataset)
    a = train(ds, negatives, recipe="default", split_kind="by-chunk", seed=3, cache=cache,
              chroma_eval=False)
    b = train(ds, negatives, recipe="default", split_kind="by-chunk", seed=3, cache=cache,
              chroma_eval=False)
    assert np.array_equal(a.adapter.weight, b.adapter.weight)
    t = a.adapter.training
    assert t["recipe"] == "default" and t["split"] == "by-chunk" and t["seed"] == 3
    assert t["n_train"] + t["n_val"] == 300 and t["dataset_sha256"] == ds.sha256
    assert a.history and all("val_recall" in h for h in a.history)
    assert a.adapter.fingerprint == cache.fingerprint


def test_seed_recipe_reproduces_notebook_settings(small_dataset, negatives, cache):
    res = train(load_dataset(small_dataset), negatives, recipe="seed", split_kind="random",
                cache=cache, chroma_eval=False, epochs=2)
    p = res.adapter.training["params"]
    assert (p["lr"], p["margin"], p["batch_size"], p["warmup_steps"]) == (3e-3, 1.0, 32, 100)
    assert len(res.history) == 2


def test_train_cli_then_evaluate_then_query(small_dataset, data_dir, tmp_path, capsys):
    out = tmp_path / "adapter"
    cache_dir = str(tmp_path / "emb")
    assert cli(["train", "--dataset", str(small_dataset), "--negatives",
                str(data_dir / "nvidia_10k.pdf"), "--split", "random", "--output", str(out),
                "--cache-dir", cache_dir, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary) >= {"k", "n_train", "n_val", "baseline", "adapter", "embed_seconds",
                            "fit_seconds"}
    assert summary["k"] == 10 and summary["n_train"] == 240 and summary["n_val"] == 60
    assert summary["adapter"]["recall"] > summary["baseline"]["recall"]
    assert (out / "training_curves.png").stat().st_size > 10_000
    card = (out / "README.md").read_text()
    assert "## Evaluation" in card and f"{summary['adapter']['recall']:.4f}" in card

    assert cli(["evaluate", "--adapter", str(out), "--dataset", str(small_dataset),
                "--split", "random", "--cache-dir", cache_dir, "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["n_val"] == 60
    assert evaluated["adapter"] == pytest.approx(summary["adapter"])  # same split, same figures

    ef = AdapterEmbeddingFunction(QueryAdapter.from_pretrained(out))
    col = chromadb.PersistentClient(str(tmp_path / "db")).create_collection(
        "docs", embedding_function=ef, configuration={"hnsw": {"space": "cosine"}})
    ds = load_dataset(small_dataset)
    col.add(ids=[str(i) for i in ds.chunk_ids], documents=ds.chunks)
    question, gold = ds.pairs[0]
    assert str(ds.chunk_ids[gold]) in col.query(query_texts=[question], n_results=10)["ids"][0]


@pytest.mark.parametrize("content, needle", [
    ("[]", "non-empty JSON list"),
    ('[{"chunk_index": 0, "input_chunk": "x", "questions": {"question_1": ""}}]', "empty or non-string"),
    ('[{"chunk_index": 0, "input_chunk": "x", "questions": {}}]', "no training pairs"),
])
def test_train_cli_bad_datasets(tmp_path, data_dir, capsys, content, needle):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert cli(["train", "--dataset", str(bad), "--negatives", str(data_dir / "nvidia_10k.pdf"),
                "--cache-dir", str(tmp_path / "emb")]) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_train_cli_without_data_says_where_to_get_it(capsys, monkeypatch):
    monkeypatch.delenv("CHROMA_ADAPTER_DATA", raising=False)
    assert cli(["train"]) == 1
    assert "AdamLucek/apple-environmental-report-QA-retrieval" in capsys.readouterr().err
