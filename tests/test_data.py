"""Training data: format, splits, metrics arithmetic, the embedding cache."""

import json

import numpy as np
import pytest

from trainer.data import DataError, find_data_dir, load_dataset, split, write_dataset
from trainer.embeddings import EmbeddingCache
from trainer.evaluate import metrics_from_ranks, numpy_metrics, ranks_from_ids


def _write(tmp_path, obj, name="ds.json"):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def test_seed_format_read_as_is(apple, data_dir, tmp_path):
    ds = load_dataset(data_dir / "apple_QA_dataset.json")
    assert len(ds.chunks) == 215 and len(ds.pairs) == 4300 and len(ds.sha256) == 64
    assert ds.pairs[0] == (apple[0]["questions"]["question_1"], 0)
    write_dataset(tmp_path / "copy.json", apple)
    assert json.loads((tmp_path / "copy.json").read_text()) == apple


def test_chunks_without_questions_are_valid(tmp_path):
    ds = load_dataset(_write(tmp_path, [
        {"chunk_index": 0, "input_chunk": "a", "questions": {"question_1": "q?"}},
        {"chunk_index": 1, "input_chunk": "b", "questions": {}}]))
    assert ds.chunks == ["a", "b"] and ds.pairs == [("q?", 0)]


@pytest.mark.parametrize("content, needle", [
    ("[{", "not valid JSON"),
    ("{}", "non-empty JSON list"),
    ([{"chunk_index": "0", "input_chunk": "a", "questions": {}}], "chunk_index must be an integer"),
    ([{"chunk_index": 0, "input_chunk": "", "questions": {}}], "input_chunk must be a non-empty"),
    ([{"chunk_index": 0, "input_chunk": "a", "questions": {"question_1": "  "}}],
     "entry 0 (chunk_index 0) question_1: empty or non-string question"),
    ([{"chunk_index": 0, "input_chunk": "a", "questions": ["q"]}], "questions must be an object"),
    ([{"chunk_index": 3, "input_chunk": "a"}, {"chunk_index": 3, "input_chunk": "b"}],
     "chunk_index 3 repeats entry 0"),
])
def test_malformed_datasets_are_refused(tmp_path, content, needle):
    with pytest.raises(DataError, match=None) as err:
        load_dataset(_write(tmp_path, content))
    assert needle in str(err.value) and "ds.json" in str(err.value)


def test_query_log_with_unknown_chunk_reference(tmp_path):
    ds_path = _write(tmp_path, [{"chunk_index": 7, "input_chunk": "a", "questions": {}}])
    log = tmp_path / "log.jsonl"
    log.write_text('{"query": "real user question", "chunk_index": 7}\n')
    assert load_dataset(ds_path, log).pairs == [("real user question", 0)]
    log.write_text('{"query": "q", "chunk_index": 7}\n{"query": "q2", "chunk_index": 99}\n')
    with pytest.raises(DataError, match="line 2: chunk_index 99 is not a chunk of the dataset"):
        load_dataset(ds_path, log)


def test_missing_data_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CHROMA_ADAPTER_DATA", raising=False)
    with pytest.raises(DataError, match="AdamLucek/apple-environmental-report-QA-retrieval"):
        find_data_dir()
    with pytest.raises(DataError, match="no apple_QA_dataset.json"):
        find_data_dir(tmp_path)
    (tmp_path / "apple_QA_dataset.json").write_text("[]")
    with pytest.raises(DataError, match="no nvidia_10k.pdf there"):
        find_data_dir(tmp_path, ("apple_QA_dataset.json", "nvidia_10k.pdf"))
    assert find_data_dir(tmp_path) == tmp_path
    with pytest.raises(DataError, match="no such dataset file"):
        load_dataset(tmp_path / "nope.json")


def test_split_invariants(data_dir):
    ds = load_dataset(data_dir / "apple_QA_dataset.json")
    train, val = split(ds, "random", seed=42)
    assert (len(train), len(val)) == (3440, 860) and not set(train) & set(val)
    assert split(ds, "random", seed=42) == (train, val)          # deterministic
    assert split(ds, "random", seed=1) != (train, val)
    for seed in (0, 1, 2):
        train, val = split(ds, "by-chunk", seed=seed)
        held = {ds.pair_chunk[i] for i in val}
        assert len(held) == 43 and len(val) == 43 * 20 and len(train) + len(val) == 4300
        assert not held & {ds.pair_chunk[i] for i in train}      # no held-out chunk is trained on
    train, val = split(ds, "none")
    assert len(train) == 4300 and val == []
    with pytest.raises(DataError, match="unknown split"):
        split(ds, "stratified")


def test_metric_arithmetic_on_hand_made_rankings():
    ids = [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "x"], ["x", "y", "z"]]
    ranks = ranks_from_ids(ids, ["a", "a", "x", "a"])
    assert ranks == [1, 2, 3, None]
    m = metrics_from_ranks(ranks, k=3)
    assert m["recall"] == pytest.approx(3 / 4) and m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 4)
    m2 = metrics_from_ranks(ranks, k=2)  # a hit at rank 3 counts for neither metric at k=2
    assert m2["recall"] == pytest.approx(2 / 4) and m2["mrr"] == pytest.approx(1.5 / 4)
    docs = np.eye(3, dtype=np.float32)
    q = np.array([[1, 0.1, 0], [0.2, 0.1, 1]], dtype=np.float32)
    assert numpy_metrics(q, [0, 1], docs, k=1) == {"recall": 0.5, "mrr": 0.5, "n": 2}


def test_embedding_cache_embeds_once_and_resumes(base_ef, tmp_path):
    texts = [f"sentence number {i}" for i in range(10)]
    c1 = EmbeddingCache(base_ef, tmp_path, batch_size=4, progress=False)
    v1 = c1.embed(texts[:6])
    assert c1.computed == 6 and v1.shape == (6, 384)
    # the EF's own vectors (to float32 rounding: padding within a batch moves the last bits)
    np.testing.assert_allclose(v1, np.asarray(base_ef(texts[:6])), atol=1e-6)
    # simulate a crash mid-write: a torn vector tail and a torn key line
    vec = next(tmp_path.rglob("vectors.f32"))
    keys = next(tmp_path.rglob("keys.txt"))
    with open(vec, "ab") as f:
        f.write(b"\x00" * 100)
    with open(keys, "a") as f:
        f.write("abc")
    c2 = EmbeddingCache(base_ef, tmp_path, batch_size=4, progress=False)
    v2 = c2.embed(texts)
    assert c2.computed == 4  # only the 4 new texts
    np.testing.assert_array_equal(v2[:6], v1)
    c3 = EmbeddingCache(base_ef, tmp_path, progress=False)
    np.testing.assert_array_equal(c3.embed(list(reversed(texts))), v2[::-1])
    assert c3.computed == 0
