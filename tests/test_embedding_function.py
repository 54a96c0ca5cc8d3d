"""AdapterEmbeddingFunction against real Chroma: embedded, server, reopened in a new process."""

import json
import threading

import chromadb
import numpy as np
import pytest

from chroma_adapter import AdapterEmbeddingFunction, AdapterError, QueryAdapter
from chroma_adapter.embedding_function import NAME

from .conftest import MODEL_ID, run_python

DOCS = ["Apple uses recycled aluminium in MacBook enclosures.",
        "NVIDIA reported record data center revenue in fiscal 2024.",
        "The company aims for carbon neutrality across its supply chain by 2030.",
        "Water stewardship programs replenish freshwater in supplier regions."]
QUERIES = ["how much recycled metal is in laptops?", "supply chain carbon neutral target year"]


@pytest.fixture(scope="module")
def ef(small_adapter_dir):
    return AdapterEmbeddingFunction.from_pretrained(small_adapter_dir)


def test_documents_are_bit_identical_to_the_plain_sentence_transformer_ef(ef, base_ef):
    for ours, theirs in zip(ef(DOCS), base_ef(DOCS)):
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_queries_are_adapted(ef, base_ef, small_adapter_dir):
    adapter = QueryAdapter.from_pretrained(small_adapter_dir)
    got = np.asarray(ef.embed_query(QUERIES))
    np.testing.assert_allclose(got, adapter.apply(np.asarray(base_ef(QUERIES))), atol=1e-6)
    assert not np.allclose(got, np.asarray(base_ef(QUERIES)), atol=1e-3)


def test_config_round_trip_and_build_is_cached(ef, small_adapter_dir):
    cfg = ef.get_config()
    assert cfg["adapter"] == str(small_adapter_dir.resolve()) and cfg["revision"] is None
    assert cfg["base_embedding_function"] == {
        "name": "sentence_transformer",
        "config": {"model_name": MODEL_ID, "device": "cpu", "normalize_embeddings": False,
                   "kwargs": {}}}
    assert "token" not in json.dumps(cfg) and "weight" not in json.dumps(cfg)
    AdapterEmbeddingFunction.validate_config(cfg)
    built = AdapterEmbeddingFunction.build_from_config(cfg)
    assert built is AdapterEmbeddingFunction.build_from_config(json.loads(json.dumps(cfg)))
    assert built.get_config() == cfg
    assert AdapterEmbeddingFunction.name() == NAME and ef.default_space() == "cosine"


@pytest.mark.parametrize("bad, needle", [
    ({}, "adapter"),
    ({"adapter": "x", "base_embedding_function": {"name": "nope", "config": {}}}, "unknown base"),
    ({"adapter": "x", "base_embedding_function": "sentence_transformer"}, "base_embedding_function"),
    ({"adapter": "x", "strength": "strong",
      "base_embedding_function": {"name": "sentence_transformer", "config": {}}}, "strength"),
    ({"adapter": "x", "revision": 3,
      "base_embedding_function": {"name": "sentence_transformer", "config": {}}}, "revision"),
])
def test_validate_config_refuses_malformed(bad, needle):
    with pytest.raises(AdapterError, match=needle):
        AdapterEmbeddingFunction.validate_config(bad)


def test_base_model_cannot_change_but_adapter_can(ef):
    old = ef.get_config()
    ef.validate_config_update(old, {**old, "strength": 0.5, "adapter": "other/adapter"})
    other_base = {"name": "sentence_transformer", "config": {**old["base_embedding_function"]["config"],
                                                            "model_name": "other/model"}}
    with pytest.raises(AdapterError, match="cannot change"):
        ef.validate_config_update(old, {**old, "base_embedding_function": other_base})


def test_in_memory_adapter_cannot_be_persisted(base_ef):
    adapter = QueryAdapter(np.eye(384, dtype=np.float32), np.zeros(384, np.float32),
                           base_model=MODEL_ID)
    with pytest.raises(AdapterError, match="save_pretrained"):
        AdapterEmbeddingFunction(adapter, base_ef).get_config()


def _fill(collection):
    collection.add(ids=[f"d{i}" for i in range(len(DOCS))], documents=DOCS)


REOPEN = """
import json, sys, chromadb
import chroma_adapter  # registers the adapter embedding function
client = {client}
col = client.get_collection("docs")
res = col.query(query_texts={queries!r}, n_results=2, include=["distances"])
print(json.dumps({{"ids": res["ids"], "distances": res["distances"],
                   "ef": col.configuration_json["embedding_function"]["name"]}}))
"""


def _expected(ef):
    """Ranks and distances computed by hand: cosine between adapted queries and base docs."""
    d = np.asarray(ef(DOCS), dtype=np.float64)
    q = np.asarray(ef.embed_query(QUERIES), dtype=np.float64)
    dist = 1 - (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (d / np.linalg.norm(d, axis=1, keepdims=True)).T
    order = np.argsort(dist, axis=1)[:, :2]
    return [[f"d{j}" for j in row] for row in order], np.take_along_axis(dist, order, 1)


def test_persistent_collection_reopened_in_a_new_process(ef, tmp_path):
    path = tmp_path / "db"
    col = chromadb.PersistentClient(str(path)).create_collection("docs", embedding_function=ef)
    _fill(col)
    assert col.configuration_json["embedding_function"]["name"] == NAME
    out = run_python(REOPEN.format(client=f"chromadb.PersistentClient({str(path)!r})",
                                   queries=QUERIES))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    ids, dist = _expected(ef)
    assert result["ef"] == NAME and result["ids"] == ids
    np.testing.assert_allclose(result["distances"], dist, atol=1e-4)


def test_http_server_collection_reopened_in_a_new_process(ef, chroma_server):
    client = chroma_server.client()
    col = client.create_collection("docs", embedding_function=ef)
    _fill(col)
    assert col.query(query_texts=QUERIES, n_results=2)["ids"] == _expected(ef)[0]
    out = run_python(REOPEN.format(
        client=f"chromadb.HttpClient(host={chroma_server.host!r}, port={chroma_server.port})",
        queries=QUERIES))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ef"] == NAME and result["ids"] == _expected(ef)[0]


def test_concurrent_queries_from_threads(ef, tmp_path):
    col = chromadb.PersistentClient(str(tmp_path / "db")).create_collection(
        "docs", embedding_function=ef)
    _fill(col)
    # reopen without an EF: Chroma builds it from the persisted config on every call
    reopened = chromadb.PersistentClient(str(tmp_path / "db")).get_collection("docs")
    want = reopened.query(query_texts=QUERIES, n_results=2)["ids"]
    results, errors = [], []

    def worker():
        try:
            for _ in range(5):
                results.append(reopened.query(query_texts=QUERIES, n_results=2)["ids"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 40 and all(r == want for r in results)
