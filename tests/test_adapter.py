"""QueryAdapter: the format on disk, the apply step, the model card."""

import json

import numpy as np
import pytest

from chroma_adapter import QueryAdapter
from chroma_adapter.adapter import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME

from .conftest import MODEL_ID


def _adapter(d=8, **kw):
    rng = np.random.default_rng(1)
    return QueryAdapter(rng.standard_normal((d, d)).astype(np.float32),
                        rng.standard_normal(d).astype(np.float32), base_model=MODEL_ID, **kw)


def test_round_trip_keeps_weights_config_and_unknown_fields(tmp_path):
    a = _adapter(training={"recipe": "x"}, metrics={"k": 10},
                 extra={"future_field": {"kept": True}})
    a.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([CONFIG_NAME, WEIGHTS_NAME, CARD_NAME])
    b = QueryAdapter.from_pretrained(tmp_path)
    assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
    cfg = json.loads((tmp_path / CONFIG_NAME).read_text())
    assert cfg["format_version"] == 1 and cfg["base_model"] == MODEL_ID and cfg["dimension"] == 8
    assert cfg["future_field"] == {"kept": True} and cfg["training"] == {"recipe": "x"}
    b.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / CONFIG_NAME).read_text()) == cfg


def test_safetensors_keys_match_torch_linear(tmp_path):
    from safetensors.numpy import load_file

    _adapter().save_pretrained(tmp_path)
    tensors = load_file(tmp_path / WEIGHTS_NAME)
    assert {k: (v.shape, v.dtype) for k, v in tensors.items()} == {
        "linear.weight": ((8, 8), np.float32), "linear.bias": ((8,), np.float32)}


def test_apply_is_w_q_plus_b_with_strength_and_normalisation():
    a = _adapter()
    q = np.random.default_rng(2).standard_normal((5, 8)).astype(np.float32)
    expected = q.astype(np.float64) @ a.weight.T.astype(np.float64) + a.bias
    np.testing.assert_allclose(a.apply(q), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a.apply(q[0]), expected[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a.with_strength(0.0).apply(q), q, atol=1e-7)
    half = a.with_strength(0.5).apply(q)
    np.testing.assert_allclose(half, 0.5 * q + 0.5 * expected, rtol=1e-5, atol=1e-6)
    normed = QueryAdapter(a.weight, a.bias, base_model=MODEL_ID, normalize_output=True).apply(q)
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1.0, rtol=1e-6)
    assert a.apply(q).dtype == np.float32


def test_strength_is_saved_and_overridable_on_load(tmp_path):
    _adapter(strength=0.25).save_pretrained(tmp_path)
    assert QueryAdapter.from_pretrained(tmp_path).strength == 0.25
    assert QueryAdapter.from_pretrained(tmp_path, strength=1.0).strength == 1.0


def test_save_leaves_no_temporary_files_and_overwrites_in_place(tmp_path):
    _adapter().save_pretrained(tmp_path)
    (tmp_path / "loss.png").write_bytes(b"keep me")
    _adapter(d=4).save_pretrained(tmp_path)
    assert QueryAdapter.from_pretrained(tmp_path).dimension == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [CONFIG_NAME, WEIGHTS_NAME, CARD_NAME, "loss.png"])


def test_model_card_names_base_model_usage_and_metrics(small_adapter_dir):
    card = (small_adapter_dir / CARD_NAME).read_text()
    assert card.startswith("---\n") and f"base_model: {MODEL_ID}" in card
    assert "library_name: chroma-adapter" in card
    assert "AdapterEmbeddingFunction.from_pretrained" in card
    assert "| base model | 0.5000 | 0.3000 |" in card and "0.6000" in card


def test_apply_refuses_wrong_dimension():
    with pytest.raises(ValueError, match="dimension 8"):
        _adapter().apply(np.zeros((2, 7)))
