"""Import the seed notebook's published adapters (``torch.save`` .pth) into the adapter format.

The .pth is read with ``torch.load(..., weights_only=True)`` only: a pickle that would build
arbitrary objects or run code is refused by torch's restricted unpickler, without running it.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from . import fingerprint
from .adapter import BIAS_KEY, WEIGHT_KEY, QueryAdapter
from .errors import AdapterError

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


# torch's UnpicklingError wraps the one line that matters in advice about weights_only=False
_TORCH_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation")


def _unpickling_reason(exc: Exception) -> str:
    """The specific line of torch's weights-only error, e.g. "Trying to load unsupported GLOBAL
    posix.system whose module posix is blocked." or "Unsupported operand 35"."""
    lines = [line.replace("WeightsUnpickler error:", "").strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line and not line.startswith(_TORCH_BOILERPLATE)]
    return lines[0] if lines else type(exc).__name__


def _load_state(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the install
        raise AdapterError(f"{path}: reading .pth files needs torch: "
                           f"pip install 'chroma-adapter[train]'") from None
    if not path.is_file():
        raise AdapterError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _unpickling_reason(exc)
        if "GLOBAL" in reason:  # the restricted unpickler met a class or function to import
            raise AdapterError(f"{path}: refused: it holds pickled objects beyond plain tensors and "
                               f"loading them could execute code (nothing was run): {reason}") from None
        raise AdapterError(f"{path}: not a torch checkpoint the weights-only loader can read "
                           f"({reason})") from None
    except Exception as exc:  # torch raises RuntimeError/EOFError/... for damaged archives
        raise AdapterError(f"{path}: not a readable torch checkpoint "
                           f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                           ) from None
    if isinstance(obj, dict) and isinstance(obj.get("adapter_state_dict"), dict):
        state, kwargs = obj["adapter_state_dict"], obj.get("adapter_kwargs") or {}
    elif isinstance(obj, dict) and WEIGHT_KEY in obj:
        state, kwargs = obj, {}
    else:
        raise AdapterError(f"{path}: expected the seed notebook's dict with 'adapter_state_dict' "
                           f"({WEIGHT_KEY!r}, {BIAS_KEY!r}), found "
                           f"{sorted(obj) if isinstance(obj, dict) else type(obj).__name__}")
    missing = [k for k in (WEIGHT_KEY, BIAS_KEY) if not isinstance(state.get(k), torch.Tensor)]
    if missing:
        raise AdapterError(f"{path}: state dict lacks tensor(s) {missing}; found {sorted(state)}")
    tensors = {k: state[k].detach().to(torch.float32).numpy() for k in (WEIGHT_KEY, BIAS_KEY)}
    plain = {k: v for k, v in kwargs.items() if isinstance(v, (str, int, float, bool))}
    return tensors, plain


def convert_seed_checkpoint(path: str | os.PathLike, output_dir: str | os.PathLike | None = None,
                            *, base_model: str = DEFAULT_BASE_MODEL,
                            base_embedding_function: Any = None) -> QueryAdapter:
    """Read a seed .pth, fingerprint its base model, and (if ``output_dir``) save it."""
    path = Path(path)
    tensors, hyper = _load_state(path)
    if base_embedding_function is None:
        from .embedding_function import default_base_embedding_function

        base_embedding_function = default_base_embedding_function(base_model)
    fp = fingerprint.compute(base_embedding_function)
    if fp["dimension"] != tensors[WEIGHT_KEY].shape[-1]:
        raise AdapterError(f"{path}: adapter dimension {tensors[WEIGHT_KEY].shape[-1]} does not "
                           f"match base model {base_model} ({fp['dimension']})")
    adapter = QueryAdapter(
        np.asarray(tensors[WEIGHT_KEY]), np.asarray(tensors[BIAS_KEY]), base_model=base_model,
        fingerprint=fp, source=str(path),
        training={"recipe": "seed-notebook", "converted_from": path.name, "hyperparameters": hyper})
    if output_dir is not None:
        adapter.save_pretrained(output_dir)
    return adapter
