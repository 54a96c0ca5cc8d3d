"""Existing collections: query through the adapter untouched, or attach by copying vectors."""

import chromadb
import numpy as np
import pytest

import chroma_adapter
from chroma_adapter import AdapterEmbeddingFunction, AdapterError
from chroma_adapter.cli import main as cli

DOCS = [f"Document {i}: " + text for i, text in enumerate([
    "recycled aluminium enclosures", "renewable electricity in manufacturing",
    "clean water programs", "packaging without plastic", "carbon removal projects",
    "GPU data center revenue", "semiconductor supply risks", "employee stock plans"] * 3)]
QUERIES = ["plastic-free boxes", "how is water protected", "money from GPUs"]


@pytest.fixture()
def existing(tmp_path, base_ef):
    """An application's collection, built the usual way with the plain SentenceTransformer EF."""
    client = chromadb.PersistentClient(str(tmp_path / "db"))
    col = client.create_collection("app", embedding_function=base_ef,
                                   metadata={"owner": "team-a"},
                                   configuration={"hnsw": {"space": "cosine"}})
    col.add(ids=[f"id{i}" for i in range(len(DOCS))], documents=DOCS,
            metadatas=[{"n": i} for i in range(len(DOCS))])
    return client, col


@pytest.fixture(scope="module")
def ef(small_adapter_dir):
    return AdapterEmbeddingFunction.from_pretrained(small_adapter_dir)


def test_chroma_refuses_swapping_the_persisted_ef(existing, ef):
    client, _ = existing
    with pytest.raises(Exception, match="Embedding function conflict"):
        client.get_collection("app", embedding_function=ef)


def test_query_existing_collection_through_adapter_touches_nothing(existing, ef, tmp_path):
    client, col = existing
    before = col.get(include=["embeddings"])
    res = chroma_adapter.query(col, QUERIES, ef, n_results=3, batch_size=2)
    assert len(res["ids"]) == len(QUERIES) and all(len(r) == 3 for r in res["ids"])
    after = col.get(include=["embeddings"])
    assert np.array_equal(before["embeddings"], after["embeddings"])
    assert col.configuration_json["embedding_function"]["name"] == "sentence_transformer"
    # same answers as a collection built with the adapter EF from the start
    fresh = client.create_collection("fresh", embedding_function=ef,
                                     configuration={"hnsw": {"space": "cosine"}})
    fresh.add(ids=[f"id{i}" for i in range(len(DOCS))], documents=DOCS)
    assert fresh.query(query_texts=QUERIES, n_results=3)["ids"] == res["ids"]


def test_attach_copies_vectors_without_reembedding(existing, ef):
    client, src = existing
    report = chroma_adapter.attach(client, "app", "app_adapted", ef, batch_size=5)
    assert report.copied == len(DOCS) and not report.source_deleted
    dst = client.get_collection("app_adapted")
    def records(col):
        got = col.get(include=["embeddings", "documents", "metadatas"])
        return {i: (d, m, e) for i, d, m, e in
                zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])}

    a, b = records(src), records(dst)
    assert sorted(a) == sorted(b)
    for key, (doc, meta, vec) in a.items():
        assert b[key][:2] == (doc, meta)
        # Chroma re-normalises cosine vectors on write (even a plain add does not read back
        # bit-identical), so the copy is compared to float32 rounding.
        np.testing.assert_allclose(b[key][2], vec, atol=1e-6)
    assert dst.configuration_json["embedding_function"]["name"] == "chroma_adapter"
    assert dst.configuration_json["hnsw"]["space"] == "cosine" and dst.metadata == {"owner": "team-a"}
    # reopened by name only: queries by text go through the adapter
    reopened = client.get_collection("app_adapted")
    assert reopened.query(query_texts=QUERIES, n_results=3)["ids"] == \
        chroma_adapter.query(src, QUERIES, ef, n_results=3)["ids"]
    # rerunnable: a second attach finds everything in place
    assert chroma_adapter.attach(client, "app", "app_adapted", ef).copied == len(DOCS)


def test_attach_deletes_source_only_when_asked(existing, ef):
    client, _ = existing
    chroma_adapter.attach(client, "app", "moved", ef, delete_source=True)
    assert [c.name for c in client.list_collections()] == ["moved"]


def test_attach_refuses_other_dimension(tmp_path, ef):
    client = chromadb.PersistentClient(str(tmp_path / "db"))
    col = client.create_collection("small", embedding_function=None)
    col.add(ids=["a"], embeddings=[[0.1] * 16])
    with pytest.raises(AdapterError, match="16-d embeddings but the adapter is 384-d"):
        chroma_adapter.attach(client, "small", "small_adapted", ef)
    assert client.get_collection("small").count() == 1


def test_attach_cli(existing, small_adapter_dir, tmp_path, capsys):
    assert cli(["attach", "--path", str(tmp_path / "db"), "--source", "app", "--target", "app_v2",
                "--adapter", str(small_adapter_dir)]) == 0
    assert f"copied {len(DOCS)} records" in capsys.readouterr().out
