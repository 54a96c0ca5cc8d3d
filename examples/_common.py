"""Shared by the examples: find an adapter to demonstrate with."""

import os
import sys
import tempfile
from pathlib import Path


def adapter_path(argv_index: int = 1) -> str:
    """An adapter directory or Hub id from the command line, else the shared seed adapter
    converted on the fly (needs $CHROMA_ADAPTER_DATA or ../shared/data)."""
    if len(sys.argv) > argv_index:
        return sys.argv[argv_index]
    from chroma_adapter.convert import convert_seed_checkpoint

    data = Path(os.environ.get("CHROMA_ADAPTER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    out = Path(tempfile.mkdtemp()) / "seed-adapter"
    convert_seed_checkpoint(data / "seed_adapters" / "linear_adapter_30epochs.pth", out)
    return str(out)
