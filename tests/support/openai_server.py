"""A small OpenAI-compatible chat-completions server for tests, with fault injection.

Serves ``POST /v1/chat/completions`` on 127.0.0.1 (a free port) from a thread. The answer is
deterministic: N questions derived from the chunk found between ``<passage>`` tags of the last
user message (N from "exactly N"; questions already listed between ``<existing>`` tags are
skipped, so top-up requests get new ones), with ``usage`` token counts (words, roughly).

Faults::

    server = FakeOpenAIServer()
    server.add_faults("429", "500", "hang")       # consumed one per request, in order, any chunk
    server.fail_chunk("CHUNK-7")                   # every request whose chunk contains it -> 500
    server.fault_for_chunk("CHUNK-3", "not_json")  # the next request for that chunk only

Fault kinds: ``"429"`` (with ``Retry-After``/``retry-after-ms`` from ``retry_after``), ``"500"``,
``"503"``, ``"hang"`` (sleeps ``hang_seconds`` before answering, past a short client timeout),
``"drop"`` (closes the socket without a response), ``"not_json"`` (200 with non-JSON content),
``"too_few"`` (half the questions), ``"duplicates"`` (N entries, only half distinct),
``"quota"`` (429 insufficient_quota), ``"401"``.

Counters: ``requests`` (every POST), ``completed`` (200 answers with questions),
``requests_by_chunk`` and ``log`` (time, chunk label, fault) for timing checks.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PASSAGE = re.compile(r"<passage>\n(.*?)\n</passage>", re.S)
_EXISTING = re.compile(r"<existing>\n(.*?)\n</existing>", re.S)
_N = re.compile(r"exactly (\d+)")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{3,}")


def fake_questions(chunk: str, n: int, start: int = 0) -> list[str]:
    """Deterministic, distinct questions about ``chunk``: numbers ``start+1 .. start+n``."""
    words = _WORD.findall(chunk) or ["topic"]
    tag = hashlib.sha256(chunk.encode()).hexdigest()[:6]
    out = []
    for k in range(start, start + n):
        w = words[k % len(words)]
        out.append(f"What do they say about {w.lower()} (q{k + 1}, {tag})?")
    return out


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and went away is expected here


class FakeOpenAIServer:
    def __init__(self, *, retry_after: str = "0.05", retry_after_ms: str | None = None,
                 hang_seconds: float = 3.0, delay: float = 0.0):
        self.retry_after = retry_after
        self.retry_after_ms = retry_after_ms
        self.hang_seconds = hang_seconds
        self.delay = delay  # seconds before every answer (to slow a run down)
        self.lock = threading.Lock()
        self.requests = 0
        self.completed = 0
        self.requests_by_chunk: dict[str, int] = defaultdict(int)
        self.log: list[tuple[float, str, str | None]] = []
        self._faults: deque[str] = deque()
        self._chunk_faults: dict[str, deque[str]] = defaultdict(deque)
        self._always_fail: dict[str, str] = {}
        self._closing = threading.Event()
        self.httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    # -- setup ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "FakeOpenAIServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def add_faults(self, *kinds: str) -> None:
        with self.lock:
            self._faults.extend(kinds)

    def fault_for_chunk(self, marker: str, *kinds: str) -> None:
        with self.lock:
            self._chunk_faults[marker].extend(kinds)

    def fail_chunk(self, marker: str, kind: str = "500") -> None:
        """Every request whose chunk contains ``marker`` gets ``kind``."""
        with self.lock:
            self._always_fail[marker] = kind

    def reset_counters(self) -> None:
        with self.lock:
            self.requests = 0
            self.completed = 0
            self.requests_by_chunk.clear()
            self.log.clear()

    # -- serving -------------------------------------------------------------------------------

    def _pick_fault(self, chunk: str) -> str | None:
        with self.lock:
            for marker, kind in self._always_fail.items():
                if marker in chunk:
                    return kind
            for marker, queue in self._chunk_faults.items():
                if queue and marker in chunk:
                    return queue.popleft()
            if self._faults:
                return self._faults.popleft()
        return None

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def _error(self, status: int, message: str, code: str | None = None,
                       headers: dict[str, str] | None = None) -> None:
                self._send_json(status, {"error": {"message": message, "type": "test_fault",
                                                   "param": None, "code": code}}, headers)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                    self._error(404, f"no route {self.path}")
                    return
                try:
                    payload = json.loads(raw)
                    user = [m for m in payload["messages"] if m.get("role") == "user"][-1]["content"]
                except (ValueError, KeyError, IndexError, TypeError):
                    self._error(400, "bad request body")
                    return
                m = _PASSAGE.search(user)
                chunk = m.group(1) if m else user
                m = _N.search(user)
                n = int(m.group(1)) if m else 20
                m = _EXISTING.search(user)
                existing = json.loads(m.group(1)) if m else []
                fault = server._pick_fault(chunk)
                label = chunk[:40]
                with server.lock:
                    server.requests += 1
                    server.requests_by_chunk[label] += 1
                    server.log.append((time.monotonic(), label, fault))
                if server.delay:
                    server._closing.wait(server.delay)

                if fault == "429":
                    headers = {"Retry-After": server.retry_after}
                    if server.retry_after_ms is not None:
                        headers["retry-after-ms"] = server.retry_after_ms
                    self._error(429, "Rate limit reached (test)", "rate_limit_exceeded", headers)
                    return
                if fault == "quota":
                    self._error(429, "You exceeded your current quota (test)", "insufficient_quota")
                    return
                if fault == "401":
                    self._error(401, "Incorrect API key provided (test)", "invalid_api_key")
                    return
                if fault in ("500", "503"):
                    self._error(int(fault), "The server had an error (test)")
                    return
                if fault == "hang":
                    server._closing.wait(server.hang_seconds)
                if fault == "drop":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return

                questions = fake_questions(chunk, n, start=len(existing))
                if fault == "too_few":
                    questions = questions[: max(1, n // 2)]
                elif fault == "duplicates":
                    half = questions[: max(1, (n + 1) // 2)]
                    questions = (half * 2)[:n]
                if fault == "not_json":
                    content = "Sure! Here are your questions: question_1 = what is it"
                else:
                    content = json.dumps({f"question_{i + 1}": q for i, q in enumerate(questions)})
                prompt_tokens = sum(len(msg.get("content", "").split()) for msg in payload["messages"])
                completion_tokens = len(content.split())
                with server.lock:
                    server.completed += 1
                self._send_json(200, {
                    "id": f"chatcmpl-test{server.requests}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": payload.get("model", "test"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                              "total_tokens": prompt_tokens + completion_tokens},
                })

        return Handler
