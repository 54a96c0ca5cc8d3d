"""Every script in examples/ runs, as a user would run it."""

import os
import subprocess
import sys

import pytest

from .conftest import REPO


def run_example(name, *args, env=None, timeout=600):
    import os

    proc = subprocess.run([sys.executable, str(REPO / "examples" / name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=str(REPO),
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_01_existing_chroma_app(data_dir):
    out = run_example("01_existing_chroma_app.py")  # converts the shared seed adapter itself
    assert "adapted:" in out and "attached 4 records" in out


def test_02_from_pretrained(small_adapter_dir):
    out = run_example("02_from_pretrained.py", small_adapter_dir)
    assert "QueryAdapter(" in out and str(small_adapter_dir.resolve()) in out


def test_03_push_to_hub(small_adapter_dir, hub_server, tmp_path):
    out = run_example("03_push_to_hub.py", small_adapter_dir, "me/my-adapter",
                      env=hub_server.env(tmp_path / "cache"))
    assert "pushed:" in out and "loaded back:" in out
    assert hub_server.get_repo("me/my-adapter") is not None


@pytest.mark.parametrize("name", ["04_train_and_evaluate.py"])
def test_04_train_and_evaluate(name, data_dir, tmp_path):
    out = run_example(name, tmp_path / "adapter", env={"CHROMA_ADAPTER_CACHE": str(tmp_path / "emb")})
    assert "Recall@10" in out and (tmp_path / "adapter" / "adapter_config.json").is_file()


def test_05_pdf_to_adapter_offline(data_dir, tmp_path):
    # the 10-K stands in for both the domain PDF and the negatives: a smoke run of the pipeline
    # (pushing is covered by test_03 against the loopback Hub)
    env = {"CHROMA_ADAPTER_CACHE": str(tmp_path / "emb"), "OPENAI_API_KEY": ""}
    out = run_example("05_pdf_to_adapter.py", data_dir / "nvidia_10k.pdf",
                      data_dir / "nvidia_10k.pdf", tmp_path / "run", "--max-chunks", "30", env=env)
    assert "offline pseudo-query generator" in out and "adapter saved" in out
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
