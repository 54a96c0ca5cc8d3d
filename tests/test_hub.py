"""Hub sharing through the real huggingface_hub client against a loopback Hub-compatible server.

huggingface_hub reads HF_ENDPOINT / HF_HUB_OFFLINE / HF_HUB_CACHE at import, so each step runs in
a fresh process with its own environment (the test session itself is offline).
"""

import json

import pytest

from .conftest import run_python

PUSH = """
import json
from chroma_adapter import QueryAdapter
a = QueryAdapter.from_pretrained({src!r})
info = a.push_to_hub("team/apple-adapter", private={private}, commit_message="v1")
a2 = a.with_strength(0.5)
a2.push_to_hub("team/apple-adapter", commit_message="v2: half strength")
print(json.dumps({{"oid": info.oid}}))
"""

LOAD = """
import json
from chroma_adapter import QueryAdapter
out = {{}}
for rev in (None, {old!r}):
    a = QueryAdapter.from_pretrained("team/apple-adapter", revision=rev)
    out[str(rev)] = {{"strength": a.strength, "hub_ref": list(a.hub_ref), "dim": a.dimension}}
print(json.dumps(out))
"""

OFFLINE_COLLECTION = """
import json, tempfile, chromadb
from chroma_adapter import AdapterEmbeddingFunction
ef = AdapterEmbeddingFunction.from_pretrained("team/apple-adapter", revision={old!r})
col = chromadb.PersistentClient({db!r}).create_collection("docs", embedding_function=ef)
col.add(ids=["a", "b"], documents=["recycled aluminium", "GPU revenue"])
print(json.dumps(col.configuration_json["embedding_function"]["config"]))
"""

REOPEN = """
import chromadb, chroma_adapter
col = chromadb.PersistentClient({db!r}).get_collection("docs")
print(col.query(query_texts=["metal recycling"], n_results=1)["ids"][0][0])
"""


def test_push_then_from_pretrained_by_revision_then_offline(small_adapter_dir, hub_server,
                                                            tmp_path):
    push_env = hub_server.env(tmp_path / "pusher-cache")
    pushed = json.loads(run_python(PUSH.format(src=str(small_adapter_dir), private=False),
                                   env=push_env).stdout.strip().splitlines()[-1])
    repo = hub_server.get_repo("team/apple-adapter")
    files = set(repo.commits[repo.branches["main"]].files)
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= files

    cache = tmp_path / "user-cache"
    loaded = json.loads(run_python(LOAD.format(old=pushed["oid"]), env=hub_server.env(cache))
                        .stdout.strip().splitlines()[-1])
    assert loaded["None"]["strength"] == 0.5 and loaded[pushed["oid"]]["strength"] == 1.0
    assert loaded[pushed["oid"]]["hub_ref"] == ["team/apple-adapter", pushed["oid"]]
    assert loaded["None"]["hub_ref"][1] == repo.branches["main"]  # pinned to the commit

    # offline from the Hub cache: the collection persists the Hub id and the pinned commit
    offline = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_ENDPOINT": "http://127.0.0.1:9"}
    model_cache = {"HF_HUB_CACHE": str(cache)}
    from trainer.model_cache import seed_hub_cache
    seed_hub_cache(cache_dir=cache)  # the base model in the same cache, as on a user's machine
    db = str(tmp_path / "db")
    config = json.loads(run_python(OFFLINE_COLLECTION.format(old=pushed["oid"], db=db),
                                   env={**offline, **model_cache}).stdout.strip().splitlines()[-1])
    assert config["adapter"] == "team/apple-adapter" and config["revision"] == pushed["oid"]
    assert "/" not in config["adapter"].replace("team/apple-adapter", "")
    hub_server.stop()  # the Hub is gone: a reopened collection still queries from the cache
    top = run_python(REOPEN.format(db=db), env=offline).stdout.strip().splitlines()[-1]
    assert top == "a"


def test_private_repo_needs_token(small_adapter_dir, tmp_path):
    from tests.support.hub_server import HubServer

    with HubServer(token="hf_secret") as hub:
        run_python(PUSH.format(src=str(small_adapter_dir), private=True),
                   env=hub.env(tmp_path / "c1"))
        assert hub.get_repo("team/apple-adapter").private
        env = hub.env(tmp_path / "c2")
        env.pop("HF_TOKEN")
        proc = run_python("from chroma_adapter.cli import main; import sys; "
                          "sys.exit(main(['info', 'team/apple-adapter']))", env=env, check=False)
        assert proc.returncode == 1 and "no such Hub repo (or it is private" in proc.stderr
        ok = run_python(LOAD.format(old=None), env=hub.env(tmp_path / "c3"))
        assert '"dim": 384' in ok.stdout


@pytest.mark.parametrize("ref, needle", [
    ("nobody/does-not-exist", "no such Hub repo"),
    ("bad repo id!", "neither an adapter directory nor a valid Hub repo id"),
])
def test_missing_or_invalid_hub_ids(hub_server, tmp_path, ref, needle):
    proc = run_python("from chroma_adapter.cli import main; import sys; "
                      f"sys.exit(main(['info', {ref!r}]))", env=hub_server.env(tmp_path / "c"),
                      check=False)
    assert proc.returncode == 1 and needle in proc.stderr and proc.stderr.count("\n") == 1


def test_missing_revision(small_adapter_dir, hub_server, tmp_path):
    run_python(PUSH.format(src=str(small_adapter_dir), private=False),
               env=hub_server.env(tmp_path / "c1"))
    proc = run_python("from chroma_adapter import QueryAdapter\n"
                      "QueryAdapter.from_pretrained('team/apple-adapter', revision='v9')",
                      env=hub_server.env(tmp_path / "c2"), check=False)
    assert "has no revision 'v9'" in proc.stderr
