"""onnxcost.units: the human forms of counts and bytes, and the parsing of sizes given as options."""

import pytest

from onnxcost.units import human_bytes, human_count, parse_quantity


@pytest.mark.parametrize("value, text", [
    (0, "0"),
    (999, "999"),  # below 1000: the integer itself
    (-999, "-999"),
    (1000, "1.00 K"),
    (-1500, "-1.50 K"),
    (15_470_264_320, "15.47 G"),  # VGG-16's MACs: 15.470 264 320 G
    (999_994, "999.99 K"),  # 999.994 K rounds down and stays in K
    (999_995, "1.00 M"),  # 999.995 K would print as 1000.00 K: shown in the next unit
    (10**21, "1000.00 E"),  # past the last unit the number grows
])
def test_human_count(value, text):
    assert human_count(value) == text


@pytest.mark.parametrize("value, text", [
    (0, "0 B"),
    (1023, "1023 B"),  # below 1 KiB: bytes
    (1024, "1.0 KiB"),
    (-2048, "-2.0 KiB"),
    (553_430_176, "527.8 MiB"),  # 553430176 / 2^20 = 527.79
    (1_048_524, "1023.9 KiB"),  # 1048524 / 1024 = 1023.949 rounds to 1023.9
    (1_048_525, "1.0 MiB"),  # 1048525 / 1024 = 1023.950 would print as 1024.0 KiB
    (3 * 2**60, "3.0 EiB"),
])
def test_human_bytes(value, text):
    assert human_bytes(value) == text


@pytest.mark.parametrize("text, value", [
    ("512", 512),
    ("0", 0),
    ("3G", 3_000_000_000),
    ("1.5M", 1_500_000),
    ("0.5k", 500),  # units are case-insensitive
    ("1e3", 1000),
    ("4GiB", 4 * 2**30),
    ("2gib", 2 * 2**30),
    ("1KiB", 1024),
    ("2TiB", 2 * 2**40),
    ("10MB", 10_000_000),  # a trailing B on an SI unit is bytes: 10 M
    ("1PB", 10**15),
    ("1B", 1),
    (" 5 GiB ", 5 * 2**30),  # spaces around and between
    ("1.0000001K", 1000),  # rounded to a whole number: 1000.0001
])
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text, message", [
    ("", "'' is not a number with an optional unit (K, M, G, T, KiB, MiB, GiB)"),
    ("abc", "'abc' is not a number"),
    ("-1G", "'-1G' is not a number"),  # sizes are never negative
    ("1.5.2", "'1.5.2' is not a number"),
    ("3X", "unknown unit 'X' in '3X'"),
    ("3Gib2", "'3Gib2' is not a number"),
])
def test_parse_quantity_refuses(text, message):
    with pytest.raises(ValueError) as info:
        parse_quantity(text)
    assert str(info.value).startswith(message)
