"""How a person's phone and national code are read from a request body, wherever they are
given (a requester at intake, a supporter at routing): digits written any way, checked the
same way, so the key store's keyed hash finds the same person from either."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

from services.privacy import nationalid
from services.text import ascii_digits


class Digits(fields.String):
    """Digits written any way (Persian or Arabic-Indic, with spaces and dashes): ASCII only."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        return ascii_digits(text).replace(" ", "").replace("-", "")


def _national_code(value: str) -> None:
    if not nationalid.is_valid(value):
        raise ValidationError("Not a valid national code (10 digits with a valid check digit).")


def phone() -> Digits:
    return Digits(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9]{4,15}$", error="Not a valid phone number."))


def national_code() -> Digits:
    return Digits(load_default=None, allow_none=True, validate=_national_code,
                  metadata={"description": "Iran's national code (کد ملی), 10 digits"})
