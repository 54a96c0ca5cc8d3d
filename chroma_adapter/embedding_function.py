"""AdapterEmbeddingFunction: a Chroma embedding function that adapts queries only.

Documents (``add``/``update``/``upsert`` call ``ef(input)``) get the base embedding function's
vectors unchanged, bit for bit; queries (``query(query_texts=...)`` calls ``ef.embed_query``) get
``adapter.apply(base(input))``. Registered with Chroma under ``name() == "chroma_adapter"``: the
collection persists the adapter *reference* (local path, or Hub id + pinned commit) and the base
embedding function's own config, never weights or tokens, so a collection reopened in another
process (after ``import chroma_adapter``) queries through the same adapter.
"""

from __future__ import annotations

import json
import math
import os
import threading
from typing import Any, Dict, List

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import (known_embedding_functions,
                                                register_embedding_function)

from . import fingerprint
from .adapter import QueryAdapter
from .errors import AdapterError

NAME = "chroma_adapter"

_lock = threading.RLock()
_built: dict[str, "AdapterEmbeddingFunction"] = {}   # build_from_config cache, by config
_verified: set[tuple[str, str]] = set()               # (adapter identity, base config) pairs


def _base_config(ef: EmbeddingFunction) -> dict[str, Any]:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            name, config = ef.name(), ef.get_config()
    except Exception:
        name, config = NotImplemented, NotImplemented
    if name is NotImplemented or not isinstance(config, dict):
        # a legacy EF with no config: usable, but it cannot be persisted in a collection
        return {"name": name if isinstance(name, str) else type(ef).__name__, "config": None}
    return {"name": name, "config": config}


def _model_label(ef: EmbeddingFunction) -> str:
    cfg = _base_config(ef)
    inner = cfg["config"] if isinstance(cfg["config"], dict) else {}
    return str(inner.get("model_name") or inner.get("model") or cfg["name"])


def default_base_embedding_function(model_id: str) -> EmbeddingFunction:
    """Chroma's own SentenceTransformer EF for ``model_id``: documents get the very vectors a
    collection built with that EF already stores."""
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

    return SentenceTransformerEmbeddingFunction(model_name=model_id, device="cpu")


