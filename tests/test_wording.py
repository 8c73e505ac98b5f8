"""Ukrainian plural forms and dates (consolidate.wording)."""

import datetime as dt

import pytest

from consolidate.wording import NOUNS, plural, plural_category, plural_word, ua_date, ua_datetime


@pytest.mark.parametrize("n, expected", [
    (0, "0 показників"), (1, "1 показник"), (2, "2 показники"), (4, "4 показники"), (5, "5 показників"),
    (11, "11 показників"), (12, "12 показників"), (14, "14 показників"), (21, "21 показник"),
    (22, "22 показники"), (25, "25 показників"), (72, "72 показники"), (101, "101 показник"),
    (111, "111 показників"), (112, "112 показників"), (1000, "1000 показників"), (1021, "1021 показник"),
])
def test_plural_forms_of_a_masculine_noun(n, expected):
    assert plural(n, "показник") == expected


@pytest.mark.parametrize("n, expected", [
    (1, "1 рядок фінансування"), (2, "2 рядки фінансування"), (5, "5 рядків фінансування"),
    (11, "11 рядків фінансування"), (21, "21 рядок фінансування"), (22, "22 рядки фінансування"),
    (25, "25 рядків фінансування"), (33, "33 рядки фінансування"),
])
def test_plural_forms_of_a_phrase(n, expected):
    assert plural(n, "рядок фінансування") == expected


def test_explicit_forms_and_categories():
    assert [plural_category(n) for n in (1, 2, 5, 11, 21, 22, 25)] == ["one", "few", "many", "many", "one", "few", "many"]
    assert plural(21, "помилка", "помилки", "помилок") == "21 помилка"
    assert plural(3, "помилка") == "3 помилки"
    assert plural_word(7, "попередження") == "попереджень"
    assert plural(2.5, "тисяча", "тисячі", "тисяч") == "2,5 тисячі"
    assert plural(1.5, "показник", fraction="показника") == "1,5 показника"


def test_every_listed_noun_has_three_forms():
    for noun, forms in NOUNS.items():
        assert len(forms) == 3 and forms[0] == noun


def test_unknown_noun_needs_its_forms():
    with pytest.raises(KeyError):
        plural(3, "кіт")


def test_ukrainian_dates():
    assert ua_date(dt.date(2025, 1, 22)) == "22 січня 2025 р."
    assert ua_date(dt.date(2024, 12, 1)) == "1 грудня 2024 р."
    assert ua_date("2025-03-08T10:00:00") == "8 березня 2025 р."
    assert ua_date(None) == "" and ua_date("") == ""
    assert ua_datetime(dt.datetime(2025, 1, 22, 9, 5)) == "22 січня 2025 р., 09:05"
    assert ua_datetime(dt.date(2025, 5, 2)) == "2 травня 2025 р."
    months = [ua_date(dt.date(2025, m, 1)).split()[1] for m in range(1, 13)]
    assert months == ["січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня", "вересня",
                      "жовтня", "листопада", "грудня"]
