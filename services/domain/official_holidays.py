"""Official holidays, written out as dates.

The `holidays` package knows Iran's public holidays (category `public`, the only one it has),
solar and lunar alike. Its lunar dates are computed, and a new release may move one; so a rule
set never refers to the package at decision time. The dates are written into the rule set
when it is published, and routing decides on the dates in the stream: a replay gives the same
deadlines whatever version of the package is installed. A lunar holiday confirmed late is an
`OfficeClosed` event.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

DEFAULT_COUNTRY = "IR"
DEFAULT_YEARS = range(2020, 2036)


@lru_cache(maxsize=8)
def official_holidays(country: str = DEFAULT_COUNTRY,
                      years: range = DEFAULT_YEARS) -> tuple[tuple[date, str], ...]:
    """(date, name) of every public holiday of `country` in `years`, in date order; for Iran
    the name is "Persian (English)". Raises ValueError for a country the package lacks."""
    try:
        cls = holidays.country_holidays(country).__class__
    except NotImplementedError:
        raise ValueError(f"the holidays package does not know country {country!r}") from None
    native = cls(years=years, categories=("public",), language=cls.default_language)
    english = cls(years=years, categories=("public",), language="en_US") \
        if "en_US" in cls.supported_languages else native
    return tuple(sorted(
        (day, name if english.get(day) in (None, name) else f"{name} ({english[day]})")
        for day, name in native.items()))


def source(country: str = DEFAULT_COUNTRY, years: range = DEFAULT_YEARS) -> str:
    return (f"holidays {holidays.__version__}: {country} public, "
            f"{years.start}-{years.stop - 1}")
