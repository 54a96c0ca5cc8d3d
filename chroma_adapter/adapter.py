"""QueryAdapter: ``q' = W q + b`` on query embeddings, stored the PEFT way.

A directory (local or a Hub repo) holds::

    adapter_config.json         format version, base model Hub id, dimension, apply settings,
                                base-model fingerprint, free-form "training" and "metrics"
    adapter_model.safetensors   float32 "linear.weight" [d, d] and "linear.bias" [d]
                                (the keys of torch.nn.Linear and sentence-transformers Dense)
    README.md                   model card

Applying needs numpy only. Loading never executes code: JSON and safetensors, both validated,
and every refusal says which file and why.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import AdapterError

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
CARD_NAME = "README.md"
FORMAT = "chroma-adapter"
FORMAT_VERSION = 1
ADAPTER_TYPE = "query_linear"
WEIGHT_KEY, BIAS_KEY = "linear.weight", "linear.bias"
# Keys this version understands; anything else in a config is kept as it is on save.
_KNOWN_KEYS = ("format", "format_version", "adapter_type", "base_model", "dimension",
               "normalize_output", "strength", "fingerprint", "training", "metrics")


class QueryAdapter:
    """A query-only linear adapter for one base embedding model.

    ``strength`` blends the adapted query with the original one:
    ``q' = (1 - s) q + s (W q + b)`` (1.0: the adapter as trained; 0.0: the base model).
    ``normalize_output`` L2-normalises ``q'`` (useful for ``l2``/``ip`` spaces; cosine ignores it).
    """

    def __init__(self, weight: Any, bias: Any, *, base_model: str,
                 normalize_output: bool = False, strength: float = 1.0,
                 fingerprint: Mapping[str, Any] | None = None,
                 training: Mapping[str, Any] | None = None,
                 metrics: Mapping[str, Any] | None = None,
                 extra: Mapping[str, Any] | None = None, source: str = "<memory>"):
        self.source = source  # where it was loaded from, for messages
        self.weight, self.bias = _check_tensors(np.asarray(weight), np.asarray(bias), source)
        if not isinstance(base_model, str) or not base_model:
            raise AdapterError(f"{source}: base_model must be a non-empty Hub id")
        if not isinstance(strength, (int, float)) or not math.isfinite(strength):
            raise AdapterError(f"{source}: strength must be a finite number, got {strength!r}")
        self.base_model = base_model
        self.normalize_output = bool(normalize_output)
        self.strength = float(strength)
        self.fingerprint = dict(fingerprint) if fingerprint else None
        self.training = dict(training or {})
        self.metrics = dict(metrics or {})
        self.extra = dict(extra or {})
        self.hub_ref: tuple[str, str] | None = None  # (repo_id, commit) when loaded from the Hub
        self._prepare()

    # -- the query path ----------------------------------------------------------------------

    def _prepare(self) -> None:
        """Fold strength into one matrix so that apply() is a single matmul (in float64: a
        384x384 product costs microseconds, and the result is exact to float32 rounding)."""
        s, d = self.strength, self.dimension
        eff = s * self.weight.astype(np.float64) + (1.0 - s) * np.eye(d)
        self._wt = np.ascontiguousarray(eff.T)
        self._b = s * self.bias.astype(np.float64)

    @property
    def dimension(self) -> int:
        return int(self.weight.shape[0])

    def with_strength(self, strength: float) -> "QueryAdapter":
        clone = QueryAdapter(self.weight, self.bias, **{**self._config_kwargs(), "strength": strength},
                             source=self.source)
        clone.hub_ref = self.hub_ref
        return clone

    def apply(self, embeddings: Any) -> np.ndarray:
        """Adapt query embeddings: [n, d] (or [d]) -> float32 of the same shape."""
        x = np.asarray(embeddings, dtype=np.float64)
        single = x.ndim == 1
        x2 = x[None, :] if single else x
        if x2.ndim != 2 or x2.shape[1] != self.dimension:
            raise AdapterError(f"{self.source}: query embeddings of shape {x.shape} do not match "
                               f"the adapter's dimension {self.dimension}")
        out = x2 @ self._wt + self._b
        if self.normalize_output:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        out = out.astype(np.float32)
        return out[0] if single else out

    __call__ = apply

    # -- config ------------------------------------------------------------------------------

    def _config_kwargs(self) -> dict[str, Any]:
        return dict(base_model=self.base_model, normalize_output=self.normalize_output,
                    fingerprint=self.fingerprint, training=self.training, metrics=self.metrics,
                    extra=self.extra, strength=self.strength)

    @property
    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "adapter_type": ADAPTER_TYPE,
            "base_model": self.base_model, "dimension": self.dimension,
            "normalize_output": self.normalize_output, "strength": self.strength,
            "fingerprint": self.fingerprint, "training": self.training, "metrics": self.metrics,
        }
        cfg.update({k: v for k, v in self.extra.items() if k not in cfg})
        return cfg

    # -- save / load -------------------------------------------------------------------------

    def save_pretrained(self, save_directory: str | os.PathLike, *, card: bool = True) -> Path:
        """Write config, weights and model card. Each file is replaced atomically."""
        from safetensors.numpy import save_file

        from .card import render_card

        out = Path(save_directory)
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=".tmp-") as tmp:
            t = Path(tmp)
            save_file({WEIGHT_KEY: np.ascontiguousarray(self.weight),
                       BIAS_KEY: np.ascontiguousarray(self.bias)},
                      str(t / WEIGHTS_NAME), metadata={"format": "np"})
            (t / CONFIG_NAME).write_text(json.dumps(self.config, indent=2) + "\n")
            names = [WEIGHTS_NAME, CONFIG_NAME]
            if card:
                (t / CARD_NAME).write_text(render_card(self))
                names.append(CARD_NAME)
            for name in names:  # weights before config: a reader never sees a new config alone
                os.replace(t / name, out / name)
        return out

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, *, revision: str | None = None,
                        token: str | bool | None = None, cache_dir: str | os.PathLike | None = None,
                        local_files_only: bool = False, strength: float | None = None
                        ) -> "QueryAdapter":
        """Load from a local directory or a Hub repo id (Hub cache, offline mode and tokens as
        in every huggingface_hub library)."""
        from .hub import resolve

        directory, hub_ref = resolve(path_or_repo_id, revision=revision, token=token,
                                     cache_dir=cache_dir, local_files_only=local_files_only)
        # Local adapters are named by absolute path: that is what a collection's config keeps.
        source = str(path_or_repo_id) if hub_ref else str(Path(directory).resolve())
        adapter = cls.load_directory(directory, source=source)
        adapter.hub_ref = hub_ref
        return adapter if strength is None else adapter.with_strength(strength)

    @classmethod
    def load_directory(cls, directory: str | os.PathLike, *, source: str | None = None
                       ) -> "QueryAdapter":
        directory = Path(directory)
        source = source or str(directory)
        config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        config = read_config(config_path)
        weight, bias = _check_tensors(*_read_weights(weights_path), str(weights_path))
        dim = config["dimension"]
        if weight.shape != (dim, dim) or bias.shape != (dim,):
            raise AdapterError(
                f"{weights_path}: tensor shapes {list(weight.shape)} / {list(bias.shape)} do not "
                f"match dimension {dim} in {CONFIG_NAME}")
        extra = {k: v for k, v in config.items() if k not in _KNOWN_KEYS}
        return cls(weight, bias, base_model=config["base_model"],
                   normalize_output=config.get("normalize_output", False),
                   strength=config.get("strength", 1.0), fingerprint=config.get("fingerprint"),
                   training=config.get("training"), metrics=config.get("metrics"),
                   extra=extra, source=source)

    def push_to_hub(self, repo_id: str, *, private: bool | None = None,
                    token: str | bool | None = None, revision: str | None = None,
                    commit_message: str = "Upload query adapter", create_pr: bool = False) -> Any:
        """Create the repo if needed and upload config, weights and card in one commit."""
        from .hub import push_folder

        with tempfile.TemporaryDirectory() as tmp:
            self.save_pretrained(tmp)
            return push_folder(tmp, repo_id, private=private, token=token, revision=revision,
                               commit_message=commit_message, create_pr=create_pr)

    def __repr__(self) -> str:
        return (f"QueryAdapter(base_model={self.base_model!r}, dimension={self.dimension}, "
                f"strength={self.strength}, source={self.source!r})")


# -- validation --------------------------------------------------------------------------------

def read_config(path: Path) -> dict[str, Any]:
    """Read and validate ``adapter_config.json``."""
    if not path.is_file():
        raise AdapterError(f"{path}: missing ({CONFIG_NAME} is required in an adapter directory)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdapterError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise AdapterError(f"{path}: expected a JSON object, got {type(config).__name__}")
    version = config.get("format_version")
    if config.get("format") != FORMAT or not isinstance(version, int):
        raise AdapterError(f"{path}: not a chroma-adapter config (needs \"format\": \"{FORMAT}\" "
                           f"and an integer \"format_version\")")
    if version > FORMAT_VERSION or version < 1:
        raise AdapterError(f"{path}: format_version {version} is not supported by this "
                           f"chroma-adapter (reads 1..{FORMAT_VERSION}); upgrade chroma-adapter")
    if config.get("adapter_type", ADAPTER_TYPE) != ADAPTER_TYPE:
        raise AdapterError(f"{path}: adapter_type {config.get('adapter_type')!r} is not "
                           f"supported (only {ADAPTER_TYPE!r})")
    if not isinstance(config.get("base_model"), str) or not config["base_model"]:
        raise AdapterError(f"{path}: \"base_model\" must name the base model's Hub id")
    dim = config.get("dimension")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0:
        raise AdapterError(f"{path}: \"dimension\" must be a positive integer, got {dim!r}")
    for key in ("training", "metrics"):
        if not isinstance(config.get(key) or {}, dict):
            raise AdapterError(f"{path}: \"{key}\" must be an object")
    fp = config.get("fingerprint")
    if fp is not None and not (isinstance(fp, dict) and "values" in fp and "dimension" in fp):
        raise AdapterError(f"{path}: \"fingerprint\" is malformed (needs values and dimension)")
    return config


def _read_weights(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise AdapterError(f"{path}: missing ({WEIGHTS_NAME} is required in an adapter directory)")
    try:
        with safe_open(str(path), framework="np") as f:
            keys = set(f.keys())
            if keys != {WEIGHT_KEY, BIAS_KEY}:
                raise AdapterError(f"{path}: expected tensors {WEIGHT_KEY!r} and {BIAS_KEY!r}, "
                                   f"found {sorted(keys)}")
            return f.get_tensor(WEIGHT_KEY), f.get_tensor(BIAS_KEY)
    except AdapterError:
        raise
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise AdapterError(f"{path}: not a readable safetensors file (truncated or corrupted?): "
                           f"{exc}") from None


def _check_tensors(weight: np.ndarray, bias: np.ndarray, source: str
                   ) -> tuple[np.ndarray, np.ndarray]:
    for name, t in ((WEIGHT_KEY, weight), (BIAS_KEY, bias)):
        if t.dtype != np.float32:
            raise AdapterError(f"{source}: tensor {name!r} has dtype {t.dtype}, expected float32")
        if not np.all(np.isfinite(t)):
            raise AdapterError(f"{source}: tensor {name!r} contains NaN or Inf values")
    if weight.ndim != 2 or weight.shape[0] != weight.shape[1] or bias.shape != weight.shape[:1]:
        raise AdapterError(f"{source}: expected {WEIGHT_KEY} [d, d] and {BIAS_KEY} [d], got "
                           f"{list(weight.shape)} and {list(bias.shape)}")
    return np.array(weight, dtype=np.float32), np.array(bias, dtype=np.float32)

