"""Fast tests of trainer.recipes on small synthetic tensors (no model, no data files)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainer.recipes import RECIPES, FitResult, fit

D = 32


def _task(n_queries=600, n_chunks=40, n_neg=30, seed=0):
    """Queries are a hidden linear distortion of their chunk (0.3 I + 0.7 rotation) plus noise:
    the identity retrieves badly (MRR@10 0.37), a linear adapter can undo the distortion."""
    g = torch.Generator().manual_seed(seed)
    chunks = F.normalize(torch.randn(n_chunks, D, generator=g), dim=1)
    negatives = F.normalize(torch.randn(n_neg, D, generator=g), dim=1)
    rotation = torch.linalg.qr(torch.randn(D, D, generator=g))[0]
    positives = torch.randint(n_chunks, (n_queries,), generator=g)
    noise = F.normalize(torch.randn(n_queries, D, generator=g), dim=1)
    distortion = 0.3 * torch.eye(D) + 0.7 * rotation
    queries = F.normalize(chunks[positives] @ distortion.T + 0.5 * noise, dim=1)
    return queries, positives, chunks, negatives


def _mrr(queries, positives, chunks, weight=None, bias=None):
    q = queries.numpy()
    if weight is not None:
        q = q @ weight.T + bias
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    s = q @ chunks.numpy().T
    own = s[np.arange(len(q)), positives.numpy()]
    rank = (s > own[:, None]).sum(1) + 1
    return float(np.where(rank <= 10, 1.0 / rank, 0.0).mean())


@pytest.fixture(scope="module")
def task():
    return _task()


@pytest.mark.parametrize("recipe", ["seed", "default"])
def test_shapes_dtypes_and_params(task, recipe):
    q, pos, chunks, neg = task
    res = fit(recipe, q[:200], pos[:200], chunks, neg, seed=1, epochs=2)
    assert isinstance(res, FitResult)
    assert res.weight.shape == (D, D) and res.weight.dtype == np.float32
    assert res.bias.shape == (D,) and res.bias.dtype == np.float32
    assert [h["epoch"] for h in res.history] == [1, 2]
    assert all(np.isfinite(h["loss"]) for h in res.history)
    assert res.params["recipe"] == recipe and res.params["epochs"] == 2 and res.params["seed"] == 1
    json.dumps(res.params)  # must be JSON-serialisable (it goes into the adapter card)
    assert res.seconds > 0


@pytest.mark.parametrize("recipe", ["seed", "default"])
def test_deterministic_for_a_seed(task, recipe):
    q, pos, chunks, neg = task
    a = fit(recipe, q[:200], pos[:200], chunks, neg, seed=3, epochs=2)
    b = fit(recipe, q[:200], pos[:200], chunks, neg, seed=3, epochs=2)
    c = fit(recipe, q[:200], pos[:200], chunks, neg, seed=4, epochs=2)
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.bias, b.bias)
    assert not np.array_equal(a.weight, c.weight)


def test_seed_recipe_records_reference_hyper_parameters(task):
    q, pos, chunks, neg = task
    res = fit("seed", q[:64], pos[:64], chunks, neg)
    p = res.params
    assert p["lr"] == 3e-3 and p["margin"] == 1.0 and p["batch_size"] == 32
    assert p["warmup_steps"] == 100 and p["epochs"] == 30 and p["max_grad_norm"] == 1.0
    assert len(res.history) == 30


def test_default_improves_synthetic_retrieval(task):
    q, pos, chunks, neg = task
    train, val = slice(0, 480), slice(480, None)
    res = fit("default", q[train], pos[train], chunks, neg, seed=0)
    base = _mrr(q[val], pos[val], chunks)
    adapted = _mrr(q[val], pos[val], chunks, res.weight, res.bias)
    assert adapted > base + 0.2, (base, adapted)
    assert res.params["recipe"] == "default" and 0.0 <= res.params["alpha"] <= 1.0


def test_default_ignores_unlabelled_chunks(task):
    # chunks no training query points at are never softmax negatives (they are future targets)
    q, pos, chunks, neg = task
    extra = F.normalize(torch.randn(25, D, generator=torch.Generator().manual_seed(9)), dim=1)
    a = fit("default", q[:200], pos[:200], chunks, neg, epochs=2, calibrate=False)
    b = fit("default", q[:200], pos[:200], torch.cat([chunks, extra]), neg, epochs=2, calibrate=False)
    np.testing.assert_allclose(a.weight, b.weight, atol=1e-6)


@pytest.mark.parametrize("recipe", ["seed", "default"])
def test_on_epoch_called_and_merged(task, recipe):
    q, pos, chunks, neg = task
    calls = []

    def on_epoch(epoch, weight, bias):
        assert weight.shape == (D, D) and bias.shape == (D,)
        calls.append(epoch)
        return {"val_mrr": _mrr(q[200:], pos[200:], chunks, weight, bias)}

    res = fit(recipe, q[:200], pos[:200], chunks, neg, epochs=3, on_epoch=on_epoch)
    assert calls == [1, 2, 3]
    assert [sorted(h) for h in res.history] == [["epoch", "loss", "val_mrr"]] * 3
    # the last callback saw exactly the returned adapter
    assert res.history[-1]["val_mrr"] == pytest.approx(_mrr(q[200:], pos[200:], chunks, res.weight, res.bias))


def test_registry_and_errors(task):
    q, pos, chunks, neg = task
    assert set(RECIPES) == {"seed", "default"}
    direct = RECIPES["default"](q[:100], pos[:100], chunks, neg, epochs=1)
    assert direct.params["recipe"] == "default"
    with pytest.raises(ValueError, match="default.*seed"):
        fit("nope", q, pos, chunks, neg)
    with pytest.raises(ValueError, match="temperature"):
        fit("default", q, pos, chunks, neg, temprature=0.1)
    with pytest.raises(ValueError, match="margin"):
        fit("seed", q, pos, chunks, neg, temperature=0.1)  # a default-recipe knob on the seed recipe
    with pytest.raises(ValueError):
        fit("default", q, pos[:10], chunks, neg)
    with pytest.raises(ValueError):
        fit("default", q, pos, chunks, neg, epochs=0)
