"""Generate training questions for each chunk: an LLM (OpenAI-compatible API) or ``--offline``.

Output is the *seed format* (the reference dataset's): a JSON list of
``{"chunk_index": int, "input_chunk": str, "questions": {"question_1": str, ...}}``.

LLM path (``chroma-adapter generate --pdf report.pdf --output dataset.json``):

* one chat request per chunk through the official ``openai`` client (``OPENAI_API_KEY``;
  ``--base-url``/``OPENAI_BASE_URL`` for any compatible server), JSON mode, temperature 1.0;
* the answer must be a JSON object with N distinct non-empty questions; invalid JSON is asked
  again, too few or duplicated questions are topped up by asking for only the missing ones
  (``--max-attempts`` content attempts per chunk);
* transport faults (429 honouring ``Retry-After``/``retry-after-ms``, 408/409/5xx, timeouts,
  dropped connections) are retried with exponential backoff and jitter (``--max-retries``); a
  429 pauses every worker, not just the one that got it. Auth errors, an unknown model and an
  exhausted quota stop the run at once (retrying cannot help);
* resumable: each finished chunk is appended to a JSONL cache (``<output>.cache.jsonl``) at
  once, flushed and fsynced, keyed by sha256(chunk, model, prompt version, N). A rerun after
  Ctrl-C, a kill or a crash asks only for the chunks not in the cache (a half-written last line
  is dropped); a rerun over a finished cache makes no request at all;
* the dataset is written (atomically) only when every chunk has its questions; otherwise the
  failed chunks are listed, the exit code is 1 and a rerun retries only those.

Offline path (``--offline``): no network, pseudo-queries cut from each chunk's own sentences
(see :mod:`trainer.pseudo_queries`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Sequence

from .data import write_dataset
from .pseudo_queries import DEFAULT_N as OFFLINE_DEFAULT_N

PROMPT_VERSION = "v1"
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_N = 20

# USD per 1M tokens (input, output), published list prices. Unknown model -> no cost shown.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o-mini-2024-07-18": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}

SYSTEM_PROMPT = (
    "You write realistic search questions that people type into a question-answering "
    "assistant. You always answer with one JSON object and nothing else."
)

_USER_TEMPLATE = """Below is a passage from a document collection, between <passage> tags.

<passage>
{chunk}
</passage>

Write exactly {n} different questions that a real user of a search or Q&A assistant over these documents might ask, and that this passage answers.

Guidelines:
1. Find the key topics, facts and figures of the passage and ask about them; vary the focus and the wording (what / how much / when / why / is there / can you tell me..., and a few short keyword-style queries).
2. Write like real users: natural, sometimes casual, occasionally with a typo or a colloquialism.
3. Stay semantically close to the passage WITHOUT copying its sentences or distinctive phrases; do not include the answers.
4. Do not mention any company or organisation name (say "they", "the company", ...).
5. Every question must stand on its own: never refer to "the passage", "the text" or "this document".
{existing}
Return a JSON object with exactly {n} entries and nothing else:
{{"question_1": "...", "question_2": "...", ..., "question_{n}": "..."}}"""

_EXISTING_TEMPLATE = """
These questions were already written; every new question must differ from all of them:
<existing>
{existing_json}
</existing>
"""


def build_messages(chunk: str, n: int, existing: Sequence[str] = ()) -> list[dict[str, str]]:
    """The chat messages asking for ``n`` questions about ``chunk`` (different from ``existing``)."""
    extra = ""
    if existing:
        extra = _EXISTING_TEMPLATE.format(existing_json=json.dumps(list(existing), ensure_ascii=False))
    user = _USER_TEMPLATE.format(chunk=chunk, n=n, existing=extra)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def cache_key(chunk: str, model: str, n: int, prompt_version: str = PROMPT_VERSION) -> str:
    payload = json.dumps([chunk, model, prompt_version, n], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    price = PRICES_PER_MTOK.get(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


# --- response validation ------------------------------------------------------------------------


class InvalidResponse(ValueError):
    """The model's answer is not a JSON object of questions."""


_WS = re.compile(r"\s+")
_NORM = re.compile(r"[^0-9a-z]+")


