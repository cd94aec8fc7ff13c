"""Values a person reads: money, counts, durations, rates. One formatter each, shared by
every page, CSV-free display string and API `display` field (crm is imported by every app).

Money is exact integer cents with its currency, never floats and never "9700¢"."""

from __future__ import annotations

from datetime import timedelta

CURRENCY_SYMBOLS = {"USD": "$", "GTQ": "Q"}


def format_money(cents: int, currency: str, *, per: str = "") -> str:
    """Exact integer cents → '$1,234.50', 'Q97.00'; with `per` → '$97.00 / month'."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    text = f"{sign}{symbol}{whole:,}.{rest:02d}"
    return f"{text} / {per}" if per else text


def plural(count: int, singular: str, plural_form: str = "") -> str:
    """'1 photo', '2 photos', '1,204 leads' (give the plural when it is not singular + s)."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {word}"


def format_duration(value: timedelta | float | None) -> str:
    """A duration for reading: '45 min', '17 h', '3 d 4 h', '120 d'. A float is seconds;
    None (no duration) reads '—'."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def format_days(days: float | None) -> str:
    """A number of days (the analytics' unit) read as a duration: 0.7 → '16 h'."""
    return "—" if days is None else format_duration(timedelta(days=float(days)))


def format_rate(rate: float | None, *, digits: int = 1) -> str:
    """A fraction (0–1) as a percentage; None (not applicable) reads '—'."""
    return "—" if rate is None else f"{rate * 100:.{digits}f}%"
