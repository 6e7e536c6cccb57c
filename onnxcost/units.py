"""Human units for the terminal (15.47 G, 527.8 MiB) and their parsing for options (3G, 4GiB)."""

from __future__ import annotations

import re

_SI = ["", "K", "M", "G", "T", "P", "E"]
_BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]


def human_count(value: int) -> str:
    """15470264320 -> '15.47 G'; below 1000 the integer itself; from a million E on '4.61e+24' (any size)."""
    if abs(value) < 1000:
        return str(value)
    if abs(value) >= 10**24:
        return _beyond(value)
    scaled, power = float(value), 0
    while abs(scaled) >= 999.995 and power < len(_SI) - 1:
        scaled /= 1000
        power += 1
    return f"{scaled:.2f} {_SI[power]}"


def human_bytes(value: int) -> str:
    """553430176 -> '527.8 MiB'; below 1 KiB in bytes; from 1024 x 1024 EiB on '1.21e+24 B' (any size)."""
    if abs(value) < 1024:
        return f"{value} B"
    if abs(value) >= 1024**8:
        return _beyond(value) + " B"
    scaled, power = float(value), 0
    while abs(scaled) >= 1023.95 and power < len(_BINARY) - 1:
        scaled /= 1024
        power += 1
    return f"{scaled:.1f} {_BINARY[power]}"


def _beyond(value: int) -> str:
    """Scientific notation by exact decimal arithmetic: the scaled form grows unreadable and a float overflows past
    1.8e308 (nested loops can repeat a body that often)."""
    from decimal import Decimal  # here: only figures past the largest unit need it, and its import costs every run

    return f"{Decimal(value):.2e}"


_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
_SI_FACTORS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
_BINARY_FACTORS = {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "b": 1}


def parse_quantity(text: str) -> int:
    """'3G' -> 3_000_000_000, '1.5M' -> 1_500_000, '4GiB' -> 4·2^30, '512' -> 512."""
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a number with an optional unit (K, M, G, T, KiB, MiB, GiB)")
    number, unit = float(match.group(1)), match.group(2).lower()
    factor = _SI_FACTORS.get(unit) or _BINARY_FACTORS.get(unit) or _SI_FACTORS.get(unit.removesuffix("b"))
    if factor is None:
        raise ValueError(f"unknown unit '{match.group(2)}' in '{text}'")
    return int(round(number * factor))