def _norm_key(question: str) -> str:
    return _NORM.sub(" ", question.lower()).strip()


def _question_values(obj: Any) -> list[Any]:
    if isinstance(obj, list):
        return obj
    if not isinstance(obj, dict):
        raise InvalidResponse(f"expected a JSON object, got {type(obj).__name__}")
    if len(obj) == 1:
        (only,) = obj.values()
        if isinstance(only, (list, dict)):  # {"questions": [...]} or {"questions": {...}}
            return _question_values(only)

    def order(item: tuple[str, Any]) -> tuple[int, str]:
        m = re.search(r"(\d+)\s*$", str(item[0]))
        return (int(m.group(1)) if m else 10**9, str(item[0]))

    return [v for _, v in sorted(obj.items(), key=order)]


def parse_questions(content: str | None, existing: Sequence[str] = ()) -> list[str]:
    """The distinct, non-empty question strings in the model's JSON answer, minus ``existing``.

    Raises :class:`InvalidResponse` when the content is not JSON or not an object/list.
    """
    if content is None or not content.strip():
        raise InvalidResponse("empty answer")
    text = content.strip()
    if text.startswith("```"):  # tolerate a fenced block
        text = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", text)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidResponse(f"answer is not valid JSON ({exc.msg})") from None
    seen = {_norm_key(q) for q in existing}
    out: list[str] = []
    for value in _question_values(obj):
        if not isinstance(value, str):
            continue
        q = _WS.sub(" ", value).strip()
        key = _norm_key(q)
        if not key or key in seen:
            continue
        seen.add(key)
        out.append(q)
    return out


# --- cache --------------------------------------------------------------------------------------


