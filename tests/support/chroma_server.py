"""Start a real ``chroma run`` server (chromadb's bundled Rust server) for tests.

Usage::

    with ChromaServer(str(tmp_path / "chroma")) as server:
        client = server.client()          # chromadb.HttpClient
        client.heartbeat()
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HEARTBEAT_PATH = "/api/v2/heartbeat"  # chromadb >= 0.6 / 1.x (v1 API is gone in 1.x)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def chroma_executable() -> str:
    """The ``chroma`` CLI of the running interpreter's environment (falls back to PATH)."""
    candidate = Path(sys.executable).parent / ("chroma.exe" if os.name == "nt" else "chroma")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("chroma")
    if found is None:
        raise RuntimeError("`chroma` executable not found next to sys.executable nor on PATH (pip install chromadb)")
    return found


class ChromaServer:
    """``chroma run --path PATH --host HOST --port PORT`` in a subprocess; log in ``<parent of PATH>/``."""

    def __init__(self, path: str, host: str = "127.0.0.1", port: int | None = None):
        self.path = str(path)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.log_path = Path(self.path).parent / f"chroma-server-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self._log_file = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 60) -> "ChromaServer":
        if self.process is not None:
            raise RuntimeError("ChromaServer already started")
        Path(self.path).mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "ab")
        cmd = [chroma_executable(), "run", "--path", self.path, "--host", self.host, "--port", str(self.port)]
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self.process = subprocess.Popen(
            cmd, stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise RuntimeError(f"chroma server exited early (code {code}): {' '.join(cmd)}\n{self.log_tail()}")
            if self._heartbeat():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"chroma server did not answer {HEARTBEAT_PATH} within {timeout}s\n{self.log_tail()}")

    def _heartbeat(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + HEARTBEAT_PATH, timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def client(self):
        import chromadb

        return chromadb.HttpClient(host=self.host, port=self.port)

    def __enter__(self) -> "ChromaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
