"""Drop an adapter into Chroma code that already exists: nothing is re-embedded.

    python examples/01_existing_chroma_app.py [ADAPTER_DIR_OR_HUB_ID]
"""

import tempfile

import chromadb
from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

import chroma_adapter
from _common import adapter_path

# --- the application as it is today --------------------------------------------------------
client = chromadb.PersistentClient(tempfile.mkdtemp())
docs = client.create_collection(
    "reports",
    embedding_function=SentenceTransformerEmbeddingFunction("sentence-transformers/all-MiniLM-L6-v2"),
    configuration={"hnsw": {"space": "cosine"}})
docs.add(ids=["energy", "water", "packaging", "gpus"], documents=[
    "Our data centers run on 100 percent renewable electricity from solar and wind.",
    "Supplier facilities saved 12 billion gallons of freshwater through clean water programs.",
    "Packaging is now 97 percent fiber-based, removing plastic from our boxes.",
    "Data center revenue grew on strong demand for GPUs used in AI training."])

# --- (a) query the existing collection through the adapter, data untouched -------------------
ef = chroma_adapter.AdapterEmbeddingFunction.from_pretrained(adapter_path())
question = "how much plastic is left in the boxes?"
print("base   :", docs.query(query_texts=[question], n_results=2)["ids"][0])
print("adapted:", chroma_adapter.query(docs, [question], ef, n_results=2)["ids"][0])

# --- (b) or move it onto the adapter once, by copying its stored vectors ---------------------
report = chroma_adapter.attach(client, "reports", "reports_adapted", ef)
adapted = client.get_collection("reports_adapted")   # reopened later: `import chroma_adapter` is enough
print(f"attached {report.copied} records;", adapted.query(query_texts=[question], n_results=2)["ids"][0])
