"""Normalising Persian and mixed-script text on the way in: the one place it is done.

Persian keyboards, Arabic keyboards and copy-paste from other systems write the same word
with different code points; a search, a duplicate check or a report must see one spelling.
`normalise` is applied to every string of every request body and query (services/parsing.py):

- Unicode NFC; Arabic yeh (ي U+064A) and alef maksura (ى U+0649) become Persian yeh (ی U+06CC),
  Arabic kaf (ك U+0643) becomes Persian kaf (ک U+06A9);
- the zero-width non-joiner (U+200C, نیم‌فاصله) is kept: it is part of Persian spelling;
- every other format character (bidi embeddings and overrides U+202A-U+202E, isolates
  U+2066-U+2069, marks U+200E/U+200F/U+061C, zero-width space and joiner, BOM, soft hyphen),
  control character (but tab and newline) and lone surrogate is removed; CR LF and the
  Unicode line and paragraph separators become a newline;
- leading and trailing white space is removed.

Persian and Arabic-Indic digits are kept in free text (they are how Persian is written) and
made ASCII only where a value is a number (`ascii_digits`, e.g. a phone number).
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from typing import Any

ZWNJ = "\u200c"
_LETTERS = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"})
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_NEWLINES = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"}
_KEEP = {"\t", "\n", ZWNJ}


def _dropped(ch: str) -> bool:
    """What `normalise` removes: format, control (but tab and newline, and the ZWNJ) and
    surrogate characters."""
    return ch not in _KEEP and unicodedata.category(ch) in ("Cc", "Cf", "Cs")


@functools.cache
def dropped_characters() -> re.Pattern[str]:
    """Every character `_dropped` removes, as one regular expression (a few dozen ranges).
    Made at the first use, from this Python's own Unicode tables (about 0.25 s); removing
    them then costs one scan in C, not a Python call per character (a fifth of a
    submission's parsing went there)."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if _dropped(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]")


def normalise(text: str) -> str:
    """One spelling for the same words (see the module docstring)."""
    for old, new in _NEWLINES.items():
        text = text.replace(old, new)
    # Lone surrogates cannot be normalised or encoded: drop them first.
    text = dropped_characters().sub("", text)
    text = unicodedata.normalize("NFC", text).translate(_LETTERS)
    return text.strip()


def ascii_digits(text: str) -> str:
    """Persian (۰-۹) and Arabic-Indic (٠-٩) digits as ASCII digits."""
    return text.translate(_DIGITS)


def normalise_all(value: Any) -> Any:
    """Every string in a decoded JSON document (keys included), normalised."""
    if isinstance(value, str):
        return normalise(value)
    if isinstance(value, list):
        return [normalise_all(v) for v in value]
    if isinstance(value, dict):
        return {normalise(k) if isinstance(k, str) else k: normalise_all(v)
                for k, v in value.items()}
    return value