class QuestionCache:
    """Append-only JSONL cache of finished chunks, one fsynced line per chunk.

    A line that does not parse (a write cut by a kill) is ignored; a partial last line is cut off
    before anything is appended, so the next line starts clean.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path is not None else None
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._fh = None
        self.skipped_lines = 0
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        data = self.path.read_bytes()
        good_end = 0
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl == -1:  # partial last line: a write cut short
                self.skipped_lines += 1
                break
            line = data[pos:nl]
            pos = nl + 1
            good_end = pos
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = rec["key"]
                questions = rec["questions"]
                if not (isinstance(questions, list) and all(isinstance(q, str) for q in questions)):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                self.skipped_lines += 1
                continue
            self._entries[key] = rec
        if good_end < len(data):
            with self.path.open("r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, n: int | None = None) -> list[str] | None:
        rec = self._entries.get(key)
        if rec is None:
            return None
        questions = rec["questions"]
        if n is not None and len(questions) != n:
            return None
        return list(questions)

    def put(self, key: str, record: dict[str, Any]) -> None:
        record = {"key": key, **record}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._entries[key] = record
            if self.path is None:
                return
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("a", encoding="utf-8")
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


# --- atomic output ------------------------------------------------------------------------------


def to_seed_records(chunks: Sequence[str], questions: Sequence[Sequence[str]],
                    chunk_indices: Sequence[int] | None = None) -> list[dict[str, Any]]:
    indices = list(chunk_indices) if chunk_indices is not None else list(range(len(chunks)))
    return [
        {
            "chunk_index": int(idx),
            "input_chunk": chunk,
            "questions": {f"question_{j + 1}": q for j, q in enumerate(qs)},
        }
        for idx, chunk, qs in zip(indices, chunks, questions)
    ]


# --- report -------------------------------------------------------------------------------------


@dataclass
class GenerationReport:
    model: str
    n: int
    chunks_total: int = 0
    chunks_cached: int = 0
    chunks_generated: int = 0
    failures: dict[int, str] = field(default_factory=dict)  # chunk_index -> reason
    requests: int = 0
    retries: int = 0
    reasks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    fatal: str | None = None
    interrupted: bool = False
    dataset: list[dict[str, Any]] | None = None
    output_path: str | None = None
    cache_path: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and not self.interrupted and self.dataset is not None

    @property
    def chunks_ok(self) -> int:
        return self.chunks_cached + self.chunks_generated

    @property
    def cost_usd(self) -> float | None:
        return estimate_cost(self.model, self.prompt_tokens, self.completion_tokens)

    def summary_line(self) -> str:
        parts = [
            f"generate: {self.chunks_ok}/{self.chunks_total} chunks ok "
            f"({self.chunks_generated} new, {self.chunks_cached} cached), {len(self.failures)} failed",
            f"{self.requests} requests, {self.retries} retries, {self.reasks} re-asks",
            f"tokens in {self.prompt_tokens:,} / out {self.completion_tokens:,}",
        ]
        cost = self.cost_usd
        if cost is not None:
            parts.append(f"cost ${cost:.4f}")
        parts.append(f"{self.seconds:.1f} s")
        return " | ".join(parts)


# --- generation ---------------------------------------------------------------------------------


class ChunkFailed(RuntimeError):
    """This chunk could not get its questions (others may)."""


class FatalAPIError(RuntimeError):
    """Retrying cannot help any chunk (bad key, unknown model, no quota): stop the run."""


def _retry_after_seconds(response: Any) -> float | None:
    """Seconds from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date), if present."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(ra).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class _Generator:
    def __init__(self, *, client: Any, model: str, n: int, max_retries: int, max_attempts: int,
                 temperature: float | None, seed: int | None, backoff_base: float,
                 backoff_max: float, max_retry_after: float, report: GenerationReport):
        self.client = client
        self.model = model
        self.n = n
        self.max_retries = max_retries
        self.max_attempts = max_attempts
        self.temperature = temperature
        self.seed = seed
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.report = report
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.not_before = 0.0  # shared pause after a 429
        self.rng = random.Random(seed)

    def _count(self, **deltas: int) -> None:
        with self.lock:
            for name, d in deltas.items():
                setattr(self.report, name, getattr(self.report, name) + d)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self.stop.wait(seconds):
            raise ChunkFailed("stopped")

    def _fatal(self, message: str) -> None:
        """Stop every worker at once: no request can succeed."""
        with self.lock:
            if self.report.fatal is None:
                self.report.fatal = message
        self.stop.set()
        raise FatalAPIError(message)

    def _backoff(self, attempt: int) -> float:
        with self.lock:
            jitter = self.rng.uniform(0.5, 1.0)
        return min(self.backoff_max, self.backoff_base * (2 ** attempt)) * jitter

    def request(self, messages: list[dict[str, str]]) -> str | None:
        """One chat completion with transport-level retries; returns the message content."""
        import openai

        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            if self.stop.is_set():
                raise ChunkFailed("stopped")
            with self.lock:
                pause = self.not_before - time.monotonic()
            self._sleep(pause)
            self._count(requests=1)
            kwargs: dict[str, Any] = {"model": self.model, "messages": messages,
                                      "response_format": {"type": "json_object"}}
            if self.temperature is not None:
                kwargs["temperature"] = self.temperature
            if self.seed is not None:
                kwargs["seed"] = self.seed
            delay: float | None = None
            try:
                resp = self.client.chat.completions.create(**kwargs)
            except openai.APIStatusError as exc:
                status = exc.status_code
                code = getattr(exc, "code", None)
                last = f"HTTP {status}" + (f" ({code})" if code else "")
                if status in (401, 403) or (status == 429 and code == "insufficient_quota"):
                    self._fatal(f"{last}: {exc.message}")
                if status == 404:
                    self._fatal(f"{last}: model {self.model!r} not found? {exc.message}")
                if not (status in (408, 409, 429) or status >= 500):
                    raise ChunkFailed(f"{last}: {exc.message}") from None
                delay = _retry_after_seconds(exc.response)
                if delay is not None:
                    delay = min(delay, self.max_retry_after)
                    if status == 429:
                        with self.lock:
                            self.not_before = max(self.not_before, time.monotonic() + delay)
            except openai.APITimeoutError:
                last = "request timed out"
            except openai.APIConnectionError as exc:
                cause = exc.__cause__
                last = "connection error" + (f" ({type(cause).__name__})" if cause else "")
            else:
                usage = getattr(resp, "usage", None)
                if usage is not None:
                    self._count(prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0))
                if not resp.choices:
                    return None
                return resp.choices[0].message.content
            if attempt == self.max_retries:
                break
            self._count(retries=1)
            self._sleep(delay if delay is not None else self._backoff(attempt))
        raise ChunkFailed(f"{last}, gave up after {self.max_retries + 1} attempts")

    def questions_for(self, chunk: str) -> list[str]:
        questions: list[str] = []
        problem = ""
        for attempt in range(self.max_attempts):
            if attempt:
                self._count(reasks=1)
            missing = self.n - len(questions)
            content = self.request(build_messages(chunk, missing, questions))
            try:
                new = parse_questions(content, questions)
            except InvalidResponse as exc:
                problem = str(exc)
                continue
            questions.extend(new[:missing])
            if len(questions) >= self.n:
                return questions
            problem = f"only {len(questions)} of {self.n} distinct questions"
        raise ChunkFailed(f"{problem} after {self.max_attempts} attempts")


