"""A tiny, in-memory, Hugging Face Hub-compatible HTTP server for tests.

Stdlib only. Good enough for the real ``huggingface_hub`` client (2.4.x) pointed at it with
``HF_ENDPOINT=<server.url>``: create/delete repos, commits (preupload + NDJSON commit, every file
is a "regular" git blob, so neither LFS nor Xet storage is ever involved), repo info, tree
listing, refs/commits listing, branches/tags and ``/resolve`` downloads (HEAD + GET).

Repos are git-like: each commit gets a 40-hex sha and a full file snapshot; branches and tags
point at commits; a revision may be a branch, a tag, a full sha or a unique sha prefix (>= 7).

Usage::

    with HubServer(token="secret") as hub:
        env = hub.env(cache_dir=tmp)   # HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN, ...
        subprocess.run([...], env={**os.environ, **env})
        assert ("POST", "/api/repos/create") in hub.requests
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

USER = "test-user"
_API = re.compile(
    r"^/api/(?P<type>models|datasets|spaces)/(?P<repo>[^/]+(?:/[^/]+)?)"
    r"(?:/(?P<action>revision|preupload|commit|tree|paths-info|refs|commits|branch|tag)(?:/(?P<rest>.*))?)?$"
)
_RESOLVE = re.compile(
    r"^/(?:(?P<type>datasets|spaces)/)?(?P<repo>[^/]+(?:/[^/]+)?)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"
)


def git_blob_sha(data: bytes) -> str:
    """Git blob id, as the Hub reports it (``oid``/``blobId``/``ETag`` of regular files)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.commit = status, message, code, commit


@dataclass
class Commit:
    sha: str
    parent: str | None
    files: dict[str, bytes]
    title: str
    message: str = ""
    date: str = field(default_factory=_now)


@dataclass
class Repo:
    repo_id: str
    repo_type: str  # "model" | "dataset" | "space"
    private: bool = False
    created_at: str = field(default_factory=_now)
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    n_prs: int = 0

    def resolve(self, rev: str) -> Commit:
        sha = self.branches.get(rev) or self.tags.get(rev)
        if sha is None and re.fullmatch(r"[0-9a-f]{7,40}", rev):
            matches = [s for s in self.commits if s.startswith(rev)]
            sha = matches[0] if len(matches) == 1 else None
        if sha is None:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return self.commits[sha]


