"""Load an adapter (local directory or Hub id) and build a new collection with it.

    python examples/02_from_pretrained.py [ADAPTER_DIR_OR_HUB_ID] [--revision REV]

Hub ids honour the Hub cache, HF_HUB_OFFLINE=1, revisions and tokens like any Hub library.
"""

import sys
import tempfile

import chromadb

from chroma_adapter import AdapterEmbeddingFunction, QueryAdapter
from _common import adapter_path

revision = sys.argv[sys.argv.index("--revision") + 1] if "--revision" in sys.argv else None
ref = adapter_path() if len(sys.argv) < 2 or sys.argv[1].startswith("--") else sys.argv[1]

adapter = QueryAdapter.from_pretrained(ref, revision=revision)
print(adapter)
print("metrics:", adapter.metrics or "(none recorded)")

ef = AdapterEmbeddingFunction(adapter)          # or AdapterEmbeddingFunction.from_pretrained(ref)
col = chromadb.PersistentClient(tempfile.mkdtemp()).create_collection("docs", embedding_function=ef)
col.add(ids=["a", "b"], documents=["Recycled cobalt in batteries.", "Quarterly GPU shipments."])
print(col.query(query_texts=["battery materials"], n_results=1)["ids"][0])
print("persisted config:", col.configuration_json["embedding_function"]["config"]["adapter"])