def make_client(*, base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0):
    """The official OpenAI client with its own retries off (we retry, to count and back off)."""
    from openai import OpenAI

    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        raise ValueError("OPENAI_API_KEY is not set: export it (or use --offline to generate "
                         "pseudo-queries without an LLM)")
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    return OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout)


def generate_dataset(
    chunks: Sequence[str],
    *,
    model: str = DEFAULT_MODEL,
    n: int = DEFAULT_N,
    concurrency: int = 8,
    client: Any = None,
    base_url: str | None = None,
    api_key: str | None = None,
    cache_path: str | os.PathLike | None = None,
    output_path: str | os.PathLike | None = None,
    chunk_indices: Sequence[int] | None = None,
    max_retries: int = 6,
    max_attempts: int = 4,
    timeout: float = 60.0,
    seed: int | None = None,
    temperature: float | None = 1.0,
    backoff_base: float = 1.0,
    backoff_max: float = 30.0,
    max_retry_after: float = 600.0,
    progress: bool = True,
) -> GenerationReport:
    """Ask the LLM for ``n`` questions per chunk, resumably (see the module doc).

    ``cache_path`` defaults to ``<output_path>.cache.jsonl`` (no cache if neither is given). The
    returned report has ``dataset`` (seed format) when every chunk succeeded, and then the dataset
    is also written atomically to ``output_path`` if given. ``KeyboardInterrupt`` propagates after
    the workers are told to stop; everything finished so far is in the cache.
    """
    if n < 1:
        raise ValueError(f"questions per chunk must be >= 1, got {n}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    chunks = list(chunks)
    indices = list(chunk_indices) if chunk_indices is not None else list(range(len(chunks)))
    if len(indices) != len(chunks):
        raise ValueError("chunk_indices and chunks differ in length")
    if cache_path is None and output_path is not None:
        cache_path = str(output_path) + ".cache.jsonl"
    started = time.monotonic()
    report = GenerationReport(model=model, n=n, chunks_total=len(chunks),
                              output_path=str(output_path) if output_path else None,
                              cache_path=str(cache_path) if cache_path else None)
    cache = QuestionCache(cache_path)
    keys = [cache_key(c, model, n) for c in chunks]
    todo: dict[str, int] = {}  # key -> first position needing it (identical chunks asked once)
    for pos, key in enumerate(keys):
        if cache.get(key, n) is None:
            todo.setdefault(key, pos)
    report.chunks_cached = sum(1 for k in keys if k not in todo)

    if todo and client is None:
        client = make_client(base_url=base_url, api_key=api_key, timeout=timeout)
    gen = _Generator(client=client, model=model, n=n, max_retries=max_retries,
                     max_attempts=max_attempts, temperature=temperature, seed=seed,
                     backoff_base=backoff_base, backoff_max=backoff_max,
                     max_retry_after=max_retry_after, report=report)
    failed_keys: dict[str, str] = {}

    def work(key: str, pos: int) -> list[str]:
        qs = gen.questions_for(chunks[pos])
        cache.put(key, {"model": model, "prompt_version": PROMPT_VERSION, "n": n,
                        "chunk_sha256": hashlib.sha256(chunks[pos].encode("utf-8")).hexdigest(),
                        "questions": qs})
        return qs

    bar = None
    if todo:
        from tqdm import tqdm

        bar = tqdm(total=len(set(keys)), initial=len(set(keys)) - len(todo), unit="chunk",
                   desc="generate", disable=not progress, file=sys.stderr, dynamic_ncols=True)
        executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="generate")
        futures = {executor.submit(work, key, pos): key for key, pos in todo.items()}
        ok = failed = 0
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    key = futures[fut]
                    try:
                        fut.result()
                        ok += 1
                    except FatalAPIError as exc:
                        failed_keys[key] = str(exc)
                        failed += 1
                    except ChunkFailed as exc:
                        failed_keys[key] = "not attempted (run stopped)" if str(exc) == "stopped" else str(exc)
                        failed += 1
                    except Exception as exc:  # a bug or an unexpected client error: this chunk only
                        failed_keys[key] = f"{type(exc).__name__}: {exc}"
                        failed += 1
                    bar.update(1)
                    cost = report.cost_usd
                    bar.set_postfix_str(
                        f"ok {ok} failed {failed} q {ok * n} tok {report.prompt_tokens}/"
                        f"{report.completion_tokens}" + (f" ${cost:.4f}" if cost is not None else ""),
                        refresh=False)
            executor.shutdown(wait=True)
        except BaseException:
            report.interrupted = True
            gen.stop.set()
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            bar.close()
            cache.close()
            report.seconds = time.monotonic() - started

    report.chunks_generated = sum(1 for k in keys if k in todo and k not in failed_keys)
    for pos, key in enumerate(keys):
        if key in failed_keys:
            report.failures[indices[pos]] = failed_keys[key]
    if not report.failures:
        questions = [cache.get(k, n) for k in keys]
        report.dataset = to_seed_records(chunks, questions, indices)  # type: ignore[arg-type]
        if output_path is not None:
            write_dataset(output_path, report.dataset)
    report.seconds = time.monotonic() - started
    return report


