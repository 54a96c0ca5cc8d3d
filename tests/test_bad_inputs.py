"""Bad input: one clear line naming the file and the problem, nothing executed, nothing lost.

Each case damages a copy of a good adapter directory, then loads it through the CLI (`info`)
and through the library; ``python -m tests.test_bad_inputs`` prints the message table.
"""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from chroma_adapter import AdapterEmbeddingFunction, AdapterError, QueryAdapter
from chroma_adapter.cli import main as cli

W, B = "linear.weight", "linear.bias"


def _edit_config(d: Path, **changes):
    cfg = json.loads((d / "adapter_config.json").read_text())
    cfg.update(changes)
    (d / "adapter_config.json").write_text(json.dumps(cfg))


def _edit_tensors(d: Path, fn):
    tensors = load_file(d / "adapter_model.safetensors")
    save_file(fn(tensors), d / "adapter_model.safetensors")


def _nan(t):
    t[W][3, 3] = np.nan
    return t


def _inf(t):
    t[B][0] = np.inf
    return t


CASES = {
    "missing config": (lambda d: (d / "adapter_config.json").unlink(), "adapter_config.json: missing"),
    "missing weights": (lambda d: (d / "adapter_model.safetensors").unlink(),
                        "adapter_model.safetensors: missing"),
    "truncated safetensors": (lambda d: (d / "adapter_model.safetensors").write_bytes(
        (d / "adapter_model.safetensors").read_bytes()[:1000]), "truncated or corrupted"),
    "corrupted safetensors": (lambda d: (d / "adapter_model.safetensors").write_bytes(
        b"\x00" * 64 + b"garbage"), "truncated or corrupted"),
    "config not JSON": (lambda d: (d / "adapter_config.json").write_text("{not json"),
                        "not valid JSON"),
    "wrong tensor names": (lambda d: _edit_tensors(d, lambda t: {"weight": t[W], "bias": t[B]}),
                           "expected tensors 'linear.weight' and 'linear.bias'"),
    "wrong shapes": (lambda d: _edit_tensors(d, lambda t: {W: t[W][:100, :100].copy(),
                                                            B: t[B][:100].copy()}),
                     "do not match dimension 384"),
    "non-square weight": (lambda d: _edit_tensors(d, lambda t: {W: t[W][:, :100].copy(), B: t[B]}),
                          "expected linear.weight [d, d] and linear.bias [d], got [384, 100]"),
    "float16 weights": (lambda d: _edit_tensors(d, lambda t: {W: t[W].astype(np.float16),
                                                               B: t[B].astype(np.float16)}),
                        "dtype float16, expected float32"),
    "NaN weights": (lambda d: _edit_tensors(d, _nan), "NaN or Inf"),
    "Inf bias": (lambda d: _edit_tensors(d, _inf), "NaN or Inf"),
    "config/weights dimension mismatch": (lambda d: _edit_config(d, dimension=768),
                                          "do not match dimension 768"),
    "unknown format version": (lambda d: _edit_config(d, format_version=99),
                               "format_version 99 is not supported"),
    "not our format": (lambda d: _edit_config(d, format="peft"), "not a chroma-adapter config"),
    "base model missing": (lambda d: _edit_config(d, base_model=""), "base_model"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_damaged_adapter_is_refused_with_one_line(case, small_adapter_dir, tmp_path, capsys):
    damage, needle = CASES[case]
    d = tmp_path / "adapter"
    shutil.copytree(small_adapter_dir, d)
    damage(d)
    with pytest.raises(AdapterError, match=re.escape(needle)):
        QueryAdapter.from_pretrained(d)
    assert cli(["info", str(d)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and str(d) in err
    assert "Traceback" not in err


def test_debug_flag_shows_the_traceback(small_adapter_dir, tmp_path):
    d = tmp_path / "adapter"
    shutil.copytree(small_adapter_dir, d)
    (d / "adapter_config.json").unlink()
    with pytest.raises(AdapterError):
        cli(["--debug", "info", str(d)])


def test_missing_directory_and_file_paths(tmp_path, capsys):
    assert cli(["info", str(tmp_path / "nope")]) == 1
    assert "no such adapter directory" in capsys.readouterr().err
    f = tmp_path / "file.json"
    f.write_text("{}")
    assert cli(["info", str(f)]) == 1
    assert "is a file" in capsys.readouterr().err


def test_offline_with_empty_cache_says_so(capsys):
    # HF_HUB_OFFLINE=1 and a cache without this repo (set up by conftest)
    assert cli(["info", "someone/not-cached-adapter"]) == 1
    err = capsys.readouterr().err
    assert "not in the Hub cache" in err and "offline" in err


def test_adapter_for_another_base_model_is_refused(small_adapter_dir, tmp_path):
    """Same weights but CLS pooling instead of mean: another model, same dimension."""
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction
    from trainer.model_cache import packaged_minilm_dir

    other = tmp_path / "cls-pooling-model"
    shutil.copytree(packaged_minilm_dir(), other)
    pooling = other / "1_Pooling" / "config.json"
    cfg = json.loads(pooling.read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(cfg))
    ef = SentenceTransformerEmbeddingFunction(model_name=str(other), device="cpu")
    with pytest.raises(AdapterError, match="sentence-transformers/all-MiniLM-L6-v2.*cls-pooling-model"):
        AdapterEmbeddingFunction.from_pretrained(small_adapter_dir, base_embedding_function=ef)


def test_adapter_for_another_dimension_is_refused(small_adapter_dir, base_ef):
    from chromadb.api.types import EmbeddingFunction

    class Truncated(EmbeddingFunction):
        def __init__(self):
            pass

        def __call__(self, input):
            return [np.asarray(v[:256]) for v in base_ef(input)]

        @staticmethod
        def name():
            return "truncated-minilm"

    with pytest.raises(AdapterError, match="dimension 256 != 384"):
        AdapterEmbeddingFunction.from_pretrained(small_adapter_dir, base_embedding_function=Truncated())


if __name__ == "__main__":  # print the message table for the closing note
    import sys
    import tempfile

    src = Path(sys.argv[1])
    for name, (damage, _) in CASES.items():
        d = Path(tempfile.mkdtemp()) / "adapter"
        shutil.copytree(src, d)
        damage(d)
        try:
            QueryAdapter.from_pretrained(d)
        except AdapterError as exc:
            print(f"| {name} | {str(exc).replace(str(d), 'DIR')} |")
