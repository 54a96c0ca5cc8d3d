"""Smoke tests of the test servers in tests/support (fake Hub + real `chroma run`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request

import pytest

from tests.support.chroma_server import ChromaServer
from tests.support.hub_server import HubServer, git_blob_sha

HUB_ROUND_TRIP = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download
    from huggingface_hub.errors import (EntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    folder, repo_id = Path(sys.argv[1]), "test-user/round-trip"
    api = HfApi()
    assert api.whoami()["name"] == "test-user"
    url = api.create_repo(repo_id, private=True, exist_ok=True)
    assert url.repo_id == repo_id, url
    api.create_repo(repo_id, exist_ok=True)  # idempotent

    first = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="first")
    sha1 = first.oid
    assert len(sha1) == 40, sha1
    blob = (folder / "weights.bin").read_bytes()
    for rev in ("main", sha1):
        assert json.loads(Path(hf_hub_download(repo_id, "config.json", revision=rev)).read_text()) == {"v": 1}
        assert Path(hf_hub_download(repo_id, "weights.bin", revision=rev)).read_bytes() == blob

    (folder / "config.json").write_text(json.dumps({"v": 2}))
    second = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="second")
    sha2 = second.oid
    assert sha2 != sha1
    assert json.loads(Path(hf_hub_download(repo_id, "config.json")).read_text()) == {"v": 2}
    fresh = folder.parent / "fresh-cache"  # sha revisions hit the local cache first: force the server
    old = hf_hub_download(repo_id, "config.json", revision=sha1, cache_dir=fresh)
    assert json.loads(Path(old).read_text()) == {"v": 1}, "old revision must keep old content"

    snap = Path(snapshot_download(repo_id, revision=sha1, cache_dir=fresh))
    assert sorted(p.name for p in snap.iterdir()) == ["config.json", "weights.bin"]
    assert json.loads((snap / "config.json").read_text()) == {"v": 1}
    assert (snap / "weights.bin").read_bytes() == blob
    snap_main = Path(snapshot_download(repo_id))
    assert snap_main.name == sha2 and json.loads((snap_main / "config.json").read_text()) == {"v": 2}

    info = api.model_info(repo_id)
    assert info.sha == sha2 and sorted(s.rfilename for s in info.siblings) == ["config.json", "weights.bin"]
    assert api.model_info(repo_id, revision=sha1).sha == sha1
    assert api.model_info(repo_id, revision=sha1[:7]).sha == sha1

    api.create_branch(repo_id, branch="v1-branch", revision=sha1)
    api.create_tag(repo_id, tag="v1", revision=sha1)
    assert api.model_info(repo_id, revision="v1").sha == sha1
    assert json.loads(Path(hf_hub_download(repo_id, "config.json", revision="v1-branch")).read_text()) == {"v": 1}
    assert [c.commit_id for c in api.list_repo_commits(repo_id)][:2] == [sha2, sha1]
    assert sorted(api.list_repo_files(repo_id)) == ["config.json", "weights.bin"]

    def raises(exc, fn, *a, **kw):
        try:
            fn(*a, **kw)
        except exc:
            return
        raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")

    raises(RepositoryNotFoundError, api.model_info, "test-user/missing")
    raises(RepositoryNotFoundError, hf_hub_download, "test-user/missing", "config.json")
    raises(RevisionNotFoundError, api.model_info, repo_id, revision="nope")
    raises(RevisionNotFoundError, hf_hub_download, repo_id, "config.json", revision="nope")
    raises(EntryNotFoundError, hf_hub_download, repo_id, "absent.json")
    print("OK", sha1, sha2)
    """
)


