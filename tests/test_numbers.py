from __future__ import annotations

import datetime as dt

import pytest

from consolidate.numbers import format_amount, format_value, is_nothing, parse_number


@pytest.mark.parametrize("raw, value", [
    ("8 814,5", 8814.5),
    ("8\u00a0814,5", 8814.5),          # non-breaking space
    ("8\u202f814,5", 8814.5),          # narrow no-break space (Word, LibreOffice)
    ("1 234,50", 1234.5),
    ("0,00", 0.0),
    ("25 ", 25.0),                     # stray space
    (" 25", 25.0),
    ("1234.5", 1234.5),
    ("−5", -5.0),                      # Unicode minus
    ("-12,5", -12.5),
    ("'42", 42.0),                     # text prefix apostrophe typed by hand
    ("1,5e3", 1500.0),
])
def test_numbers_typed_as_text(raw, value):
    p = parse_number(raw)
    assert (p.kind, p.value, p.was_text, p.percent_sign) == ("number", value, True, False)
    assert p.ok


@pytest.mark.parametrize("raw, value", [(8814.5, 8814.5), (25, 25.0), (0, 0.0), (-3.5, -3.5)])
def test_real_numbers(raw, value):
    p = parse_number(raw)
    assert (p.kind, p.value, p.was_text) == ("number", value, False)


@pytest.mark.parametrize("raw, value", [("90%", 90.0), ("90 %", 90.0), ("12,5%", 12.5), ("100\u00a0%", 100.0)])
def test_percent_sign(raw, value):
    p = parse_number(raw)
    assert (p.kind, p.value, p.percent_sign) == ("number", value, True)


@pytest.mark.parametrize("raw", [None, "", "   ", "\u00a0", "-", "—", "–", "х", " - "])
def test_nothing(raw):
    p = parse_number(raw)
    assert p.kind == "empty" and p.value is None and p.ok
    assert is_nothing(raw)


@pytest.mark.parametrize("raw", ["так", "0", 0, 0.0, "Проведено 5 тренінгів", "- 5"])
def test_something(raw):
    assert not is_nothing(raw)


@pytest.mark.parametrize("raw", ["#DIV/0!", "#REF!", "#N/A", "#value!", "Err:502", "#SPILL!", float("nan"), float("inf")])
def test_error_values(raw):
    p = parse_number(raw)
    assert p.kind == "error" and not p.ok


@pytest.mark.parametrize("raw", ["багато", "близько 50", "12 осіб", "1.234,5", "1,234.5", "5-6", True,
                                 dt.datetime(2024, 5, 1)])
def test_text_is_not_a_number(raw):
    p = parse_number(raw)
    assert p.kind == "text" and p.value is None and not p.ok


def test_formatting_round_trips_through_parsing():
    for value in (0.0, 8814.5, 1234567.8, -42.0):
        assert parse_number(format_amount(value)).value == value
        assert parse_number(format_amount(value, thin=True)).value == value
    assert format_amount(None) == "-"
    assert format_value(90.0) == "90" and format_value(12.5) == "12,5" and format_value(None) == ""
