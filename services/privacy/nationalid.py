"""Iran's national code (کد ملی): ten digits, the last a check digit."""

from __future__ import annotations

import re

_TEN_DIGITS = re.compile(r"^[0-9]{10}$")


def is_valid(code: str) -> bool:
    """Whether `code` is a well-formed national code: ten ASCII digits, not all the same,
    whose last digit is the checksum of the first nine (weights 10 down to 2, modulo 11)."""
    if not _TEN_DIGITS.match(code) or len(set(code)) == 1:
        return False
    total = sum(int(code[i]) * (10 - i) for i in range(9))
    remainder = total % 11
    check = int(code[9])
    return check == remainder if remainder < 2 else check == 11 - remainder


def check_digit(first_nine: str) -> str:
    """The check digit that completes nine digits into a national code."""
    remainder = sum(int(first_nine[i]) * (10 - i) for i in range(9)) % 11
    return str(remainder if remainder < 2 else 11 - remainder)
