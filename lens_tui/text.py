"""Make untrusted text from the database safe to show: no control characters, bounded length.

Textual and Rich strip only a few control codes, so ESC, OSC, C1 controls, bidi overrides and
zero-width characters would otherwise reach the terminal (docs/findings.md). Every string that comes
from the database passes through `visible()` before it is rendered; markup is never parsed from it
(the UI builds `Text`/`Content` objects, never markup strings).
"""

from __future__ import annotations

import json
import re

ELLIPSIS = "…"

_BIDI_AND_INVISIBLE = (
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\ufff9\ufffa\ufffb"
)
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI_AND_INVISIBLE + "\ud800-\udfff]")
_UNSAFE_WITH_NEWLINES = re.compile("[\x00-\x1f\x7f-\x9f" + _BIDI_AND_INVISIBLE + "\ud800-\udfff]")


def _placeholder(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures": ␛ for ESC, ␀ for NUL
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def visible(value: object, limit: int | None = None, *, keep_newlines: bool = False) -> str:
    """`value` as text with every control or invisible character replaced by a visible stand-in.

    Tabs become spaces; newlines become ␊ unless `keep_newlines`. Longer than `limit`
    characters, the text is cut and ends in an ellipsis.
    """
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + ELLIPSIS
    if "\t" in text:
        text = text.replace("\t", "    ")
    pattern = _UNSAFE if keep_newlines else _UNSAFE_WITH_NEWLINES
    if keep_newlines and "\r" in text:
        text = text.replace("\r\n", "\n")
    return pattern.sub(_placeholder, text)


def decode_bytes(data: bytes) -> str:
    """Bytes from the database as text; invalid UTF-8 shows as U+FFFD, never raises."""
    return data.decode("utf-8", errors="replace")


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line for an error message: its text with whitespace folded (its type
    name when it has no text), at most `limit` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


_C_ENCODER = (
    None
    if json.encoder.c_make_encoder is None
    else json.encoder.c_make_encoder(
        None, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
)


def encode_json(value: object) -> str:
    """`json.dumps(x, ensure_ascii=False, default=str)`, from one C encoder built once: json.dumps
    builds one per call whenever it is given options (which dominated writing and reading big
    traces), and JSONEncoder.encode still one per call (~0.8 µs of a 2 µs dict). Without its
    circular-reference check, so shareable by threads: a cycle ends in RecursionError.
    Anything JSON cannot encode is stored as its `str()`."""
    if _C_ENCODER is None:  # an interpreter without the C accelerator
        return json.dumps(value, default=str, ensure_ascii=False)
    return "".join(_C_ENCODER(value, 0))
