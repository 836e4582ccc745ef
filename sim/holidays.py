"""Public holidays of China and Kazakhstan by name, from the maintained ``holidays`` package.

A scenario names a holiday (``{country: CN, name: "Spring Festival"}``); this module finds its
**holiday period**: the package's dates whose name contains the given name (case-insensitive;
a few common English names are aliases of the package's, see :data:`ALIASES`), joined with the
country's other package holidays and the weekends that lie *between* them. So "Spring Festival"
is the whole official break (2025: Chinese New Year's Eve 28 Jan to the substituted day off on
4 Feb), "Golden Week" is 1-8 Oct 2025, and "Nauryz" is 21-25 March 2025 with its observed days,
while Kazakhstan's 1, 7 and 9 May stay three separate days. Names are English (``en_US``), as the
package prints them, so that a scenario means the same on every machine.

Pure functions of (country, name, years), cached: no scenario, no randomness.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays as holiday_package

COUNTRIES = ("CN", "KZ")
LANGUAGE = "en_US"

# Names used in the sources and in the issue, mapped to the text of the package's names.
ALIASES: dict[tuple[str, str], str] = {
    ("CN", "spring festival"): "chinese new year",   # includes the eve
    ("CN", "golden week"): "national day",           # the October break around National Day
    ("KZ", "nauryz"): "nowruz",
    ("KZ", "nauryz meyrami"): "nowruz",
}


@lru_cache(maxsize=64)
def country_holidays(country: str, years: tuple[int, ...]) -> dict[dt.date, str]:
    """Every public holiday (date -> the package's English name) of ``country`` in ``years``."""
    if country not in COUNTRIES:
        raise ValueError(f"expected a country code {' or '.join(COUNTRIES)}, got {country!r}")
    table = holiday_package.country_holidays(country, years=list(years), language=LANGUAGE)
    return {date: str(name) for date, name in sorted(table.items())}


def holiday_names(country: str, years: tuple[int, ...]) -> list[str]:
    """The distinct names of ``country``'s holidays in ``years`` (for messages), without the
    package's bridge days ("Day off (substituted ...)") and observed days, which join a period
    but name none; then the aliases."""
    names: list[str] = []
    for name in country_holidays(country, years).values():
        for part in name.split("; "):
            if part not in names and not part.startswith("Day off") and not part.endswith("(observed)"):
                names.append(part)
    return names + [alias.title() for (code, alias) in ALIASES if code == country]


def _pattern(country: str, name: str) -> str:
    key = name.strip().lower()
    return ALIASES.get((country, key), key)


def _periods(country: str, years: tuple[int, ...]) -> list[list[dt.date]]:
    """The country's holidays grouped into periods: consecutive holidays, or holidays separated
    only by Saturdays and Sundays."""
    periods: list[list[dt.date]] = []
    for date in country_holidays(country, years):
        if periods:
            gap = [periods[-1][-1] + dt.timedelta(days=k) for k in range(1, (date - periods[-1][-1]).days)]
            if all(day.weekday() >= 5 for day in gap):
                periods[-1].extend(gap + [date])
                continue
        periods.append([date])
    return periods


def holiday_period(country: str, name: str, years: tuple[int, ...]) -> list[dt.date]:
    """The dates of the holiday period(s) of ``name`` in ``years`` (sorted; empty if unknown)."""
    pattern = _pattern(country, name)
    if not pattern:
        return []
    table = country_holidays(country, years)
    matched = {date for date, label in table.items() if pattern in label.lower()}
    return sorted(day for period in _periods(country, years) if matched.intersection(period) for day in period)


def is_known(country: str, name: str, years: tuple[int, ...]) -> bool:
    """Whether ``name`` matches a holiday of ``country`` in ``years``."""
    return bool(holiday_period(country, name, years))
