"""Content-addressed bodies: sha256 of the raw bytes, gzip above 1 KiB when it saves space."""

from __future__ import annotations

import gzip
import hashlib
from typing import NamedTuple

COMPRESS_THRESHOLD_BYTES = 1024


class EncodedBody(NamedTuple):
    """A body ready for the `bodies` table."""

    hash: str
    stored: bytes
    is_compressed: bool
    original_size: int


def as_bytes(body: bytes | bytearray | memoryview | str) -> bytes:
    """Bodies are stored as bytes; text is encoded as UTF-8 (lone surrogates escaped)."""
    if isinstance(body, str):
        return body.encode("utf-8", errors="surrogatepass")
    return bytes(body)


def body_hash(raw: bytes) -> str:
    """The content address of a body: sha256 hex of its raw bytes."""
    return hashlib.sha256(raw).hexdigest()


def encode(raw: bytes) -> EncodedBody:
    """Hash and, above the threshold, gzip a body (kept raw when gzip does not make it smaller)."""
    digest = body_hash(raw)
    if len(raw) > COMPRESS_THRESHOLD_BYTES:
        packed = gzip.compress(raw, compresslevel=6, mtime=0)
        if len(packed) < len(raw):
            return EncodedBody(digest, packed, True, len(raw))
    return EncodedBody(digest, raw, False, len(raw))


def decode(stored: bytes, is_compressed: bool) -> bytes:
    """The raw bytes of a stored body."""
    return gzip.decompress(stored) if is_compressed else bytes(stored)