# --- inputs -------------------------------------------------------------------------------------


def load_chunks_file(path: str | os.PathLike) -> tuple[list[str], list[int]]:
    """Chunks (and their chunk_index) of a seed-format file; its questions are ignored."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not a JSON file ({exc})") from None
    if not isinstance(data, list) or not data:
        raise ValueError(f"{p}: expected a non-empty JSON list of "
                         '{"chunk_index", "input_chunk", "questions"} records')
    chunks: list[str] = []
    indices: list[int] = []
    for i, rec in enumerate(data):
        if isinstance(rec, str):
            chunk, idx = rec, i
        elif isinstance(rec, dict) and isinstance(rec.get("input_chunk"), str):
            chunk = rec["input_chunk"]
            idx = rec.get("chunk_index", i)
            if not isinstance(idx, int):
                raise ValueError(f"{p}: record {i} has a non-integer chunk_index")
        else:
            raise ValueError(f"{p}: record {i} has no string 'input_chunk'")
        if not chunk.strip():
            raise ValueError(f"{p}: record {i} has an empty input_chunk")
        chunks.append(chunk)
        indices.append(idx)
    if len(set(indices)) != len(indices):
        raise ValueError(f"{p}: duplicate chunk_index values")
    return chunks, indices


# --- CLI ----------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--pdf", action="append", metavar="FILE",
                     help="a PDF to chunk (cl100k, 800/400 tokens); repeat for several")
    src.add_argument("--chunks", metavar="DATASET.json",
                     help="take the chunks of a seed-format file (its questions are ignored)")
    parser.add_argument("--output", "-o", required=True, metavar="FILE",
                        help="the dataset to write (seed format)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="chat model (default %(default)s)")
    parser.add_argument("--base-url", default=None,
                        help="OpenAI-compatible API base URL (default: $OPENAI_BASE_URL, else OpenAI)")
    parser.add_argument("--questions-per-chunk", "-n", type=int, default=None, metavar="N",
                        help=f"questions per chunk (default {DEFAULT_N}; {OFFLINE_DEFAULT_N} with --offline)")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel requests (default %(default)s)")
    parser.add_argument("--offline", action="store_true",
                        help="no LLM: pseudo-queries cut from each chunk's own sentences")
    parser.add_argument("--cache", default=None, metavar="PATH",
                        help="resume cache (JSONL; default <output>.cache.jsonl)")
    parser.add_argument("--max-retries", type=int, default=6,
                        help="retries per request on 429/5xx/timeouts/dropped connections (default %(default)s)")
    parser.add_argument("--max-attempts", type=int, default=4,
                        help="requests per chunk for invalid JSON or too few questions (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default %(default)s)")
    parser.add_argument("--backoff-base", type=float, default=1.0,
                        help="first retry delay in seconds, doubled each retry, with jitter (default %(default)s)")
    parser.add_argument("--backoff-max", type=float, default=30.0, help="longest retry delay (default %(default)s)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default %(default)s)")
    parser.add_argument("--seed", type=int, default=None,
                        help="offline: sampling seed (default 0); LLM: passed to the API (best effort)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _load_inputs(args: argparse.Namespace) -> tuple[list[str], list[int]]:
    if args.chunks:
        return load_chunks_file(args.chunks)
    from trainer.chunking import chunk_pdfs

    chunks = chunk_pdfs(args.pdf)
    return chunks, list(range(len(chunks)))


def run(args: argparse.Namespace) -> int:
    n = args.questions_per_chunk
    if n is None:
        n = OFFLINE_DEFAULT_N if args.offline else DEFAULT_N
    if n < 1:
        raise ValueError(f"--questions-per-chunk must be >= 1, got {n}")
    if args.concurrency < 1:
        raise ValueError(f"--concurrency must be >= 1, got {args.concurrency}")
    if not args.offline and not os.environ.get("OPENAI_API_KEY"):
        raise ValueError("OPENAI_API_KEY is not set: export it to generate questions with an LLM, "
                         "or pass --offline for pseudo-queries without one")
    chunks, indices = _load_inputs(args)
    if args.offline:
        from .pseudo_queries import generate_pseudo_dataset

        started = time.monotonic()
        seed = 0 if args.seed is None else args.seed
        records = generate_pseudo_dataset(chunks, n=n, seed=seed, chunk_indices=indices)
        write_dataset(args.output, records)
        total = sum(len(r["questions"]) for r in records)
        print(f"generate --offline: {len(records)} chunks, {total} pseudo-queries (seed {seed}) "
              f"-> {args.output} | {time.monotonic() - started:.1f} s", file=sys.stderr)
        return 0

    try:
        report = generate_dataset(
            chunks, model=args.model, n=n, concurrency=args.concurrency, base_url=args.base_url,
            cache_path=args.cache, output_path=args.output, chunk_indices=indices,
            max_retries=args.max_retries, max_attempts=args.max_attempts, timeout=args.timeout,
            seed=args.seed, temperature=args.temperature, backoff_base=args.backoff_base,
            backoff_max=args.backoff_max, progress=not args.no_progress)
    except KeyboardInterrupt:
        cache = args.cache or args.output + ".cache.jsonl"
        print(f"generate: interrupted; the chunks finished so far are saved in {cache}; "
              "rerun the same command to resume", file=sys.stderr)
        return 130
    err = sys.stderr
    if report.failures:
        if report.fatal:
            print(f"generate: stopped: {report.fatal}", file=err)
        print(f"generate: {len(report.failures)} chunk(s) failed:", file=err)
        for idx, reason in sorted(report.failures.items())[:20]:
            print(f"  chunk {idx}: {reason}", file=err)
        if len(report.failures) > 20:
            print(f"  ... and {len(report.failures) - 20} more", file=err)
        print(f"generate: {args.output} NOT written (it needs every chunk); the "
              f"{report.chunks_ok} finished chunks are cached in {report.cache_path}; "
              "rerun the same command to retry only the failed ones", file=err)
    else:
        print(f"generate: wrote {args.output} ({report.chunks_total} chunks x {n} questions)", file=err)
    print(report.summary_line(), file=err)
    return 0 if report.ok else 1