@register_embedding_function
class AdapterEmbeddingFunction(EmbeddingFunction[Documents]):
    """Base embeddings for documents, adapted embeddings for queries."""

    def __init__(self, adapter: QueryAdapter | str | os.PathLike,
                 base_embedding_function: EmbeddingFunction | None = None, *,
                 revision: str | None = None, token: str | bool | None = None,
                 strength: float | None = None, verify_base_model: bool = True):
        if not isinstance(adapter, QueryAdapter):
            adapter = QueryAdapter.from_pretrained(adapter, revision=revision, token=token)
        if strength is not None:
            adapter = adapter.with_strength(strength)
        self.adapter = adapter
        self.base = base_embedding_function or default_base_embedding_function(adapter.base_model)
        if verify_base_model:
            self._verify_base_model()

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, *, revision: str | None = None,
                        token: str | bool | None = None,
                        base_embedding_function: EmbeddingFunction | None = None,
                        strength: float | None = None, **kwargs: Any
                        ) -> "AdapterEmbeddingFunction":
        """The one-line entry point: a local adapter directory or a Hub repo id."""
        adapter = QueryAdapter.from_pretrained(path_or_repo_id, revision=revision, token=token,
                                               strength=strength, **kwargs)
        return cls(adapter, base_embedding_function)

    def _verify_base_model(self) -> None:
        fp = self.adapter.fingerprint
        if not fp:
            return
        key = (json.dumps(fp, sort_keys=True), json.dumps(_base_config(self.base), sort_keys=True,
                                                          default=str))
        if key in _verified:
            return
        fingerprint.check(fp, self.base, adapter_name=self.adapter.source,
                          adapter_model=self.adapter.base_model,
                          actual_model=_model_label(self.base))
        _verified.add(key)

    # -- embedding ---------------------------------------------------------------------------

    def __call__(self, input: Documents) -> Embeddings:
        """Documents: the base model's embeddings, unchanged."""
        return self.base(input)

    def embed_query(self, input: Documents) -> Embeddings:
        """Queries: the base model's embeddings, adapted."""
        base = np.asarray(self.base(input), dtype=np.float32)
        return list(self.adapter.apply(base))

    # -- Chroma's embedding function protocol ------------------------------------------------

    @staticmethod
    def name() -> str:
        return NAME

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> List[Space]:
        return self.base.supported_spaces()

    def get_config(self) -> Dict[str, Any]:
        if self.adapter.hub_ref is not None:
            ref, revision = self.adapter.hub_ref
        elif os.path.isabs(self.adapter.source):
            ref, revision = self.adapter.source, None
        else:
            raise AdapterError(
                f"{self.adapter.source}: an in-memory adapter cannot be persisted in a "
                f"collection's config; save_pretrained() it and load it with from_pretrained()")
        base = _base_config(self.base)
        if base["config"] is None:
            raise AdapterError(f"base embedding function {base['name']} has no config "
                               f"(legacy EF): it cannot be persisted in a collection")
        return {"adapter": ref, "revision": revision, "strength": self.adapter.strength,
                "base_embedding_function": base}

    @staticmethod
    def build_from_config(config: Dict[str, Any]) -> "AdapterEmbeddingFunction":
        """Called by Chroma on every add/query of a reopened collection: cached per process."""
        key = json.dumps(config, sort_keys=True, default=str)
        with _lock:
            ef = _built.get(key)
            if ef is None:
                AdapterEmbeddingFunction.validate_config(config)
                base_cfg = config["base_embedding_function"]
                base = known_embedding_functions[base_cfg["name"]].build_from_config(
                    base_cfg["config"])
                adapter = QueryAdapter.from_pretrained(config["adapter"],
                                                       revision=config.get("revision"),
                                                       strength=config.get("strength"))
                ef = _built[key] = AdapterEmbeddingFunction(adapter, base)
            return ef

    @staticmethod
    def validate_config(config: Dict[str, Any]) -> None:
        def bad(why: str) -> AdapterError:
            return AdapterError(f"invalid {NAME} embedding function config: {why}")

        if not isinstance(config, dict):
            raise bad("expected an object")
        if not isinstance(config.get("adapter"), str) or not config["adapter"]:
            raise bad("\"adapter\" must be a local path or a Hub repo id")
        if config.get("revision") is not None and not isinstance(config["revision"], str):
            raise bad("\"revision\" must be a string or null")
        strength = config.get("strength")
        if strength is not None and (not isinstance(strength, (int, float))
                                     or isinstance(strength, bool) or not math.isfinite(strength)):
            raise bad("\"strength\" must be a finite number")
        base = config.get("base_embedding_function")
        if not isinstance(base, dict) or not isinstance(base.get("config"), dict):
            raise bad("\"base_embedding_function\" must be {\"name\": ..., \"config\": {...}}")
        if base.get("name") not in known_embedding_functions or base["name"] == NAME:
            raise bad(f"unknown base embedding function {base.get('name')!r}")
        known_embedding_functions[base["name"]].validate_config(base["config"])

    def validate_config_update(self, old_config: Dict[str, Any],
                               new_config: Dict[str, Any]) -> None:
        """Swapping the adapter is fine (that is the point); swapping the base model is not:
        the collection's documents were embedded with it."""
        old_base = old_config.get("base_embedding_function")
        new_base = new_config.get("base_embedding_function", old_base)
        if new_base != old_base:
            raise AdapterError("the base embedding function of a collection cannot change: its "
                               "documents were embedded with it; create a new collection")

    def __repr__(self) -> str:
        return f"AdapterEmbeddingFunction({self.adapter!r}, base={_model_label(self.base)!r})"
