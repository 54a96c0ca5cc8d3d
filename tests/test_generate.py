"""Question generation against a fake OpenAI-compatible server (real ``openai`` client)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chroma_adapter.cli import main as chroma_adapter_cli
from tests.support.openai_server import FakeOpenAIServer
from trainer import generate as gen
from trainer.pseudo_queries import generate_pseudo_dataset

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CHROMA_ADAPTER_DATA", REPO.parent / "shared" / "data"))
APPLE = SHARED_DATA / "apple_QA_dataset.json"

FAST = ["--backoff-base", "0.01", "--backoff-max", "0.05", "--timeout", "1", "--no-progress"]


def make_chunks(count: int) -> list[str]:
    """Small chunks, each with enough prose for a few distinct offline pseudo-queries too."""
    return [
        f"CHUNK-{i:03d}. In fiscal {2000 + i} revenue from data center products grew {i + 3} percent. "
        f"Gaming demand for unit {i} stayed strong while supply constraints eased in the second half."
        for i in range(count)
    ]


def write_chunks_file(path: Path, chunks: list[str]) -> Path:
    path.write_text(json.dumps([{"chunk_index": i, "input_chunk": c, "questions": {}}
                                for i, c in enumerate(chunks)]))
    return path


def assert_seed_format(data, chunks, n):
    assert isinstance(data, list) and len(data) == len(chunks)
    for i, (rec, chunk) in enumerate(zip(data, chunks)):
        assert set(rec) == {"chunk_index", "input_chunk", "questions"}
        assert rec["chunk_index"] == i and rec["input_chunk"] == chunk
        qs = rec["questions"]
        assert list(qs) == [f"question_{j}" for j in range(1, n + 1)]
        assert all(isinstance(q, str) and q.strip() for q in qs.values())
        assert len({q.lower() for q in qs.values()}) == n


@pytest.fixture
def server():
    with FakeOpenAIServer(hang_seconds=3.0) as srv:
        yield srv


@pytest.fixture
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def cli(server, chunks_file, out, *extra):
    return chroma_adapter_cli(["generate", "--chunks", str(chunks_file), "--output", str(out),
                               "--base-url", server.base_url, *FAST, *extra])


def test_cli_complete_dataset_in_seed_format(tmp_path, server, api_key, capsys):
    chunks = make_chunks(6)
    out = tmp_path / "dataset.json"
    assert cli(server, write_chunks_file(tmp_path / "in.json", chunks), out, "-n", "5") == 0
    assert_seed_format(json.loads(out.read_text()), chunks, 5)
    assert server.requests == 6
    err = capsys.readouterr().err
    assert "generate: 6/6 chunks ok (6 new, 0 cached), 0 failed | 6 requests, 0 retries" in err
    assert "cost $" in err  # gpt-4o-mini has a price
    assert not list(tmp_path.glob(".dataset.json.*.tmp"))  # atomic write left no temp file
    cache_lines = (tmp_path / "dataset.json.cache.jsonl").read_text().splitlines()
    assert len(cache_lines) == 6


def test_faults_are_retried(tmp_path, server, api_key):
    chunks = make_chunks(8)
    faults = ["429", "500", "503", "hang", "drop", "not_json", "too_few", "duplicates"]
    server.add_faults(*faults)
    report = gen.generate_dataset(
        chunks, n=6, concurrency=3, base_url=server.base_url, output_path=tmp_path / "d.json",
        max_retries=4, timeout=0.5, backoff_base=0.01, backoff_max=0.05, progress=False)
    assert report.ok, report.failures
    assert_seed_format(json.loads((tmp_path / "d.json").read_text()), chunks, 6)
    assert server.requests == len(chunks) + len(faults)
    assert report.requests == server.requests
    assert report.retries == 5  # 429, 500, 503, timeout, dropped connection
    assert report.reasks == 3  # invalid JSON, too few, duplicates (topped up)
    assert report.prompt_tokens > 0 and report.completion_tokens > 0


@pytest.mark.parametrize("header", ["retry-after", "retry-after-ms"])
def test_429_honours_retry_after(tmp_path, header):
    kwargs = {"retry_after": "0.4"} if header == "retry-after" else {"retry_after": "0", "retry_after_ms": "400"}
    with FakeOpenAIServer(**kwargs) as srv:
        srv.add_faults("429")
        report = gen.generate_dataset(
            make_chunks(1), n=3, concurrency=1, base_url=srv.base_url, api_key="sk-test",
            backoff_base=0.001, backoff_max=0.001, progress=False)
        assert report.ok and report.retries == 1
        (t0, _, fault0), (t1, _, fault1) = srv.log
        assert fault0 == "429" and fault1 is None
        assert t1 - t0 >= 0.4


def test_rerun_after_completion_makes_no_request(tmp_path, server, api_key, capsys):
    chunks = make_chunks(5)
    chunks_file = write_chunks_file(tmp_path / "in.json", chunks)
    out = tmp_path / "dataset.json"
    assert cli(server, chunks_file, out, "-n", "4") == 0
    first = out.read_text()
    server.reset_counters()
    assert cli(server, chunks_file, out, "-n", "4") == 0
    assert server.requests == 0
    assert out.read_text() == first
    assert "5/5 chunks ok (0 new, 5 cached), 0 failed | 0 requests" in capsys.readouterr().err


def test_changed_settings_are_not_served_from_cache(tmp_path, server, api_key):
    chunks = make_chunks(3)
    chunks_file = write_chunks_file(tmp_path / "in.json", chunks)
    out = tmp_path / "dataset.json"
    assert cli(server, chunks_file, out, "-n", "4") == 0
    server.reset_counters()
    assert cli(server, chunks_file, out, "-n", "5") == 0  # another N: another cache key
    assert server.requests == 3
    assert_seed_format(json.loads(out.read_text()), chunks, 5)


def test_killed_run_resumes(tmp_path, api_key):
    count, concurrency = 24, 2
    chunks = make_chunks(count)
    chunks_file = write_chunks_file(tmp_path / "in.json", chunks)
    out = tmp_path / "dataset.json"
    cache = Path(str(out) + ".cache.jsonl")
    with FakeOpenAIServer(delay=0.1) as srv:
        cmd = [sys.executable, "-m", "chroma_adapter.cli", "generate", "--chunks", str(chunks_file),
               "--output", str(out), "--base-url", srv.base_url, "-n", "3",
               "--concurrency", str(concurrency), *FAST]
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if cache.exists() and len(cache.read_text().splitlines()) >= 6:
                    break
                assert proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        assert not out.exists()
        done_before = len(cache.read_text().splitlines())
        assert 6 <= done_before < count
        # as if killed in the middle of writing a line
        with cache.open("a") as fh:
            fh.write('{"key": "0123abcd", "questions": ["half a li')

        assert chroma_adapter_cli(["generate", "--chunks", str(chunks_file), "--output", str(out),
                                   "--base-url", srv.base_url, "-n", "3",
                                   "--concurrency", str(concurrency), *FAST]) == 0
        assert srv.requests <= count + concurrency
        assert srv.completed <= count + concurrency
    assert_seed_format(json.loads(out.read_text()), chunks, 3)
    lines = cache.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # the torn line was cut off
    assert len(lines) >= count


def test_permanently_failing_chunk(tmp_path, server, api_key, capsys):
    chunks = make_chunks(6)
    chunks_file = write_chunks_file(tmp_path / "in.json", chunks)
    out = tmp_path / "dataset.json"
    server.fail_chunk("CHUNK-003")
    assert cli(server, chunks_file, out, "-n", "4", "--max-retries", "2") == 1
    err = capsys.readouterr().err
    assert "chunk 3: HTTP 500" in err
    assert "NOT written" in err and "rerun" in err
    assert "5/6 chunks ok (5 new, 0 cached), 1 failed" in err
    assert not out.exists()
    cached = [json.loads(line) for line in (tmp_path / "dataset.json.cache.jsonl").read_text().splitlines()]
    assert len(cached) == 5
    assert server.requests_by_chunk[chunks[3][:40]] == 3  # 1 + 2 retries

    # the server recovers: a rerun asks only for the failed chunk
    server._always_fail.clear()
    server.reset_counters()
    assert cli(server, chunks_file, out, "-n", "4") == 0
    assert server.requests == 1
    assert_seed_format(json.loads(out.read_text()), chunks, 4)


def test_auth_error_stops_the_run(tmp_path, server, api_key, capsys):
    chunks = make_chunks(10)
    server.fail_chunk("CHUNK", "401")
    assert cli(server, write_chunks_file(tmp_path / "in.json", chunks), tmp_path / "d.json",
               "--concurrency", "2") == 1
    assert server.requests <= 2  # no retries, no further chunks
    err = capsys.readouterr().err
    assert "stopped: HTTP 401" in err


def test_missing_api_key(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    chunks_file = write_chunks_file(tmp_path / "in.json", make_chunks(2))
    assert chroma_adapter_cli(["generate", "--chunks", str(chunks_file),
                               "--output", str(tmp_path / "d.json")]) == 1
    assert "OPENAI_API_KEY" in capsys.readouterr().err


def test_bad_chunks_file(tmp_path, api_key, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    assert chroma_adapter_cli(["generate", "--chunks", str(bad), "--output", str(tmp_path / "d.json")]) == 1
    assert "bad.json" in capsys.readouterr().err


def test_parse_questions():
    assert gen.parse_questions('{"question_2": "B?", "question_1": "A?"}') == ["A?", "B?"]
    assert gen.parse_questions('```json\n{"questions": ["A?", " a? ", "", 3, "C?"]}\n```') == ["A?", "C?"]
    assert gen.parse_questions('{"q1": "A?", "q2": "B?"}', existing=["a"]) == ["B?"]
    for bad in ["not json", "", "[1", '"just a string"']:
        with pytest.raises(gen.InvalidResponse):
            gen.parse_questions(bad)


def test_cache_ignores_torn_and_invalid_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"key": "a", "questions": ["x"]}\nnot json\n{"key": "b", "questions": ["y"]}\n{"key": "c", "qu')
    cache = gen.QuestionCache(path)
    assert cache.get("a") == ["x"] and cache.get("b") == ["y"] and cache.get("c") is None
    assert cache.skipped_lines == 2
    cache.put("d", {"questions": ["z"]})
    cache.close()
    again = gen.QuestionCache(path)
    assert again.get("d") == ["z"] and len(again) == 3


def test_cost_table():
    assert gen.estimate_cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert gen.estimate_cost("some-local-model", 10, 10) is None
    report = gen.GenerationReport(model="some-local-model", n=3)
    assert "cost" not in report.summary_line()


# --- offline -----------------------------------------------------------------------------------


def test_offline_cli_deterministic_seed_format(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # not needed offline
    chunks = make_chunks(4)
    chunks_file = write_chunks_file(tmp_path / "in.json", chunks)
    outs = []
    for name, seed in [("a.json", "1"), ("b.json", "1"), ("c.json", "2")]:
        assert chroma_adapter_cli(["generate", "--chunks", str(chunks_file),
                                   "--output", str(tmp_path / name),
                                   "--offline", "--seed", seed, "-n", "5"]) == 0
        outs.append(json.loads((tmp_path / name).read_text()))
    assert outs[0] == outs[1] and outs[0] != outs[2]
    # offline default: 60 per chunk (they are free; the LLM default stays 20)
    assert chroma_adapter_cli(["generate", "--chunks", str(chunks_file),
                               "--output", str(tmp_path / "d.json"), "--offline"]) == 0
    assert all(len(r["questions"]) == 60 for r in json.loads((tmp_path / "d.json").read_text()))
    assert_seed_format(outs[0], chunks, 5)
    assert not (tmp_path / "a.json.cache.jsonl").exists()


@pytest.mark.skipif(not APPLE.is_file(), reason=f"{APPLE} not found")
def test_offline_on_real_chunks():
    data = json.loads(APPLE.read_text())
    chunks = [r["input_chunk"] for r in data]
    a = generate_pseudo_dataset(chunks, n=20, seed=0)
    b = generate_pseudo_dataset(chunks, n=20, seed=0)
    c = generate_pseudo_dataset(chunks, n=20, seed=1)
    assert a == b and a != c
    for rec, chunk in zip(a, chunks):
        assert rec["input_chunk"] == chunk and len(rec["questions"]) == 20
        words = " ".join(chunk.split())
        for q in rec["questions"].values():
            assert 4 <= len(q.split()) <= 25, q
            # the chunk's own words, in order (a span, some words dropped)
            at = 0
            for w in q.split():
                at = words.find(w, at)
                assert at >= 0, (w, q)
                at += len(w)
    # distinct wherever the chunk has enough prose (all but the tiniest chunks)
    distinct = sum(len(set(r["questions"].values())) == 20 for r in a)
    assert distinct >= 0.95 * len(a)
    # chunk_index kept from the input
    d = generate_pseudo_dataset(chunks[:3], n=2, seed=0, chunk_indices=[7, 8, 9])
    assert [r["chunk_index"] for r in d] == [7, 8, 9]


def test_offline_sentence_splitting():
    from trainer.pseudo_queries import split_sentences

    text = ("In 2023, 56 percent of the cobalt shipped in batteries came from \nrecycled "
            "sources.11 Remove plastics from our packaging by 2025.12Ongoing Our product "
            "packaging contains only 3 percent plastic.")
    assert split_sentences(text) == [
        "In 2023, 56 percent of the cobalt shipped in batteries came from recycled sources.",
        "Remove plastics from our packaging by 2025.",
        "Ongoing Our product packaging contains only 3 percent plastic.",
    ]