class HubServer:
    """In-memory Hub on 127.0.0.1 (random port). ``token`` set => writes need ``Bearer <token>``
    (and private repos are only visible with it)."""

    def __init__(self, token: str | None = None, user: str = USER):
        self.token, self.user = token, user
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.url = ""
        self._lock = threading.RLock()
        self._counter = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "HubServer":
        handler = type("HubHandler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = self._thread = None

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def env(self, cache_dir: "str | os.PathLike | None" = None) -> dict[str, str]:
        """Environment for a ``huggingface_hub`` client process talking to this server."""
        env = {
            "HF_ENDPOINT": self.url,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1" if self.token is None else "0",
            "HF_HUB_OFFLINE": "0",
        }
        if self.token is not None:
            env["HF_TOKEN"] = self.token
        if cache_dir is not None:
            env["HF_HUB_CACHE"] = os.fspath(cache_dir)
            env["HF_HOME"] = os.path.join(os.fspath(cache_dir), "hf_home")
        return env

    # ------------------------------------------------------------------ storage helpers
    def _new_commit(self, repo: Repo, parent: Commit | None, files: dict[str, bytes], title: str, message="") -> Commit:
        self._counter += 1
        seed = f"{repo.repo_id}|{parent.sha if parent else ''}|{title}|{time.time_ns()}|{self._counter}"
        commit = Commit(hashlib.sha1(seed.encode()).hexdigest(), parent.sha if parent else None, files, title, message)
        repo.commits[commit.sha] = commit
        return commit

    def get_repo(self, repo_id: str, repo_type: str = "model", authorized: bool = True) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not authorized):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    # ------------------------------------------------------------------ plumbing
    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PUT(self):
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        self.hub.requests.append((method, split.path))
        self.query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        try:
            with self.hub._lock:
                self._route(method, split.path)
        except HubError as e:
            headers = {"X-Error-Message": e.message}
            if e.code:
                headers["X-Error-Code"] = e.code
            if e.commit:
                headers["X-Repo-Commit"] = e.commit
            self._send(e.status, json.dumps({"error": e.message}).encode(), headers, "application/json")
        except Exception as e:  # pragma: no cover - server bug => 500 with message
            self._send(500, json.dumps({"error": repr(e)}).encode(), {}, "application/json")

    def _send(self, status: int, body: bytes, headers: dict | None = None, ctype="application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode())

    def _authorized(self) -> bool:
        return self.hub.token is None or self.headers.get("Authorization") == f"Bearer {self.hub.token}"

    def _require_write(self) -> None:
        if not self._authorized():
            raise HubError(401, "Invalid credentials in Authorization header")

    # ------------------------------------------------------------------ routing
    def _route(self, method: str, path: str) -> None:
        hub = self.hub
        if path == "/api/whoami-v2" and method == "GET":
            if self.hub.token is not None and not self._authorized():
                raise HubError(401, "Invalid credentials in Authorization header")
            return self._json({
                "type": "user", "id": "0" * 24, "name": hub.user, "fullname": "Test User",
                "email": f"{hub.user}@example.com", "emailVerified": True, "isPro": False, "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": "write"}},
            })
        if path == "/api/repos/create" and method == "POST":
            return self._create_repo()
        if path == "/api/validate-yaml" and method == "POST":  # README.md metadata check
            content = json.loads(self.body or b"{}").get("content", "")
            ok = not content.startswith("---") or content.count("---") >= 2
            return self._json({"errors": [] if ok else [{"message": "unterminated YAML"}],
                               "warnings": []})
        if path == "/api/repos/delete" and method == "DELETE":
            self._require_write()
            payload = json.loads(self.body or b"{}")
            repo_id = f"{payload.get('organization') or hub.user}/{payload['name']}"
            hub.get_repo(repo_id, payload.get("type") or "model", self._authorized())
            del hub.repos[(payload.get("type") or "model", repo_id)]
            return self._json({})
        if m := _API.match(path):
            repo = hub.get_repo(unquote(m["repo"]), m["type"][:-1], self._authorized())
            action, rest = m["action"], unquote(m["rest"] or "")
            if action is None and method == "GET":
                return self._repo_info(repo, None)
            if action == "revision" and method == "GET":
                return self._repo_info(repo, rest)
            if action in ("preupload", "commit", "branch", "tag") and method in ("POST", "DELETE"):
                self._require_write()
                return getattr(self, "_" + action)(repo, *self._split_rest(m["rest"]), method=method)
            if action == "tree" and method == "GET":
                return self._tree(repo, *self._split_rest(m["rest"]))
            if action == "paths-info" and method == "POST":
                return self._paths_info(repo, rest)
            if action == "refs" and method == "GET":
                return self._refs(repo)
            if action == "commits" and method == "GET":
                return self._commits(repo, rest or "main")
        if (m := _RESOLVE.match(path)) and method in ("GET", "HEAD"):
            repo_type = (m["type"] or "models")[:-1]
            repo = hub.get_repo(unquote(m["repo"]), repo_type, self._authorized())
            return self._resolve(repo, unquote(m["rev"]), unquote(m["path"]))
        raise HubError(404, f"Not found: {method} {path}")

    @staticmethod
    def _split_rest(rest: str | None) -> tuple[str, str]:
        """'<quoted rev>[/<path>]' -> (rev, path)."""
        rev, _, sub = (rest or "").partition("/")
        return unquote(rev) or "main", unquote(sub)

    # ------------------------------------------------------------------ endpoints
    def _create_repo(self) -> None:
        self._require_write()
        hub, payload = self.hub, json.loads(self.body or b"{}")
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or hub.user}/{payload['name']}"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{hub.url}/{prefix}{repo_id}"
        if (repo_type, repo_id) in hub.repos:  # the client reads "url" even from the 409 (exist_ok=True)
            body = {"error": f"You already created this {repo_type} repo", "url": url}
            return self._send(409, json.dumps(body).encode(), {"X-Error-Message": body["error"]})
        private = (payload.get("visibility") or "public") != "public" or bool(payload.get("private"))
        repo = Repo(repo_id, repo_type, private=private)
        repo.branches["main"] = hub._new_commit(repo, None, {}, "initial commit").sha
        hub.repos[(repo_type, repo_id)] = repo
        self._json({"url": url, "name": repo_id, "id": repo_id}, 200)

    def _repo_info(self, repo: Repo, rev: str | None) -> None:
        commit = repo.resolve(rev or "main")
        siblings = [
            {"rfilename": p, "size": len(d), "blobId": git_blob_sha(d)} for p, d in sorted(commit.files.items())
        ]
        self._json({
            "_id": repo.repo_id, "id": repo.repo_id, "modelId": repo.repo_id, "author": repo.repo_id.split("/")[0],
            "sha": commit.sha, "lastModified": commit.date, "createdAt": repo.created_at,
            "private": repo.private, "disabled": False, "gated": False, "downloads": 0, "likes": 0,
            "tags": [], "siblings": siblings, "usedStorage": sum(len(d) for d in commit.files.values()),
        })

    def _preupload(self, repo: Repo, rev: str, _sub: str, method: str) -> None:
        files = json.loads(self.body or b"{}").get("files", [])
        try:
            existing = repo.resolve(rev).files
        except HubError:
            existing = {}  # e.g. branch to be created by the commit
        out = []
        for f in files:
            old = existing.get(f["path"])
            oid = git_blob_sha(old) if old is not None else None
            # Always "regular": file contents travel base64-encoded in the commit payload (no LFS/Xet).
            out.append({"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": oid})
        self._json({"files": out})

    def _commit(self, repo: Repo, rev: str, _sub: str, method: str) -> None:
        hub = self.hub
        lines = [json.loads(line) for line in self.body.splitlines() if line.strip()]
        header = next((item["value"] for item in lines if item["key"] == "header"), {})
        pr_url = None
        if self.query.get("create_pr") in ("1", "true", "True"):
            base = repo.resolve(rev)
            repo.n_prs += 1
            branch = f"refs/pr/{repo.n_prs}"
            prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
            pr_url = f"{hub.url}/{prefix}{repo.repo_id}/discussions/{repo.n_prs}"
        elif rev in repo.branches:
            base, branch = repo.commits[repo.branches[rev]], rev
        else:
            raise HubError(404, f"Invalid rev id: {rev} (commits must target a branch)", "RevisionNotFound")
        parent_req = header.get("parentCommit")
        if parent_req and not base.sha.startswith(parent_req):
            raise HubError(412, f"A commit has happened since. Please refresh and try again ({base.sha})")
        files = dict(base.files)
        for item in lines:
            key, value = item["key"], item.get("value", {})
            if key == "file":
                content = value["content"]
                files[value["path"]] = (
                    base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
                )
            elif key == "lfsFile":
                raise HubError(400, f"LFS is not supported by this test server: {value.get('path')}")
            elif key == "deletedFile":
                if value["path"] not in files:
                    raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                del files[value["path"]]
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {p: d for p, d in files.items() if not p.startswith(folder)}
        commit = hub._new_commit(repo, base, files, header.get("summary", ""), header.get("description", ""))
        repo.branches[branch] = commit.sha
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        self._json({
            "success": True, "commitOid": commit.sha, "pullRequestUrl": pr_url,
            "commitUrl": f"{hub.url}/{prefix}{repo.repo_id}/commit/{commit.sha}",
        })

    def _branch(self, repo: Repo, name: str, _sub: str, method: str) -> None:
        if method == "DELETE":
            if name == "main" or name not in repo.branches:
                raise HubError(403 if name == "main" else 404, f"Cannot delete branch {name}")
            del repo.branches[name]
            return self._json({})
        if name in repo.branches:
            raise HubError(409, f"Reference already exists: refs/heads/{name}")
        start = json.loads(self.body or b"{}").get("startingPoint") or "main"
        repo.branches[name] = repo.resolve(start).sha
        self._json({})

    def _tag(self, repo: Repo, rev: str, _sub: str, method: str) -> None:
        if method == "DELETE":  # DELETE /tag/{tag}
            if repo.tags.pop(rev, None) is None:
                raise HubError(404, f"Tag {rev} not found", "RevisionNotFound")
            return self._json({})
        tag = json.loads(self.body or b"{}")["tag"]
        if tag in repo.tags:
            raise HubError(409, f"Tag {tag} already exists")
        repo.tags[tag] = repo.resolve(rev).sha
        self._json({})

    @staticmethod
    def _entries(files: dict[str, bytes], base: str, recursive: bool) -> list[dict]:
        prefix = base.strip("/") + "/" if base.strip("/") else ""
        out: dict[str, dict] = {}
        for path, data in sorted(files.items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix):].split("/")
            for i in range(1, len(parts)):  # intermediate folders
                folder = prefix + "/".join(parts[:i])
                if recursive or i == 1:
                    oid = hashlib.sha1(folder.encode()).hexdigest()
                    out.setdefault(folder, {"type": "directory", "oid": oid, "size": 0, "path": folder})
            if recursive or len(parts) == 1:
                out[path] = {"type": "file", "oid": git_blob_sha(data), "size": len(data), "path": path}
        return list(out.values())

    def _tree(self, repo: Repo, rev: str, sub: str) -> None:
        commit = repo.resolve(rev)
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        entries = self._entries(commit.files, sub, recursive)
        if sub and not entries and sub not in commit.files:
            raise HubError(404, f"{sub} does not exist on {rev}", "EntryNotFound", commit.sha)
        self._json(entries)

    def _paths_info(self, repo: Repo, rev: str) -> None:
        commit = repo.resolve(rev or "main")
        ctype = self.headers.get("Content-Type", "")
        form = json.loads(self.body) if "json" in ctype else parse_qs(self.body.decode())
        paths = form.get("paths", [])
        paths = [paths] if isinstance(paths, str) else paths
        out = []
        for p in paths:
            if p in commit.files:
                d = commit.files[p]
                out.append({"type": "file", "oid": git_blob_sha(d), "size": len(d), "path": p})
            elif any(f.startswith(p.rstrip("/") + "/") for f in commit.files):
                out.append({"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(), "size": 0, "path": p})
        self._json(out)

    def _refs(self, repo: Repo) -> None:
        def refs(d: dict, kind: str) -> list[dict]:
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": s} for n, s in sorted(d.items())]

        branches = {n: s for n, s in repo.branches.items() if not n.startswith("refs/pr/")}
        prs = [{"name": n, "ref": n, "targetCommit": s} for n, s in repo.branches.items() if n.startswith("refs/pr/")]
        self._json({"branches": refs(branches, "heads"), "tags": refs(repo.tags, "tags"), "converts": [],
                    "pullRequests": prs})

    def _commits(self, repo: Repo, rev: str) -> None:
        commit, out = repo.resolve(rev), []
        while commit is not None:
            out.append({"id": commit.sha, "authors": [{"user": self.hub.user}], "date": commit.date,
                        "title": commit.title, "message": commit.message})
            commit = repo.commits.get(commit.parent) if commit.parent else None
        self._json(out)

    def _resolve(self, repo: Repo, rev: str, path: str) -> None:
        commit = repo.resolve(rev)
        data = commit.files.get(path)
        if data is None:
            raise HubError(404, "Entry not found", "EntryNotFound", commit.sha)
        etag = git_blob_sha(data)
        headers = {"X-Repo-Commit": commit.sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        status, rng = 200, self.headers.get("Range")
        if rng and (m := re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())) and self.command == "GET":
            start = int(m[1]) if m[1] else max(len(data) - int(m[2] or 0), 0)
            end = int(m[2]) if m[1] and m[2] else len(data) - 1
            if start >= len(data):
                raise HubError(416, "Requested range not satisfiable")
            headers["Content-Range"] = f"bytes {start}-{min(end, len(data) - 1)}/{len(data)}"
            data, status = data[start:end + 1], 206
        self._send(status, data, headers, "application/octet-stream")