def _run_client(hub: HubServer, tmp_path, args: list[str], extra_env: dict | None = None):
    env = {**os.environ, **hub.env(cache_dir=str(tmp_path / "hf-cache")), **(extra_env or {})}
    for key, value in list(env.items()):
        if value is None:
            del env[key]
    proc = subprocess.run([sys.executable, "-c", HUB_ROUND_TRIP, *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"client failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.parametrize("xet", ["disabled", "installed"])
def test_hub_round_trip(tmp_path, xet):
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"v": 1}))
    (folder / "weights.bin").write_bytes(os.urandom(600 * 1024))
    with HubServer(token="hf_test_token") as hub:
        # "installed": let huggingface_hub take its default (hf_xet-pipelined) upload path; the
        # server answers uploadMode "regular" for every file, so no Xet transfer ever happens.
        extra = {} if xet == "disabled" else {"HF_HUB_DISABLE_XET": None}
        proc = _run_client(hub, tmp_path, [str(folder)], extra)
        assert proc.stdout.startswith("OK")
        repo = hub.get_repo("test-user/round-trip")
        assert repo.private and len(repo.commits) == 3  # initial + 2 uploads
        assert ("POST", "/api/repos/create") in hub.requests
        assert ("POST", "/api/models/test-user/round-trip/preupload/main") in hub.requests
        assert ("HEAD", "/test-user/round-trip/resolve/main/weights.bin") in hub.requests
        sha1 = proc.stdout.split()[1]
        assert ("GET", f"/test-user/round-trip/resolve/{sha1}/weights.bin") in hub.requests
        assert ("GET", f"/api/models/test-user/round-trip/tree/{sha1}") in hub.requests
        assert not any("xet" in path or "lfs" in path for _, path in hub.requests)


def test_hub_auth_and_errors():
    with HubServer(token="secret") as hub:
        def call(method, path, body=None, token=None):
            req = urllib.request.Request(hub.url + path, data=body, method=method)
            if token:
                req.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(req) as resp:
                    return resp.status, dict(resp.headers), resp.read()
            except urllib.error.HTTPError as e:
                return e.code, dict(e.headers), e.read()

        create = json.dumps({"name": "r", "organization": "test-user"}).encode()
        assert call("POST", "/api/repos/create", create)[0] == 401
        assert call("POST", "/api/repos/create", create, token="secret")[0] == 200
        assert call("POST", "/api/repos/create", create, token="secret")[0] == 409
        status, headers, _ = call("GET", "/api/models/test-user/nope")
        assert status == 404 and headers["X-Error-Code"] == "RepoNotFound"
        status, headers, _ = call("HEAD", "/test-user/r/resolve/main/missing.txt")
        assert status == 404 and headers["X-Error-Code"] == "EntryNotFound" and len(headers["X-Repo-Commit"]) == 40
        status, headers, _ = call("GET", "/test-user/r/resolve/v9/x.txt")
        assert status == 404 and headers["X-Error-Code"] == "RevisionNotFound"
        commit = b"\n".join(json.dumps(x).encode() for x in [
            {"key": "header", "value": {"summary": "add"}},
            {"key": "file", "value": {"path": "a/x.txt", "content": "aGVsbG8=", "encoding": "base64"}},
        ])
        assert call("POST", "/api/models/test-user/r/commit/main", commit)[0] == 401
        status, _, body = call("POST", "/api/models/test-user/r/commit/main", commit, token="secret")
        sha = json.loads(body)["commitOid"]
        status, headers, body = call("GET", f"/test-user/r/resolve/{sha}/a/x.txt")
        assert (status, body, headers["X-Repo-Commit"]) == (200, b"hello", sha)
        assert headers["ETag"] == f'"{git_blob_sha(b"hello")}"' and headers["Content-Length"] == "5"
        tree = json.loads(call("GET", "/api/models/test-user/r/tree/main?recursive=true")[2])
        assert {(e["type"], e["path"]) for e in tree} == {("directory", "a"), ("file", "a/x.txt")}


def test_chroma_server(tmp_path):
    server = ChromaServer(str(tmp_path / "db"))
    with server:
        client = server.client()
        assert client.heartbeat() > 0
        col = client.create_collection("smoke", metadata={"hnsw:space": "cosine"})
        col.add(ids=["a", "b", "c"], documents=["alpha", "beta", "gamma"],
                embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        res = col.query(query_embeddings=[[0.9, 0.1, 0.0]], n_results=2)
        assert res["ids"] == [["a", "b"]]
        assert col.count() == 3
    assert server.process is None
    assert server.log_path.exists()
    with pytest.raises(Exception):
        server.client().heartbeat()
