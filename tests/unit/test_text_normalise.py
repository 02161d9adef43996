"""`normalise` removes exactly the characters its definition names, whatever the text."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from services.text import _NEWLINES, _dropped, dropped_characters, normalise


def by_definition(text: str) -> str:
    """The module's rules applied one character at a time."""
    for old, new in _NEWLINES.items():
        text = text.replace(old, new)
    text = "".join(ch for ch in text if not _dropped(ch))
    return unicodedata.normalize("NFC", text).translate(
        str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"})).strip()


# Any code point, lone surrogates included; and a mix of Persian with the marks, controls and
# format characters it meets, the supplementary planes' (the tags U+E0001-U+E007F) included.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
MARKED_TEXT = st.text(st.sampled_from(
    "\u200c\u200d\u200e\u202b\u202e\u2066\ufeff\u00ad\r\n\t\x85\u2028\x00\x7f"
    "\ue000\U000e0001\U000e0041\U0001bca0\ud800\udfffيكىکی سلام"), max_size=60)


@given(st.one_of(ANY_TEXT, MARKED_TEXT))
def test_normalising_removes_what_the_definition_removes_and_nothing_else(text) -> None:
    assert normalise(text) == by_definition(text)


def test_the_pattern_holds_every_dropped_code_point_and_no_other() -> None:
    pattern = dropped_characters()
    for code in range(0, 0x110000, 7):  # a seventh of the code points, evenly spread
        ch = chr(code)
        assert bool(pattern.fullmatch(ch)) == _dropped(ch), hex(code)
