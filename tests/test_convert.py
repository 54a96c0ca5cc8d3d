"""The shared seed notebook adapter, converted: same outputs, better ranks, nothing unpickled."""

import numpy as np
import pytest
import torch

from chroma_adapter import AdapterEmbeddingFunction, QueryAdapter
from chroma_adapter.cli import main as cli

from .conftest import MODEL_ID


def test_converted_seed_matches_torch_linear(seed_adapter_dir, data_dir, apple, base_ef):
    seed_pth = data_dir / "seed_adapters" / "linear_adapter_30epochs.pth"
    state = torch.load(seed_pth, weights_only=True, map_location="cpu")["adapter_state_dict"]
    linear = torch.nn.Linear(384, 384)
    linear.load_state_dict({"weight": state["linear.weight"], "bias": state["linear.bias"]})
    questions = [q for item in apple[:10] for q in item["questions"].values()]
    q = np.asarray(base_ef(questions), dtype=np.float32)
    with torch.no_grad():
        want = linear(torch.from_numpy(q)).numpy()
    got = QueryAdapter.from_pretrained(seed_adapter_dir).apply(q)
    assert np.abs(got - want).max() < 1e-6


def test_converted_config_names_hub_id_and_training(seed_adapter_dir):
    a = QueryAdapter.from_pretrained(seed_adapter_dir)
    assert a.base_model == MODEL_ID and a.fingerprint["dimension"] == 384
    assert a.training["hyperparameters"]["num_epochs"] == 30
    assert "/" not in a.training["converted_from"]  # a file name, not a machine path


def test_seed_adapter_improves_rank_of_its_training_questions(seed_adapter_dir, apple, base_ef,
                                                              tmp_path):
    import chromadb

    client = chromadb.PersistentClient(str(tmp_path / "db"))
    col = client.create_collection("apple", embedding_function=base_ef,
                                   configuration={"hnsw": {"space": "cosine"}})
    col.add(ids=[str(c["chunk_index"]) for c in apple], documents=[c["input_chunk"] for c in apple])
    rng = np.random.default_rng(0)
    pairs = [(q, str(c["chunk_index"])) for c in apple for q in c["questions"].values()]
    sample = [pairs[i] for i in rng.choice(len(pairs), 600, replace=False)]
    texts, gold = [q for q, _ in sample], [g for _, g in sample]
    ef = AdapterEmbeddingFunction.from_pretrained(seed_adapter_dir)

    def mrr(ids):
        return np.mean([1 / (r.index(g) + 1) if g in r else 0 for r, g in zip(ids, gold)])

    base = col.query(query_texts=texts, n_results=10)["ids"]
    adapted = col.query(query_embeddings=ef.embed_query(texts), n_results=10)["ids"]
    assert mrr(adapted) > mrr(base) + 0.05


def test_malicious_pickle_is_refused_without_running(tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "evil.pth"
    torch.save({"adapter_state_dict": Evil()}, bad)
    assert cli(["convert", str(bad), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert not marker.exists() and not (tmp_path / "out").exists()
    assert err.count("\n") == 0 and "evil.pth" in err and "refused" in err
    assert "GLOBAL posix.system" in err and "weights_only` set to `False`" not in err


def test_file_that_is_not_a_checkpoint(tmp_path, capsys):
    text = tmp_path / "notes.pth"
    text.write_text("# not a checkpoint\n")
    assert cli(["convert", str(text), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "notes.pth: not a torch checkpoint" in err and "refused" not in err


@pytest.mark.parametrize("payload, needle", [
    ({"something": torch.zeros(2)}, "adapter_state_dict"),
    ({"adapter_state_dict": {"linear.weight": torch.zeros(4, 4)}}, "linear.bias"),
])
def test_unexpected_checkpoint_layouts_are_refused(tmp_path, capsys, payload, needle):
    path = tmp_path / "odd.pth"
    torch.save(payload, path)
    assert cli(["convert", str(path), str(tmp_path / "out")]) == 1
    assert needle in capsys.readouterr().err


def test_dimension_mismatch_with_base_model_is_refused(tmp_path, capsys):
    path = tmp_path / "small.pth"
    torch.save({"adapter_state_dict": {"linear.weight": torch.zeros(8, 8),
                                       "linear.bias": torch.zeros(8)}}, path)
    assert cli(["convert", str(path), str(tmp_path / "out")]) == 1
    assert "dimension 8" in capsys.readouterr().err
