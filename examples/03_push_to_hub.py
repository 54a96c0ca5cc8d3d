"""Share an adapter on the Hugging Face Hub, then load it back by id.

    python examples/03_push_to_hub.py ADAPTER_DIR USER/REPO [--private]

Needs a token with write access (HF_TOKEN or `hf auth login`); HF_ENDPOINT is honoured.
"""

import sys

from chroma_adapter import QueryAdapter

src, repo_id = sys.argv[1], sys.argv[2]
adapter = QueryAdapter.from_pretrained(src)
info = adapter.push_to_hub(repo_id, private="--private" in sys.argv,
                           commit_message="Upload query adapter")
print("pushed:", info.commit_url)

again = QueryAdapter.from_pretrained(repo_id, revision=info.oid)
print("loaded back:", again, "at", again.hub_ref)
