"""chroma-adapter: query-only linear adapters for Chroma.

``import chroma_adapter`` registers :class:`AdapterEmbeddingFunction` with Chroma, so a collection
created with it can be reopened by any process that imports this package.
"""

from .adapter import QueryAdapter
from .collections import AttachReport, attach, query
from .embedding_function import AdapterEmbeddingFunction
from .errors import AdapterError, BaseModelMismatchError

__all__ = ["AdapterEmbeddingFunction", "AdapterError", "AttachReport", "BaseModelMismatchError",
           "QueryAdapter", "attach", "query"]
__version__ = "0.1.0"
