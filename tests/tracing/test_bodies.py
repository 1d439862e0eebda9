"""Captured bodies: sha256 content address, gzip above 1 KiB, one row per distinct body."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from lens_tui import bodies, tracing
from lens_tui.tracing import LensMiddleware
from lens_tui.tracing.writer import TraceWriter

from .conftest import read
from .test_middleware import exchange, raw_app


def body_row(db_path: Path, digest: str) -> dict[str, Any]:
    rows = read(db_path, "SELECT * FROM bodies WHERE hash = ?", (digest,))
    assert len(rows) == 1
    return rows[0]


def test_encode_decode_threshold() -> None:
    text = b"a" * 1024
    assert bodies.encode(text).is_compressed is False  # 1 KiB exactly stays raw
    big = b"a" * 1025
    encoded = bodies.encode(big)
    assert encoded.is_compressed and encoded.original_size == 1025
    assert bodies.decode(encoded.stored, True) == big
    noise = os.urandom(4096)  # gzip would only grow it: kept raw
    assert bodies.encode(noise).is_compressed is False
    assert bodies.encode(noise).hash == hashlib.sha256(noise).hexdigest()
    assert bodies.as_bytes("é") == "é".encode()


async def test_bodies_compressed_and_deduplicated(store: TraceWriter, db_path: Path) -> None:
    app = LensMiddleware(raw_app, capture_bodies=True)
    compressible = b'{"rows": [' + b'{"id": 1, "name": "alpha"}, ' * 200 + b"]}"
    small = b"tiny body"
    noise = os.urandom(3000)

    # The same body twice in one batch, and again in a later batch: one row.
    await exchange(app, "POST", "/a", body=compressible)
    await exchange(app, "POST", "/b", body=compressible)
    assert tracing.flush()
    await exchange(app, "POST", "/c", body=compressible)
    await exchange(app, "POST", "/d", body=small)
    await exchange(app, "POST", "/e", body=noise)
    assert tracing.flush()

    big_hash = hashlib.sha256(compressible).hexdigest()
    spans = {r["name"]: r for r in read(db_path, "SELECT * FROM spans")}
    for name in ("POST /a", "POST /b", "POST /c"):
        assert spans[name]["input_body_hash"] == big_hash
    # The echo app answers with the body twice.
    assert spans["POST /a"]["output_body_hash"] == hashlib.sha256(compressible * 2).hexdigest()
    assert read(db_path, "SELECT count(*) AS n FROM bodies")[0]["n"] == 6

    row = body_row(db_path, big_hash)
    assert row["is_compressed"] == 1
    assert row["original_size"] == len(compressible)
    assert row["stored_size"] == len(row["body"]) < len(compressible)
    assert gzip.decompress(row["body"]) == compressible
    assert bodies.decode(row["body"], True) == compressible
    assert row["created_at"] > 1.6e12

    tiny = body_row(db_path, hashlib.sha256(small).hexdigest())
    assert tiny["is_compressed"] == 0 and bytes(tiny["body"]) == small
    raw = body_row(db_path, hashlib.sha256(noise).hexdigest())
    assert raw["is_compressed"] == 0 and bytes(raw["body"]) == noise
    assert raw["stored_size"] == raw["original_size"] == 3000


async def test_store_level_capture_limit(db_path: Path) -> None:
    tracing.configure(db_path, service="test", flush_interval=0.02, max_captured_body=10)
    try:
        app = LensMiddleware(raw_app, capture_bodies=True)
        await exchange(app, "POST", "/cap", body=b"0123456789abcdef")
        assert tracing.flush()
    finally:
        tracing.shutdown()
    row = read(db_path, "SELECT * FROM spans WHERE name = 'POST /cap'")[0]
    assert row["input_size"] == 16
    stored = body_row(db_path, row["input_body_hash"])
    assert bytes(stored["body"]) == b"0123456789" and stored["original_size"] == 10


@pytest.mark.parametrize("text", ["plain text body", "é" * 600])
def test_text_bodies_hash_their_utf8(text: str) -> None:
    raw = bodies.as_bytes(text)
    assert bodies.encode(raw).hash == hashlib.sha256(text.encode()).hexdigest()
