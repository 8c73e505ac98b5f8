"""Reading returned workbooks: real files built from generated templates, filled and damaged with openpyxl."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest

from consolidate import layout as L
from consolidate.filler import fill_workbook, plausible_values
from consolidate.intake import LIMITS, Limits, read_return, sniff_format, status_of
from consolidate.model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, ERROR, QUARANTINED, WARNING
from consolidate.workspace import open_workspace

from .conftest import ROOT, need_binary
from .intake_util import (EXECUTION, FUNDING, NARRATIVE, PROPOSALS, brief, complete, copy_pasted, drop_properties,
                          edit, filled, merged, rezip, set_error, set_meta, set_property, set_text, set_title,
                          sheet_part, template, values_by_key)

MINJUST = "Міністерство юстиції України"
STATUSES = ", ".join(L.STATUS_VALUES)


@pytest.fixture(scope="module")
def cat():
    return open_workspace(ROOT).catalogue


def read(path, cat):
    return read_return(path, path.name, cat)


# ---------------------------------------------------------------------------------
# a complete return
# ---------------------------------------------------------------------------------

def test_complete_return_is_accepted_with_every_value_and_its_cell(cat, tmp_path):
    ret = read(filled(cat, tmp_path, "return.xlsx"), cat)
    assert status_of(ret) == ACCEPTED and ret.findings == []
    assert (ret.executor, ret.period, ret.identified_by) == ("MINJUST", "2024", "meta")
    assert ret.template_version == cat.template_version and len(ret.sha256) == 64
    assert values_by_key(ret) == {
        ("F.T2.2.SG.MINJUST", "financed"): (0.0, "0", FUNDING, "G5"),
        ("F.T2.2.SG.MINJUST", "cash"): (0.0, "0", FUNDING, "H5"),
        ("F.T2.2.SG.MINJUST", "budget_code"): (None, "3601010 Керівництво та управління", FUNDING, "I5"),
        ("F.T4.2.SG.MINJUST", "nil"): (None, "так", FUNDING, "J6"),
        ("T2.2", "status"): (None, "виконано", EXECUTION, "H6"),
        ("T2.2", "narrative"): (None, NARRATIVE, EXECUTION, "I6"),
        ("T2.2.1", "actual"): (42.0, "42", EXECUTION, "E7"),
        ("T3.7", "status"): (None, "триває", EXECUTION, "H9"),
        ("T3.7", "narrative"): (None, "Співпрацю продовжено.", EXECUTION, "I9"),
        ("T3.7.1", "actual"): (1.0, "1", EXECUTION, "E10"),
        ("T4.2", "status"): (None, "виконано", EXECUTION, "H12"),
        ("T4.2", "narrative"): (None, "Проведено 8 000 консультацій.", EXECUTION, "I12"),
        ("T4.2.1", "actual"): (8000.0, "8000", EXECUTION, "E13"),
        ("T6.10", "status"): (None, "виконано", EXECUTION, "H15"),
        ("T6.10", "narrative"): (None, "Усіх звернень розглянуто.", EXECUTION, "I15"),
        ("T6.10.1", "actual"): (100.0, "100", EXECUTION, "E16"),
        ("T6.10.1", "numerator"): (12.0, "12", EXECUTION, "F16"),
        ("T6.10.1", "denominator"): (12.0, "12", EXECUTION, "G16"),
        ("P1", "text"): (None, "Продовжити фінансування заходу 4.2.", PROPOSALS, "B5"),
    }


def test_every_executors_template_filled_plausibly_is_accepted_without_findings(cat, tmp_path):
    for n, executor in enumerate(cat.expected_executors()):
        path = fill_workbook(template(cat, tmp_path, executor), tmp_path / f"{executor}.xlsx",
                             plausible_values(cat, executor, n))
        ret = read(path, cat)
        assert (ret.executor, status_of(ret), ret.findings) == (executor, ACCEPTED, []), executor
        expected = cat.measures_for(executor)
        assert {v.key for v in ret.values if v.field == "status"} == {m.id for m in expected}, executor


def test_bytes_and_path_read_the_same(cat, tmp_path):
    path = filled(cat, tmp_path, "return.xlsx")
    assert read_return(path.read_bytes(), path.name, cat) == read(path, cat)


def test_a_blank_template_is_read_with_a_warning_per_empty_required_cell(cat, tmp_path):
    path = filled(cat, tmp_path, "blank.xlsx", {"execution": {"T6.10": {"status": "не здійснювалось"}}})
    ret = read(path, cat)
    assert status_of(ret) == ACCEPTED_WARNINGS
    assert brief(ret.findings) == [
        (WARNING, "missing-value", FUNDING, "G5", "F.T2.2.SG.MINJUST", "", ""),
        (WARNING, "missing-value", FUNDING, "H5", "F.T2.2.SG.MINJUST", "", ""),
        (WARNING, "missing-value", FUNDING, "G6", "F.T4.2.SG.MINJUST", "", ""),
        (WARNING, "missing-value", FUNDING, "H6", "F.T4.2.SG.MINJUST", "", ""),
        (WARNING, "missing-value", EXECUTION, "H6", "T2.2", "", ""),
        (WARNING, "missing-value", EXECUTION, "I6", "T2.2", "", ""),
        (WARNING, "missing-value", EXECUTION, "E7", "T2.2.1", "", ""),
        (WARNING, "missing-value", EXECUTION, "H9", "T3.7", "", ""),
        (WARNING, "missing-value", EXECUTION, "I9", "T3.7", "", ""),
        (WARNING, "missing-value", EXECUTION, "E10", "T3.7.1", "", ""),
        (WARNING, "missing-value", EXECUTION, "H12", "T4.2", "", ""),
        (WARNING, "missing-value", EXECUTION, "I12", "T4.2", "", ""),
        (WARNING, "missing-value", EXECUTION, "E13", "T4.2.1", "", ""),
    ]  # T6.10 "не здійснювалось": its narrative and its indicator are not required
    assert ret.findings[0].message.startswith("Не заповнено: фактично профінансовано")
    assert [(v.key, v.field, v.text) for v in ret.values] == [("T6.10", "status", "не здійснювалось")]


# ---------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------

def test_numbers_typed_the_ukrainian_way(cat, tmp_path):
    values = merged(complete(), {
        "funding": {"F.T2.2.SG.MINJUST": {"financed": "8 814,5", "cash": "8\u00a0814,5"},
                    "F.T4.2.SG.MINJUST": {"nil": None, "financed": "1 234,50", "cash": "0,00"}},
        "execution": {"T2.2.1": {"actual": "42 "}, "T3.7.1": {"actual": "1"}, "T4.2.1": {"actual": "8\u00a0000"},
                      "T6.10.1": {"actual": "100%", "numerator": "—", "denominator": "-"}},
    })
    ret = read(filled(cat, tmp_path, "typed.xlsx", values), cat)
    got = values_by_key(ret)
    assert got[("F.T2.2.SG.MINJUST", "financed")] == (8814.5, "8 814,5", FUNDING, "G5")
    assert got[("F.T2.2.SG.MINJUST", "cash")] == (8814.5, "8\u00a0814,5", FUNDING, "H5")
    assert got[("F.T4.2.SG.MINJUST", "financed")] == (1234.5, "1 234,50", FUNDING, "G6")
    assert got[("F.T4.2.SG.MINJUST", "cash")] == (0.0, "0,00", FUNDING, "H6")
    assert got[("T2.2.1", "actual")] == (42.0, "42 ", EXECUTION, "E7")
    assert got[("T3.7.1", "actual")][0] == 1.0
    assert got[("T4.2.1", "actual")][0] == 8000.0
    assert got[("T6.10.1", "actual")] == (100.0, "100%", EXECUTION, "E16")
    # a dash means "nothing": kept as the executor's answer, without a number
    assert got[("T6.10.1", "numerator")] == (None, "—", EXECUTION, "F16")
    assert got[("T6.10.1", "denominator")] == (None, "-", EXECUTION, "G16")
    # the only findings: both lines have 0 planned for the year
    assert brief(ret.findings) == [
        (WARNING, "financed-over-planned", FUNDING, "G5", "F.T2.2.SG.MINJUST", "8814,5", "≤ 0"),
        (WARNING, "financed-over-planned", FUNDING, "G6", "F.T4.2.SG.MINJUST", "1234,5", "≤ 0"),
    ]
    assert status_of(ret) == ACCEPTED_WARNINGS


def test_percent_typed_with_the_percent_sign_in_excel(cat, tmp_path):
    """Excel stores "90%" typed into a cell as 0.9 with a percent format: it is 90 per cent."""
    path = filled(cat, tmp_path, "pct.xlsx", merged(complete(), {
        "execution": {"T6.10.1": {"actual": 0.9, "numerator": 9, "denominator": 10}}}))

    def percent_format(wb):
        wb[EXECUTION]["E16"].number_format = "0%"
    ret = read(edit(path, percent_format), cat)
    assert values_by_key(ret)[("T6.10.1", "actual")][:2] == (90.0, "90")
    assert ret.findings == []
    plain = read(filled(cat, tmp_path, "fraction.xlsx", merged(complete(), {
        "execution": {"T6.10.1": {"actual": 0.5, "numerator": None, "denominator": None}}})), cat)
    assert values_by_key(plain)[("T6.10.1", "actual")][0] == 0.5 and plain.findings == []


def test_text_error_values_and_uncomputed_formulas_are_errors(cat, tmp_path):
    path = filled(cat, tmp_path, "errors.xlsx", merged(complete(), {
        "funding": {"F.T2.2.SG.MINJUST": {"cash": "#REF!"}},
        "execution": {"T2.2.1": {"actual": "багато"}}}))

    def damage(wb):
        set_error(wb[EXECUTION]["E13"], "#DIV/0!")
        wb[EXECUTION]["E10"] = "=E7*2"  # openpyxl saves a formula without a computed value
    ret = read(edit(path, damage), cat)
    assert status_of(ret) == ACCEPTED_ERRORS
    assert brief(ret.findings) == [
        (ERROR, "error-value", FUNDING, "H5", "F.T2.2.SG.MINJUST", "#REF!", ""),
        (ERROR, "text-in-number", EXECUTION, "E7", "T2.2.1", "багато", "число"),
        (ERROR, "formula-no-value", EXECUTION, "E10", "T3.7.1", "=E7*2", ""),
        (ERROR, "error-value", EXECUTION, "E13", "T4.2.1", "#DIV/0!", ""),
    ]
    assert ret.findings[1].message == "Очікується число, а в клітинці текст «багато»; значення не прийнято."
    got = values_by_key(ret)
    for key, field in (("F.T2.2.SG.MINJUST", "cash"), ("T2.2.1", "actual"), ("T3.7.1", "actual"),
                       ("T4.2.1", "actual")):
        assert (key, field) not in got  # values that failed validation are not stored
    assert got[("F.T2.2.SG.MINJUST", "financed")][0] == 0.0 and got[("T6.10.1", "actual")][0] == 100.0


def test_a_date_in_a_number_cell_is_an_error(cat, tmp_path):
    """Typing "1.5" into a Ukrainian Excel gives the date 1 May."""
    path = edit(filled(cat, tmp_path, "date.xlsx"),
                lambda wb: wb[EXECUTION].__setitem__("E7", dt.datetime(2024, 5, 1)))
    ret = read(path, cat)
    assert brief(ret.findings) == [(ERROR, "text-in-number", EXECUTION, "E7", "T2.2.1", "2024-05-01", "число")]
    assert ret.findings[0].message == "Очікується число, а в клітинці дату «2024-05-01»; значення не прийнято."


def test_a_formula_with_a_computed_value_gives_that_value(cat, tmp_path):
    path = edit(filled(cat, tmp_path, "formula.xlsx"), lambda wb: wb[EXECUTION].__setitem__("E10", "=E7*2"))
    data = path.read_bytes()
    part = sheet_part(data, EXECUTION)
    xml = zipfile.ZipFile(io.BytesIO(data)).read(part)
    assert b"<f>E7*2</f><v></v>" in xml
    ret = read_return(rezip(data, {part: xml.replace(b"<f>E7*2</f><v></v>", b"<f>E7*2</f><v>84</v>")}), "f.xlsx", cat)
    assert ret.findings == [] and values_by_key(ret)[("T3.7.1", "actual")][:2] == (84.0, "84")


def test_negative_amounts_and_cash_over_financed(cat, tmp_path):
    ret = read(filled(cat, tmp_path, "neg.xlsx", merged(complete(), {
        "funding": {"F.T2.2.SG.MINJUST": {"financed": -5},
                    "F.T4.2.SG.MINJUST": {"nil": None, "financed": 10, "cash": 12.5}},
        "execution": {"T4.2.1": {"actual": -1}}})), cat)
    assert status_of(ret) == ACCEPTED_ERRORS
    assert brief(ret.findings) == [
        (ERROR, "negative", FUNDING, "G5", "F.T2.2.SG.MINJUST", "-5", "≥ 0"),
        (WARNING, "financed-over-planned", FUNDING, "G6", "F.T4.2.SG.MINJUST", "10", "≤ 0"),
        (ERROR, "cash-over-financed", FUNDING, "H6", "F.T4.2.SG.MINJUST", "12,5", "≤ 10"),
        (ERROR, "negative", EXECUTION, "E13", "T4.2.1", "-1", "≥ 0"),
    ]
    got = values_by_key(ret)
    assert got[("F.T4.2.SG.MINJUST", "financed")][0] == 10.0
    assert ("F.T4.2.SG.MINJUST", "cash") not in got and ("F.T2.2.SG.MINJUST", "financed") not in got
    assert got[("F.T2.2.SG.MINJUST", "cash")][0] == 0.0


def test_fractional_counts_and_percent_rules_are_warnings_and_keep_the_value(cat, tmp_path):
    ret = read(filled(cat, tmp_path, "warn.xlsx", merged(complete(), {
        "execution": {"T2.2.1": {"actual": 42.5}, "T6.10.1": {"actual": 120, "numerator": 13, "denominator": 12}}})),
        cat)
    assert status_of(ret) == ACCEPTED_WARNINGS
    assert brief(ret.findings) == [
        (WARNING, "fractional-count", EXECUTION, "E7", "T2.2.1", "42,5", "ціле число"),
        (WARNING, "percent-over-100", EXECUTION, "E16", "T6.10.1", "120", "0–100"),
        (WARNING, "numerator-over-denominator", EXECUTION, "F16", "T6.10.1", "13", "≤ 12"),
    ]
    got = values_by_key(ret)
    assert got[("T2.2.1", "actual")][0] == 42.5 and got[("T6.10.1", "actual")][0] == 120.0
    mismatch = read(filled(cat, tmp_path, "mismatch.xlsx", merged(complete(), {
        "execution": {"T6.10.1": {"actual": 50, "numerator": 3, "denominator": 4}}})), cat)
    assert brief(mismatch.findings) == [
        (WARNING, "percent-mismatch", EXECUTION, "E16", "T6.10.1", "50", "75")]


def test_choices_outside_the_lists(cat, tmp_path):
    ret = read(filled(cat, tmp_path, "choices.xlsx", merged(complete(), {
        "funding": {"F.T2.2.SG.MINJUST": {"nil": "так", "financed": 5},
                    "F.T4.2.SG.MINJUST": {"nil": "ні"}},
        "execution": {"T2.2": {"status": "зроблено"}, "T3.7": {"status": "  Виконано "}}})), cat)
    assert brief(ret.findings) == [
        (WARNING, "financed-over-planned", FUNDING, "G5", "F.T2.2.SG.MINJUST", "5", "≤ 0"),
        (WARNING, "nil-with-amount", FUNDING, "J5", "F.T2.2.SG.MINJUST", "так", ""),
        (WARNING, "missing-value", FUNDING, "G6", "F.T4.2.SG.MINJUST", "", ""),
        (WARNING, "missing-value", FUNDING, "H6", "F.T4.2.SG.MINJUST", "", ""),
        (WARNING, "invalid-choice", FUNDING, "J6", "F.T4.2.SG.MINJUST", "ні", "так"),
        (WARNING, "invalid-choice", EXECUTION, "H6", "T2.2", "зроблено", STATUSES),
    ]
    got = values_by_key(ret)
    assert got[("T3.7", "status")][1] == "виконано"  # case and spaces do not matter
    assert got[("T2.2", "status")][1] == "зроблено" and got[("F.T4.2.SG.MINJUST", "nil")][1] == "ні"


# ---------------------------------------------------------------------------------
# mapping by row key
# ---------------------------------------------------------------------------------

def test_inserted_hidden_resorted_rows_and_renamed_sheets_still_map(cat, tmp_path):
    def damage(wb):
        ex = wb[EXECUTION]
        ex.insert_rows(8, 2)                       # two rows before T3: everything below moves down by 2
        set_text(ex["E8"], "5")                    # typed into an inserted row, which has no key
        ex.row_dimensions[7].hidden = True         # T2.2.1 hidden
        fu = wb[FUNDING]
        for col in range(1, 13):                   # the two funding lines swapped
            a, b = fu.cell(5, col), fu.cell(6, col)
            a.value, b.value = b.value, a.value
        fu.title, ex.title, wb[PROPOSALS].title = "Фінанси", "Виконання 2024", "Пропозиції"
    ret = read(edit(filled(cat, tmp_path, "moved.xlsx"), damage), cat)
    assert brief(ret.findings) == [(WARNING, "row-without-key", "Виконання 2024", "A8", "", "", "")]
    got = values_by_key(ret)
    assert got[("F.T2.2.SG.MINJUST", "financed")] == (0.0, "0", "Фінанси", "G6")
    assert got[("F.T4.2.SG.MINJUST", "nil")] == (None, "так", "Фінанси", "J5")
    assert got[("T2.2.1", "actual")] == (42.0, "42", "Виконання 2024", "E7")
    assert got[("T3.7.1", "actual")] == (1.0, "1", "Виконання 2024", "E12")
    assert got[("T6.10.1", "denominator")] == (12.0, "12", "Виконання 2024", "G18")
    assert got[("P1", "text")][2:] == ("Пропозиції", "B5")
    assert len(ret.values) == len(read(filled(cat, tmp_path, "plain.xlsx"), cat).values)


def test_deleted_unknown_foreign_and_repeated_rows(cat, tmp_path):
    def damage(wb):
        ex = wb[EXECUTION]
        set_text(ex["A9"], "T1.1")       # a measure MINJUST is not named for (MSP, REGIONS, HROMADAS)
        set_text(ex["A10"], "T9.9.9")    # no such row in the programme
        ex.delete_rows(13)               # T4.2.1 gone; T6… move up by one
        fu = wb[FUNDING]
        for col in range(1, 13):         # F.T2.2 repeated below
            fu.cell(7, col).value = fu.cell(5, col).value
    ret = read(edit(filled(cat, tmp_path, "rows.xlsx"), damage), cat)
    assert status_of(ret) == ACCEPTED_ERRORS
    assert brief(ret.findings) == [
        (ERROR, "duplicate-key", FUNDING, "A7", "F.T2.2.SG.MINJUST", "F.T2.2.SG.MINJUST", ""),
        (ERROR, "missing-row", EXECUTION, "", "T3.7", "", "T3.7"),
        (ERROR, "missing-row", EXECUTION, "", "T3.7.1", "", "T3.7.1"),
        (ERROR, "missing-row", EXECUTION, "", "T4.2.1", "", "T4.2.1"),
        (ERROR, "not-executor-row", EXECUTION, "A9", "T1.1", "T1.1", ""),
        (ERROR, "unknown-key", EXECUTION, "A10", "T9.9.9", "T9.9.9", ""),
    ]
    assert "не стосується виконавця MINJUST" in ret.findings[4].message
    got = values_by_key(ret)
    assert not {k for k, _ in got} & {"T1.1", "T9.9.9", "T3.7", "T3.7.1", "T4.2.1"}
    assert got[("T6.10.1", "actual")][3] == "E15"
    assert got[("F.T2.2.SG.MINJUST", "financed")][3] == "G5"


def test_columns_found_by_codes_and_labels(cat, tmp_path):
    def damage(wb):
        wb[EXECUTION].delete_rows(1)     # hidden code row gone: header labels find the columns
        wb[FUNDING].insert_cols(3)       # a column of the executor's own: codes move the rest right
        wb[FUNDING]["C4"] = "Наша примітка"
    ret = read(edit(filled(cat, tmp_path, "cols.xlsx"), damage), cat)
    assert ret.findings == []
    got = values_by_key(ret)
    assert got[("F.T2.2.SG.MINJUST", "financed")][3] == "H5"
    assert got[("F.T2.2.SG.MINJUST", "budget_code")][3] == "J5"
    assert got[("F.T4.2.SG.MINJUST", "nil")][3] == "K6"
    assert got[("T2.2.1", "actual")][3] == "E6"
    assert got[("T6.10.1", "numerator")] == (12.0, "12", EXECUTION, "F15")


def test_without_code_and_header_rows_columns_are_assumed(cat, tmp_path):
    ret = read(edit(filled(cat, tmp_path, "nohead.xlsx"), lambda wb: wb[EXECUTION].delete_rows(1, 4)), cat)
    assert brief(ret.findings) == [(WARNING, "columns-assumed", EXECUTION, "", "", "", "")]
    got = values_by_key(ret)
    assert got[("T2.2.1", "actual")] == (42.0, "42", EXECUTION, "E3")
    assert got[("T6.10.1", "actual")][3] == "E12"


def test_a_copied_data_sheet_is_not_read_twice(cat, tmp_path):
    def copy_sheet(wb):
        copy = wb.copy_worksheet(wb[EXECUTION])
        copy.title = "Виконання (2)"
        copy["E7"] = 999
    ret = read(edit(filled(cat, tmp_path, "copy.xlsx"), copy_sheet), cat)
    assert brief(ret.findings) == [(WARNING, "duplicate-sheet", "Виконання (2)", "", "", "Виконання (2)", EXECUTION)]
    assert values_by_key(ret)[("T2.2.1", "actual")] == (42.0, "42", EXECUTION, "E7")


def test_missing_sheet_and_missing_column(cat, tmp_path):
    def damage(wb):
        del wb[EXECUTION]
        wb[FUNDING].delete_cols(8)       # "cash" gone: budget code, nil and comment move left
    ret = read(edit(filled(cat, tmp_path, "gone.xlsx"), damage), cat)
    assert brief(ret.findings) == [
        (ERROR, "missing-sheet", "", "", "", "", EXECUTION),
        (ERROR, "missing-column", FUNDING, "", "", "", "Касові видатки, тис. грн"),
    ]
    got = values_by_key(ret)
    assert got[("F.T2.2.SG.MINJUST", "financed")][3] == "G5"
    assert got[("F.T2.2.SG.MINJUST", "budget_code")][3] == "H5"
    assert got[("F.T4.2.SG.MINJUST", "nil")][3] == "I6"
    assert not any(v.sheet == EXECUTION for v in ret.values)


# ---------------------------------------------------------------------------------
# identification
# ---------------------------------------------------------------------------------

def test_without_the_meta_sheet_the_custom_properties_identify(cat, tmp_path):
    ret = read(edit(filled(cat, tmp_path, "nometa.xlsx"), lambda wb: wb.remove(wb[L.SHEET_META])), cat)
    assert (ret.executor, ret.period, ret.identified_by, ret.template_version) == (
        "MINJUST", "2024", "properties", cat.template_version)
    assert ret.findings == [] and status_of(ret) == ACCEPTED


def test_copy_pasted_workbook_is_identified_by_its_title_sheet(cat, tmp_path):
    src = filled(cat, tmp_path, "original.xlsx")
    ret = read(copy_pasted(src, tmp_path / "copy.xlsx", {FUNDING: "Аркуш2"}), cat)
    assert brief(ret.findings) == [(WARNING, "identified-by-title", "", "", "", MINJUST, "MINJUST")]
    assert (ret.executor, ret.period, ret.identified_by, ret.template_version) == ("MINJUST", "2024", "title", None)
    assert status_of(ret) == ACCEPTED_WARNINGS
    assert values_by_key(ret)[("F.T2.2.SG.MINJUST", "budget_code")][2:] == ("Аркуш2", "I5")
    assert len(ret.values) == len(read(src, cat).values)


def test_edited_metadata_is_an_error_and_the_title_sheet_decides(cat, tmp_path):
    ret = read(edit(filled(cat, tmp_path, "edited.xlsx"), lambda wb: set_meta(wb, "executor_code", "MVS")), cat)
    assert brief(ret.findings) == [(ERROR, "metadata-edited", "", "", "", "MVS", "MINJUST")]
    assert (ret.executor, ret.identified_by) == ("MINJUST", "title")
    assert status_of(ret) == ACCEPTED_ERRORS and values_by_key(ret)[("T2.2.1", "actual")][0] == 42.0

    period = read(edit(filled(cat, tmp_path, "period.xlsx"), lambda wb: set_meta(wb, "period", "2024-Q3")), cat)
    assert brief(period.findings) == [(ERROR, "metadata-edited", "", "", "", "2024-Q3", "2024")]
    assert (period.executor, period.period, period.identified_by) == ("MINJUST", "2024", "meta")


def test_an_unknown_name_on_the_title_sheet_is_a_warning_when_the_metadata_is_intact(cat, tmp_path):
    ret = read(edit(filled(cat, tmp_path, "title.xlsx"),
                    lambda wb: set_title(wb, L.TITLE_EXECUTOR_LABEL, "Міністерство чогось іншого")), cat)
    assert brief(ret.findings) == [(WARNING, "title-edited", "", "", "", "Міністерство чогось іншого", MINJUST)]
    assert (ret.executor, ret.identified_by) == ("MINJUST", "meta")


def test_stale_template_version_is_a_warning_when_every_key_maps(cat, tmp_path):
    ret = read(edit(filled(cat, tmp_path, "stale.xlsx"),
                    lambda wb: set_meta(wb, "template_version", "2023.9+0123456789ab")), cat)
    assert brief(ret.findings) == [(WARNING, "stale-template", "", "", "", "2023.9+0123456789ab",
                                    cat.template_version)]
    assert ret.template_version == "2023.9+0123456789ab" and status_of(ret) == ACCEPTED_WARNINGS


def test_unidentifiable_files_are_quarantined(cat, tmp_path):
    src = filled(cat, tmp_path, "src.xlsx")

    def conflicting(wb):  # no title sheet, and the two metadata sources disagree
        wb.remove(wb[L.SHEET_TITLE])
        set_meta(wb, "executor_code", "MVS")
    ret = read(edit(src, conflicting, tmp_path / "conflict.xlsx"), cat)
    assert brief(ret.findings) == [(ERROR, "not-identified", "", "", "", "MVS, MINJUST", "")]
    assert status_of(ret) == QUARANTINED and ret.values == []

    def nothing(wb):
        wb.remove(wb[L.SHEET_TITLE])
        wb.remove(wb[L.SHEET_META])
        drop_properties(wb)
    ret = read(edit(src, nothing, tmp_path / "nothing.xlsx"), cat)
    assert [f.code for f in ret.findings] == ["not-identified"] and status_of(ret) == QUARANTINED

    def stranger(wb):
        wb.remove(wb[L.SHEET_META])
        drop_properties(wb)
        set_title(wb, L.TITLE_EXECUTOR_LABEL, "Міністерство магії")
    ret = read(edit(src, stranger, tmp_path / "stranger.xlsx"), cat)
    assert brief(ret.findings) == [(ERROR, "unknown-executor", "", "", "", "Міністерство магії", "")]

    def nobody(wb):
        wb.remove(wb[L.SHEET_TITLE])
        set_meta(wb, "executor_code", "NOBODY")
        set_property(wb, "executor_code", "NOBODY")
    ret = read(edit(src, nobody, tmp_path / "nobody.xlsx"), cat)
    assert brief(ret.findings) == [(ERROR, "unknown-executor", "", "", "", "NOBODY", "")]
    assert status_of(ret) == QUARANTINED


def test_a_period_of_another_cycle_and_another_programme_are_quarantined(cat, tmp_path):
    src = filled(cat, tmp_path, "src.xlsx")

    def year_2023(wb):
        set_meta(wb, "period", "2023")
        set_property(wb, "period", "2023")
        set_title(wb, L.TITLE_PERIOD_LABEL, "2023 (2023 рік)")
    ret = read(edit(src, year_2023, tmp_path / "2023.xlsx"), cat)
    assert brief(ret.findings) == [(ERROR, "wrong-period", "", "", "", "2023", "2024 або 2024-Q1…Q4")]
    assert (ret.executor, ret.period, status_of(ret), ret.values) == ("MINJUST", "2023", QUARANTINED, [])

    ret = read(edit(src, lambda wb: set_meta(wb, "programme_code", "123-р"), tmp_path / "other.xlsx"), cat)
    assert brief(ret.findings) == [(ERROR, "wrong-programme", "", "", "", "123-р", "496-р")]
    assert status_of(ret) == QUARANTINED


# ---------------------------------------------------------------------------------
# formats and hostile files
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data, found", [
    (b"%PDF-1.7 a scanned letter", "документ PDF"),
    (b"", "порожній файл"),
    (b"just text, not a workbook", "невідомий формат"),
])
def test_not_a_workbook(cat, data, found):
    ret = read_return(data, "лист.xlsx", cat)
    assert brief(ret.findings) == [(ERROR, "not-a-workbook", "", "", "", found, ".xlsx, .xlsm, .xls, .ods")]
    assert (status_of(ret), ret.executor, ret.values) == (QUARANTINED, None, [])


def test_word_documents_are_not_workbooks_and_a_cut_workbook_is_called_cut(cat, tmp_path):
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    assert read_return(docx.getvalue(), "звіт.docx", cat).findings[0].found == "документ Word (.docx)"
    data = filled(cat, tmp_path, "r.xlsx").read_bytes()
    cut = read_return(data[: len(data) // 2], "r.xlsx", cat)
    assert [f.code for f in cut.findings] == ["unreadable"]
    assert cut.findings[0].message.startswith("Файл обрізано") and status_of(cut) == QUARANTINED
    noise = read_return(b"PK\x03\x04" + bytes(200), "r.xlsx", cat)
    assert [(f.code, f.found) for f in noise.findings] == [("not-a-workbook", "пошкоджений архів ZIP")]


def test_a_workbook_with_broken_xml_is_unreadable(cat, tmp_path):
    data = filled(cat, tmp_path, "r.xlsx").read_bytes()
    broken = rezip(data, {sheet_part(data, FUNDING): b"<worksheet><sheetData><row r='1'><c r='A1'><v>1</v></c>"})
    ret = read_return(broken, "r.xlsx", cat)
    assert [f.code for f in ret.findings] == ["unreadable"] and status_of(ret) == QUARANTINED
    assert ret.findings[0].message.startswith("Файл пошкоджено: вміст книги (XML) записано з помилками")
    assert "XmlError" in ret.findings[0].detail and "XmlError" not in ret.findings[0].message


def test_password_protected_files_are_recognised(cat):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 50
    assert sniff_format(ole) == "encrypted"
    ret = read_return(ole, "secret.xlsx", cat)
    assert [f.code for f in ret.findings] == ["encrypted"] and status_of(ret) == QUARANTINED


def test_a_far_away_cell_is_refused_before_parsing(cat, tmp_path):
    """calamine would allocate the whole rectangle up to XFD1048576 and abort the process."""
    path = edit(filled(cat, tmp_path, "far.xlsx"), lambda wb: wb[EXECUTION].__setitem__("XFD1048576", 1))
    ret = read(path, cat)
    assert brief(ret.findings) == [(ERROR, "too-large", EXECUTION, "", "", "1048576 × 16384",
                                    f"≤ {LIMITS.max_cells} клітинок")]
    assert status_of(ret) == QUARANTINED
    near = read(edit(filled(cat, tmp_path, "near.xlsx"), lambda wb: wb[EXECUTION].__setitem__("AA1500", "x")), cat)
    assert status_of(near) == ACCEPTED  # a big but bounded sheet is read


def test_zip_bombs_are_refused_before_parsing(cat, tmp_path):
    data = filled(cat, tmp_path, "r.xlsx").read_bytes()
    ratio = read_return(rezip(data, add={"xl/media/image1.bin": bytes(3 * 1024 * 1024)}), "r.xlsx", cat)
    assert [(f.code, f.expected) for f in ratio.findings] == [("zip-bomb", "≤ 200:1")]
    many = read_return(rezip(data, add={f"xl/media/{i}.bin": b"x" for i in range(2001)}), "r.xlsx", cat)
    assert [(f.code, f.expected) for f in many.findings] == [("zip-bomb", "≤ 2000")]
    small = Limits(max_total_bytes=100_000)
    total = read_return(data, "r.xlsx", cat, small)
    assert [(f.code, f.expected) for f in total.findings] == [("too-large", "≤ 100000 байт")]
    assert read_return(data, "r.xlsx", cat, Limits(max_file_bytes=1000)).findings[0].code == "too-large"


def test_a_zip_that_lies_about_a_part_size_is_refused(cat, tmp_path):
    data = bytearray(filled(cat, tmp_path, "r.xlsx").read_bytes())
    part = sheet_part(bytes(data), FUNDING).encode()
    at = zipfile.ZipFile(io.BytesIO(bytes(data))).start_dir
    while bytes(data[at + 46:at + 46 + int.from_bytes(data[at + 28:at + 30], "little")]) != part:
        at = data.index(b"PK\x01\x02", at + 4)   # the next central directory entry
    data[at + 24:at + 28] = (100).to_bytes(4, "little")  # declared uncompressed size: 100 bytes
    ret = read_return(bytes(data), "r.xlsx", cat)
    # inflated no further than declared (+1 MiB to tell damage from a bomb): a few KB more is a damaged size
    # field, not a bomb (a part that inflates far beyond what it declares is: test_hostile's lying bomb)
    assert [f.code for f in ret.findings] == ["unreadable"] and status_of(ret) == QUARANTINED
    assert ret.findings[0].message.startswith("Файл пошкоджено: стиснені дані") and part.decode() in ret.findings[0].detail


def test_macro_enabled_workbooks_are_read_and_macros_never_run(cat, tmp_path):
    data = filled(cat, tmp_path, "r.xlsx").read_bytes()
    types = zipfile.ZipFile(io.BytesIO(data)).read("[Content_Types].xml")
    xlsm = rezip(data, {"[Content_Types].xml": types.replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")}, add={"xl/vbaProject.bin": b"\x00" * 64})
    assert sniff_format(xlsm) == "xlsm"
    path = tmp_path / "r.xlsm"
    path.write_bytes(xlsm)
    ret = read(path, cat)
    assert status_of(ret) == ACCEPTED and len(ret.values) == len(read_return(data, "r.xlsx", cat).values)


@pytest.mark.slow  # LibreOffice
def test_ods_and_xls_saved_by_libreoffice_are_read_alike(cat, tmp_path):
    need_binary("soffice")
    from consolidate.office import convert

    src = filled(cat, tmp_path, "return.xlsx", merged(complete(), {"execution": {"T2.2.1": {"actual": 42.5}}}))
    expected = read(src, cat)
    for fmt in ("ods", "xls"):
        converted = convert(src, fmt, tmp_path / fmt)
        assert sniff_format(converted.read_bytes()) == fmt
        ret = read(converted, cat)
        assert (ret.executor, ret.period, ret.identified_by) == ("MINJUST", "2024", "meta"), fmt
        assert brief(ret.findings) == brief(expected.findings), fmt
        assert {k: v[0] for k, v in values_by_key(ret).items()} == {k: v[0] for k, v in values_by_key(expected).items()}
        assert {k: v[3] for k, v in values_by_key(ret).items()} == {k: v[3] for k, v in values_by_key(expected).items()}
