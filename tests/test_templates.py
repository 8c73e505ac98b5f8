"""Executor templates (issue 3): every generated workbook against the catalogue, read back with
openpyxl and python-calamine; protection, validations, identification, determinism, the
self-check recalculated by LibreOffice, filling as an executor would, and a PDF rendering."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.utils import get_column_letter, range_boundaries
from python_calamine import CalamineWorkbook

from consolidate import layout as L
from consolidate import office
from consolidate.catalogue import UNIT_LABELS, load_catalogue
from consolidate.cli import main
from consolidate.errors import ConsolidateError
from consolidate.filler import fill_workbook
from consolidate.template import (CHECK_TOTAL, SELF_CHECK_CODES, TITLE_CHECK_CODE_COL, TITLE_CHECK_VALUE_COL,
                                  build_workbook, empty_rows, file_name, meta_values, self_check_counts,
                                  template_id, write_templates)

from .conftest import ROOT, need_binary

PERIOD = "2024"
PASSWORD = "test-pass"
CAT = load_catalogue(ROOT / "templates")
EXECUTORS = CAT.expected_executors()
KINDS = {"funding": (L.SHEET_FUNDING, L.FUNDING_COLUMNS), "execution": (L.SHEET_EXECUTION, L.EXECUTION_COLUMNS),
         "proposals": (L.SHEET_PROPOSALS, L.PROPOSAL_COLUMNS)}
CUSTOM_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
DATA_SHEETS = (L.SHEET_FUNDING, L.SHEET_EXECUTION, L.SHEET_PROPOSALS)


# ---------------------------------------------------------------------------------
# helpers: what the catalogue says a workbook must hold, and reading it back by the layout contract
# ---------------------------------------------------------------------------------

def expected_execution_rows(code: str) -> list[tuple[str, str]]:
    """(key, row type) of «II. Виконання» in order: task, its measures, each measure's indicators."""
    rows, task = [], None
    for m in CAT.measures_for(code):
        if m.task_id != task:
            task = m.task_id
            rows.append((task, "task"))
        rows.append((m.id, "measure"))
        rows += [(i.id, "indicator") for i in CAT.indicators_of(m.id)]
    return rows


def expected_row_keys(code: str) -> list[tuple[str, str, str]]:
    keys = [(f.id, "funding", "funding") for f in CAT.funding_for(code)]
    keys += [(k, "execution", t) for k, t in expected_execution_rows(code)]
    keys += [(k, "proposals", "proposal") for k in L.PROPOSAL_KEYS]
    return keys


def calamine_rows(path: Path, kind: str) -> list[dict]:
    """Data rows of one data sheet as {column code: value}, located as intake does: codes in row 1,
    row keys in column A."""
    sheet, _ = KINDS[kind]
    data = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    codes = [str(c) for c in data[L.CODE_ROW - 1]]
    out = []
    for r in data[L.FIRST_DATA_ROW - 1:]:
        row = {codes[i]: (r[i] if i < len(r) else "") for i in range(len(codes)) if codes[i]}
        if row.get("key"):
            out.append(row)
    return out


def meta_sheet(rows: list[list]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Key/value part and row-keys block of the meta sheet."""
    values, keys, in_keys = {}, [], False
    for r in rows:
        r = [("" if v is None else v) for v in r] + ["", "", ""]
        if in_keys:
            keys.append((str(r[0]), str(r[1]), str(r[2])))
        elif r[0] == L.META_ROW_KEYS:
            in_keys, count = True, int(float(r[1]))
        elif r[0] in L.META_KEYS:
            values[r[0]] = str(r[1])
    assert in_keys, "meta sheet has no row-keys block"
    assert count == len(keys)
    return values, keys


def custom_properties(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("docProps/custom.xml"))
    return {p.get("name"): "".join(p.itertext()) for p in root.iter(f"{CUSTOM_NS}property")}


def title_checks(path: Path) -> dict[str, object]:
    """Self-check code -> value as cached in the file (calamine reads cached formula results)."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(L.SHEET_TITLE).to_python()
    return {r[TITLE_CHECK_CODE_COL]: r[TITLE_CHECK_VALUE_COL] for r in rows
            if len(r) > TITLE_CHECK_CODE_COL and r[TITLE_CHECK_CODE_COL] in SELF_CHECK_CODES}


def input_cells(code: str) -> dict[str, dict[tuple[int, str], str]]:
    """sheet -> {(row, column code): input type} of every cell the executor may edit."""
    out: dict[str, dict] = {s: {} for s in DATA_SHEETS}
    r = L.FIRST_DATA_ROW
    for _ in CAT.funding_for(code):
        for col in ("financed", "cash"):
            out[L.SHEET_FUNDING][(r, col)] = "amount"
        out[L.SHEET_FUNDING][(r, "nil")] = "nil"
        out[L.SHEET_FUNDING][(r, "budget_code")] = "text"
        out[L.SHEET_FUNDING][(r, "comment")] = "text"
        r += 1
    r = L.FIRST_DATA_ROW
    for key, typ in expected_execution_rows(code):
        if typ == "measure":
            out[L.SHEET_EXECUTION][(r, "status")] = "status"
            out[L.SHEET_EXECUTION][(r, "narrative")] = "text"
        elif typ == "indicator":
            unit = CAT.get(key).unit
            out[L.SHEET_EXECUTION][(r, "actual")] = {"count": "count", "percent": "percent",
                                                     "text": "text"}.get(unit, "number")
            if unit == "percent":
                out[L.SHEET_EXECUTION][(r, "numerator")] = "number"
                out[L.SHEET_EXECUTION][(r, "denominator")] = "number"
        r += 1
    for i, _ in enumerate(L.PROPOSAL_KEYS):
        out[L.SHEET_PROPOSALS][(L.FIRST_DATA_ROW + i, "text")] = "text"
    return out


def sqref_cells(sqref) -> set[str]:
    cells = set()
    for part in str(sqref).split():
        c1, r1, c2, r2 = range_boundaries(part)
        cells |= {f"{get_column_letter(c)}{r}" for c in range(c1, c2 + 1) for r in range(r1, r2 + 1)}
    return cells


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("templates")
    files = write_templates(CAT, out, PERIOD, PASSWORD)
    return {f.executor: f for f in files}


# ---------------------------------------------------------------------------------
# files, names, manifest
# ---------------------------------------------------------------------------------

def test_one_workbook_per_executor_and_manifest(generated):
    assert len(EXECUTORS) == 46
    assert list(generated) == EXECUTORS
    folder = next(iter(generated.values())).path.parent
    assert folder.name == PERIOD
    with (folder / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        manifest = list(csv.DictReader(fh))
    assert [r["executor"] for r in manifest] == EXECUTORS
    for row in manifest:
        f = generated[row["executor"]]
        assert row["file"] == f.path.name == file_name(CAT, f.executor, PERIOD)
        assert CAT.registry[f.executor].short_name in row["file"] and PERIOD in row["file"]
        assert row["sha256"] == hashlib.sha256(f.path.read_bytes()).hexdigest()
        assert row["template_version"] == CAT.template_version
        assert row["template_id"] == template_id(CAT, f.executor, PERIOD)
    assert sorted(p.name for p in folder.glob("*.xlsx")) == sorted(r["file"] for r in manifest)


def test_subset_keeps_manifest_rows_of_others(tmp_path):
    write_templates(CAT, tmp_path, PERIOD, PASSWORD, ["MSP", "UA-07"])
    write_templates(CAT, tmp_path, PERIOD, PASSWORD, ["UA-21"])
    with (tmp_path / PERIOD / "manifest.csv").open(encoding="utf-8") as fh:
        assert [r["executor"] for r in csv.DictReader(fh)] == ["MSP", "UA-07", "UA-21"]
    with pytest.raises(ConsolidateError, match="Невідомі виконавці: NOPE"):
        write_templates(CAT, tmp_path, PERIOD, PASSWORD, ["NOPE"])
    with pytest.raises(ConsolidateError, match="Неправильний звітний період"):
        write_templates(CAT, tmp_path, "2024-Q5", PASSWORD, ["MSP"])


# ---------------------------------------------------------------------------------
# content against the catalogue (calamine), every executor
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("code", EXECUTORS)
def test_content_matches_catalogue_calamine(generated, code):
    path = generated[code].path
    wb = CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names == [L.SHEET_TITLE, *DATA_SHEETS, L.SHEET_META]
    states = {s.name: str(s.visible) for s in wb.sheets_metadata}
    assert "veryhidden" in states[L.SHEET_META].lower()
    assert all("visible" == states[s].split(".")[-1].lower() for s in (L.SHEET_TITLE, *DATA_SHEETS))

    title = wb.get_sheet_by_name(L.SHEET_TITLE).to_python()
    labels = {r[0]: r[1] for r in title if r and r[0]}
    ex = CAT.registry[code]
    assert labels[L.TITLE_EXECUTOR_LABEL] == ex.full_name
    assert labels[L.TITLE_PERIOD_LABEL].startswith(PERIOD)
    assert labels["Строк подання:"] == CAT.deadline(PERIOD).strftime("%d.%m.%Y")
    assert labels["Програма:"] == CAT.programme.title
    assert labels["З питань заповнення звертайтеся:"]

    # funding: the executor's lines only (an oblast's local-budget lines are in its own workbook)
    lines = CAT.funding_for(code)
    rows = calamine_rows(path, "funding")
    assert [r["key"] for r in rows] == [f.id for f in lines]
    for r, f in zip(rows, lines):
        m = CAT.measure(f.measure_id)
        assert r["measure"] == f"{m.number}) {m.text}"
        assert r["task"].startswith(f"{CAT.task(m.task_id).number}. ")
        assert r["source"] == f.source_label
        for col in ("programme_amount", "planned"):
            assert r[col] == ("" if getattr(f, col) is None else getattr(f, col))
        assert r["budget_code"] == f.budget_code
        assert r["financed"] == r["cash"] == r["nil"] == r["comment"] == ""
        assert r["required"] == 1
    # independent of funding_for: a line's id ends with its budget holder's code
    assert [r["key"] for r in rows] == [f.id for f in CAT.funding if f.id.endswith("." + code)]
    if code == "UA-07":
        assert {"F.T2.1.LOC.UA-07", "F.T4.1.LOC.UA-07"} == {r["key"] for r in rows}

    # execution: every measure naming the executor, with its indicators
    rows = calamine_rows(path, "execution")
    assert [r["key"] for r in rows] == [k for k, _ in expected_execution_rows(code)]
    measures = {m.id for m in CAT.measures_for(code)}
    assert measures and measures == {r["key"] for r in rows if r["required"] == 2}
    for r in rows:
        item = CAT.get(r["key"])
        if r["key"] in measures:
            assert r["item"].startswith(f"{item.number}) {item.text}")
            assert r["status"] == r["narrative"] == ""
        elif r["required"] == 1:
            assert r["item"].strip() == item.name
            assert r["unit"] == UNIT_LABELS[item.unit]
            if item.planned is None:
                assert r["planned"] == ""
            elif CAT.executors_of(item.measure_id) == [code]:
                assert r["planned"] == item.planned  # the only executor: the plan is its own
            else:
                assert r["planned"].endswith("(план на програму загалом)") and r["planned"] != item.planned
            assert r["actual"] == ""
        else:
            assert r["item"] == f"{item.number}. {item.name}"
    assert [r["key"] for r in calamine_rows(path, "proposals")] == list(L.PROPOSAL_KEYS)

    # identification: meta sheet (key/values and row keys) and custom properties agree
    values, keys = meta_sheet(wb.get_sheet_by_name(L.SHEET_META).to_python())
    assert values == meta_values(CAT, code, PERIOD, dt.datetime(2000, 1, 1))
    assert tuple(values) == L.META_KEYS
    assert keys == expected_row_keys(code)
    props = custom_properties(path)
    assert props == {L.CUSTOM_PREFIX + k: v for k, v in values.items()}

    # the self-check's cached values are the truth for the empty template
    assert title_checks(path) == {k: float(v) for k, v in self_check_counts(*empty_rows(CAT, code)).items()}


# ---------------------------------------------------------------------------------
# protection, validations, conditional formats, print settings (openpyxl), every executor
# ---------------------------------------------------------------------------------

EXPECTED_DV = {
    "amount": ("decimal", "greaterThanOrEqual", "0", None),
    "number": ("decimal", "greaterThanOrEqual", "0", None),
    "count": ("whole", "greaterThanOrEqual", "0", None),
    "percent": ("decimal", None, "0", "100"),  # "between" is the default operator (not written)
    "status": ("list", None, '"' + ",".join(L.STATUS_VALUES) + '"', None),
    "nil": ("list", None, f'"{L.NIL_FUNDING}"', None),
    "text": ("textLength", "lessThanOrEqual", None, None),
}


@pytest.mark.parametrize("code", EXECUTORS)
def test_protection_validation_formatting_openpyxl(generated, code):
    wb = openpyxl.load_workbook(generated[code].path)
    assert wb[L.SHEET_META].sheet_state == "veryHidden"
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title
        assert ws.protection.password, ws.title
    # title sheet: nothing to edit
    title = wb[L.SHEET_TITLE]
    assert all(c.protection.locked for row in title.iter_rows() for c in row)
    inputs = input_cells(code)
    for sheet in DATA_SHEETS:
        ws = wb[sheet]
        columns = KINDS[{L.SHEET_FUNDING: "funding", L.SHEET_EXECUTION: "execution",
                         L.SHEET_PROPOSALS: "proposals"}[sheet]][1]
        col_of = {c: i + 1 for i, (c, _) in enumerate(columns)}
        assert [ws.cell(L.CODE_ROW, i).value for i in range(1, len(columns) + 1)] == [c for c, _ in columns]
        assert ws.row_dimensions[L.CODE_ROW].hidden
        assert ws.column_dimensions["A"].hidden
        expected = {(r, col_of[c]) for r, c in inputs[sheet]}
        unlocked = {(c.row, c.column) for row in ws.iter_rows(max_row=ws.max_row + 2, max_col=ws.max_column + 2)
                    for c in row if not c.protection.locked}
        assert unlocked == expected, sheet
        # every input cell has exactly one validation of the right type, with Ukrainian messages
        dvs = {}
        for dv in ws.data_validations.dataValidation:
            for ref in sqref_cells(dv.sqref):
                assert ref not in dvs, f"{sheet}!{ref} has two validations"
                dvs[ref] = dv
        for (r, c), kind in inputs[sheet].items():
            ref = f"{get_column_letter(col_of[c])}{r}"
            dv = dvs.get(ref)
            assert dv is not None, f"{code} {sheet}!{ref} ({c}) has no validation"
            typ, op, f1, f2 = EXPECTED_DV[kind]
            assert (dv.type, None if dv.operator in (None, "between") else dv.operator) == (typ, op), f"{sheet}!{ref}"
            if f1 is not None:
                assert dv.formula1 == f1
            if f2 is not None:
                assert dv.formula2 == f2
            assert dv.showErrorMessage and dv.showInputMessage and dv.errorStyle in (None, "stop")
            assert re.search("[А-Яа-яІіЇїЄєҐґ]", dv.prompt) and re.search("[А-Яа-яІіЇїЄєҐґ]", dv.error)
        assert set(dvs) == {f"{get_column_letter(col_of[c])}{r}" for r, c in inputs[sheet]}
        # print-ready
        assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"
        # one page wide; «III. Пропозиції» (five boxes) on one page
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.page_setup.fitToHeight == (None if sheet == "III. Пропозиції" else 0)
        assert ws.page_setup.fitToWidth in (None, 1)
        assert ws.print_title_rows == "$4:$4"
        assert ws.freeze_panes in ("C5", "B5")
        assert ws.cell(L.FIRST_DATA_ROW, 2).alignment.wrap_text

    # conditional formats: empty required inputs and cash > financed, percent > 100, negative numbers
    def rules(ws):
        return [(str(cf.sqref), f) for cf in ws.conditional_formatting for r in cf.rules for f in r.formula]

    def rules_at(ws, ref):
        """The formulas applying to a cell, as Excel reads them there: a rule over several columns is
        written for its first column; its relative references to that column follow the cell."""
        col = re.match("[A-Z]+", ref).group()
        out = []
        for sq, f in rules(ws):
            if ref in sqref_cells(sq):
                top = re.match("[A-Z]+", sq).group()
                out.append(re.sub(rf"(?<![$A-Z]){top}(?=\d)", col, f))
        return out

    fund = wb[L.SHEET_FUNDING]
    if CAT.funding_for(code):
        assert any("ISBLANK(G5)" in f and '$J5<>"так"' in f for f in rules_at(fund, "G5"))
        assert any("ISBLANK(H5)" in f and '$J5<>"так"' in f for f in rules_at(fund, "H5"))
        assert any("H5>G5" in f for f in rules_at(fund, "H5"))
        for ref in ("G5", "H5"):
            assert any(f"{ref}<0" in f for f in rules_at(fund, ref))
        assert not rules_at(fund, "I5") and not rules_at(fund, "F5")
    execution = wb[L.SHEET_EXECUTION]
    for col, flag in (("E", 1), ("H", 2), ("I", 2)):
        assert any(f"ISBLANK({col}5)" in f and f"$J5={flag}" in f for f in rules_at(execution, f"{col}5"))
    assert any("E5>100" in f for f in rules_at(execution, "E5"))
    assert any("F5>$G5" in f for f in rules_at(execution, "F5"))
    for col in ("E", "F", "G"):
        assert any(f"{col}5<0" in f for f in rules_at(execution, f"{col}5"))
    assert not rules_at(execution, "D5")
    assert rules(wb[L.SHEET_TITLE])  # the self-check turns red / green

    # custom properties as openpyxl sees them
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert props[L.CUSTOM_PREFIX + "executor_code"] == code
    assert props[L.CUSTOM_PREFIX + "template_id"] == template_id(CAT, code, PERIOD)


def test_self_check_formulas_reference_the_input_columns(generated):
    wb = openpyxl.load_workbook(generated["UA-07"].path)
    ws = wb[L.SHEET_TITLE]
    formulas = {ws.cell(r, TITLE_CHECK_CODE_COL + 1).value: ws.cell(r, TITLE_CHECK_VALUE_COL + 1).value
                for r in range(1, ws.max_row + 1) if ws.cell(r, TITLE_CHECK_CODE_COL + 1).value in SELF_CHECK_CODES}
    assert set(formulas) == set(SELF_CHECK_CODES)
    fq, eq = f"'{L.SHEET_FUNDING}'!", f"'{L.SHEET_EXECUTION}'!"
    assert f"{fq}$G$5:$G$1000" in formulas["funding_missing"] and f'"<>{L.NIL_FUNDING}"' in formulas["funding_missing"]
    assert f"{fq}$H$5:$H$1000>{fq}$G$5:$G$1000" in formulas["cash_over_financed"]
    assert f'{eq}$C$5:$C$1000,"%",{eq}$E$5:$E$1000,">100"' in formulas["percent_over_100"]
    assert formulas[CHECK_TOTAL].startswith("=SUM(")
    for code, f in formulas.items():
        assert f.startswith("="), code


# ---------------------------------------------------------------------------------
# determinism and speed
# ---------------------------------------------------------------------------------

def test_generation_is_deterministic(tmp_path, generated):
    again = write_templates(CAT, tmp_path / "again", PERIOD, PASSWORD)
    for f in again:
        assert f.path.read_bytes() == generated[f.executor].path.read_bytes(), f.executor
    assert (tmp_path / "again" / PERIOD / "manifest.csv").read_bytes() == \
        (next(iter(generated.values())).path.parent / "manifest.csv").read_bytes()
    pinned = dt.datetime(2025, 1, 10, 9, 30)
    a = build_workbook(CAT, "UA-07", PERIOD, PASSWORD, pinned)
    b = build_workbook(CAT, "UA-07", PERIOD, PASSWORD, pinned)
    assert a == b != generated["UA-07"].path.read_bytes()
    (tmp_path / "p.xlsx").write_bytes(a)
    assert custom_properties(tmp_path / "p.xlsx")[L.CUSTOM_PREFIX + "generated_at"] == "2025-01-10T09:30:00"
    assert openpyxl.load_workbook(tmp_path / "p.xlsx").properties.created == pinned


def test_fast_sheet_writer_gives_xlsxwriter_own_bytes(monkeypatch, generated):
    """The templates' fast path (consolidate.xlsx_fast: formulas rewritten once per process) writes byte for
    byte what xlsxwriter's own Workbook writes through the public API (the fallback), for every kind of cell."""
    import xlsxwriter

    from consolidate import template, xlsx_fast

    if xlsx_fast._FAST is None:
        pytest.skip(f"no fast path on xlsxwriter {xlsx_fast.XLSXWRITER_VERSION}: xlsxwriter's own workbooks only")
    monkeypatch.delenv(xlsx_fast.PUBLIC_API_ENV, raising=False)  # the fast path, even in the fallback CI step

    # a sheet with every kind of cell, row and column formats, gaps, rows without cells, a comment-free
    # sheet over several 16-row span blocks, and a sheet with a comment (xlsxwriter's own loop)
    def sampler(comment: bool, swap: bool = False) -> bytes:
        buf = io.BytesIO()
        wb = xlsx_fast.template_workbook(buf, template.WB_OPTIONS)
        wb.set_properties({"created": template.DEFAULT_TIMESTAMP})
        bold, grey = wb.add_format({"bold": True}), wb.add_format({"bg_color": "#EEEEEE"})
        if swap:  # the same formats, first used in the other order
            bold, grey = grey, bold
        ws = wb.add_worksheet("s")
        ws.set_column(3, 4, 12, grey)
        ws.set_row(2, 30, bold)
        ws.set_row(40, 12)
        ws.set_row(41, None, None, {"hidden": True})
        ws.set_row(5, None, None, {"level": 1, "collapsed": True})
        ws.set_row(17, 15, None, {"level": 2, "hidden": True})
        if swap:
            ws.set_default_row(18)
        for r in (0, 2, 5, 17, 33, 40, 70):
            ws.write_string(r, 1, f"a & <b> \"{r}\" _x0041_ \x07", bold if r % 2 else None)
            ws.write_number(r, 3, r / 7)
            ws.write_number(r, 4, 10 ** 17 + r)
            ws.write_blank(r, 6 + r % 3, None, grey)
            ws.write_blank(r, 10, None)  # no format: not stored
            ws.write_formula(r, 12, f"=D{r + 1}*2", None, r)
            ws.write_boolean(r, 13, bool(r % 2), bold)
            ws.write_datetime(r, 14, dt.datetime(2024, 1, 1 + r % 28), grey)
            ws.write_formula(r, 15, '="x"&"y"', None, "xy")
        ws.write_rich_string(3, 2, "plain ", bold, "bold")
        ws.write_array_formula(80, 0, 81, 0, "{=D1:D2*2}")
        ws.write_string(1, 20, "far right")
        odd = [" leading", "trailing ", "nbsp\xa0", "\tTab", "new\nline", "end\n", "quote \" ' ok", "_x00e9_",
               "_X00E9_ upper", "_x12_", "a\x1fb", "\ufffe", "plain", "&amp;", "<r>x</r>", "", "  "]
        for i, text in enumerate(odd):
            ws.write_string(90 + i, 1, text)
        if comment:
            ws.write_comment(5, 1, "коментар")
        wb.close()
        return buf.getvalue()

    ours = [sampler(False), sampler(True), sampler(False, swap=True)]
    ours += [template.build_workbook(CAT, code, PERIOD, PASSWORD) for code in EXECUTORS]
    assert isinstance(xlsx_fast.template_workbook(io.BytesIO(), {}), xlsx_fast._FAST["TemplateWorkbook"])
    monkeypatch.setenv(xlsx_fast.PUBLIC_API_ENV, "1")  # xlsxwriter's own Workbook, every part
    assert type(xlsx_fast.template_workbook(io.BytesIO(), {})) is xlsxwriter.Workbook
    plain = [sampler(False), sampler(True), sampler(False, swap=True)]
    plain += [template.build_workbook(CAT, code, PERIOD, PASSWORD) for code in EXECUTORS]
    assert len(ours) == len(plain) == len(EXECUTORS) + 3
    for i, (a, b) in enumerate(zip(ours, plain)):
        assert a == b, i
    assert ours[3:] == [generated[code].path.read_bytes() for code in EXECUTORS]


@pytest.mark.slow   # a whole cycle: in CI's run, not in the fast one
def test_generation_rate(tmp_path):
    rounds = 3
    start = time.perf_counter()
    for i in range(rounds):
        files = write_templates(CAT, tmp_path / str(i), PERIOD, PASSWORD)
    elapsed = time.perf_counter() - start
    n = rounds * len(files)
    rate = n / elapsed * 60
    sys.stderr.write(f"\n[templates] {n} workbooks in {elapsed:.2f} s: {rate:.0f} per minute\n")
    assert len(files) == len(EXECUTORS)


# ---------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------

def test_cli_templates_with_timestamp(workspace):
    res = CliRunner().invoke(main, ["templates", "-w", str(workspace.root), "-e", "UA-07", "-e", "MSP",
                                    "--period", "2024-Q3", "--timestamp", "2024-10-01T08:00:00+03:00"])
    assert res.exit_code == 0, res.output
    folder = workspace.out / "templates" / "2024-Q3"
    path = folder / file_name(CAT, "UA-07", "2024-Q3")
    assert path.is_file() and (folder / "manifest.csv").is_file()
    props = custom_properties(path)
    assert props[L.CUSTOM_PREFIX + "generated_at"] == "2024-10-01T05:00:00"
    assert props[L.CUSTOM_PREFIX + "period"] == "2024-Q3"
    title = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(L.SHEET_TITLE).to_python()
    labels = {r[0]: r[1] for r in title if r and r[0]}
    assert labels["Строк подання:"] == "15.10.2024"
    assert "antitrafficking@example.org" in labels["З питань заповнення звертайтеся:"]
    again = CliRunner().invoke(main, ["templates", "-w", str(workspace.root), "-e", "UA-07", "--period", "2024-Q3"])
    assert again.exit_code == 0
    assert custom_properties(path)[L.CUSTOM_PREFIX + "generated_at"] == "2000-01-01T00:00:00"
    bad = CliRunner().invoke(main, ["templates", "-w", str(workspace.root), "--timestamp", "вчора"])
    assert bad.exit_code == 2 and "Неправильна позначка часу" in bad.output and "Traceback" not in bad.output
    unknown = CliRunner().invoke(main, ["templates", "-w", str(workspace.root), "-e", "XX"])
    assert unknown.exit_code == 2 and "Невідомі виконавці: XX" in unknown.output


# ---------------------------------------------------------------------------------
# filling as an executor would, and reading it back as intake does
# ---------------------------------------------------------------------------------

def executor_values(code: str) -> dict:
    """Values an executor types: some inputs empty, some rule violations."""
    funding = CAT.funding_for(code)
    inds = [i for m in CAT.measures_for(code) for i in CAT.indicators_of(m.id)]
    measures = CAT.measures_for(code)
    pct = [i for i in inds if i.unit == "percent"]
    cnt = [i for i in inds if i.unit == "count"]
    values = {"funding": {}, "execution": {}, "proposals": {"P1": {"text": "Збільшити фінансування інформаційних кампаній."}}}
    values["funding"][funding[0].id] = {"financed": 10.5, "cash": 12.0, "budget_code": "0813122", "comment": "=не формула"}
    values["funding"][funding[1].id] = {"financed": "8 814,5", "nil": L.NIL_FUNDING}
    values["execution"][pct[0].id] = {"actual": 150, "numerator": 5, "denominator": 3}
    values["execution"][pct[1].id] = {"actual": 40.5, "numerator": 81, "denominator": 200}
    values["execution"][cnt[0].id] = {"actual": -2}
    values["execution"][cnt[1].id] = {"actual": 7}
    values["execution"][cnt[2].id] = {"actual": "сім"}
    values["execution"][measures[0].id] = {"status": "виконано", "narrative": "Проведено 7 навчань для 120 осіб."}
    values["execution"][measures[1].id] = {"status": "триває"}
    values["execution"][measures[2].id] = {"narrative": "=SUM(1,2) — текст, не формула"}
    return values


@pytest.fixture(scope="module")
def filled(generated, tmp_path_factory):
    values = executor_values("UA-07")
    dst = tmp_path_factory.mktemp("filled") / "Волинська ОВА — заповнено.xlsx"
    fill_workbook(generated["UA-07"].path, dst, values)
    return dst, values


def test_filled_workbook_reads_back_by_key(filled):
    path, values = filled
    # identification survives openpyxl's save: meta sheet (still very hidden), custom properties
    wb = CalamineWorkbook.from_path(str(path))
    meta, keys = meta_sheet(wb.get_sheet_by_name(L.SHEET_META).to_python())
    assert meta["executor_code"] == "UA-07" and meta["period"] == PERIOD
    assert meta["template_id"] == template_id(CAT, "UA-07", PERIOD)
    assert keys == expected_row_keys("UA-07")
    assert custom_properties(path)[L.CUSTOM_PREFIX + "executor_code"] == "UA-07"
    assert "veryhidden" in str(next(s.visible for s in wb.sheets_metadata if s.name == L.SHEET_META)).lower()
    # every typed value is found by row key and column code, exactly as typed
    for kind, rows in values.items():
        by_key = {r["key"]: r for r in calamine_rows(path, kind)}
        for key, cols in rows.items():
            for col, value in cols.items():
                assert by_key[key][col] == value, (kind, key, col)
        for key, row in by_key.items():
            for col in {"funding": L.FUNDING_INPUTS, "execution": L.EXECUTION_INPUTS, "proposals": ("text",)}[kind]:
                if col not in rows.get(key, {}):
                    assert row[col] in ("", CAT.get(key).budget_code if col == "budget_code" else ""), (key, col)
    # protection and validations are still there after the executor's save
    owb = openpyxl.load_workbook(path)
    assert owb[L.SHEET_META].sheet_state == "veryHidden"
    assert all(ws.protection.sheet for ws in owb.worksheets)
    assert owb[L.SHEET_EXECUTION].data_validations.dataValidation


def test_initial_self_check_counts_shared_by_shape():
    """The self-check values written in an empty template (computed once per shape of its rows) are those of
    its own rows, for every executor; a caller's copy changes nothing."""
    from consolidate import template

    for code in EXECUTORS:
        assert template._initial_counts(CAT, code) == self_check_counts(*empty_rows(CAT, code)), code
    counts = template._initial_counts(CAT, "UA-07")
    counts[CHECK_TOTAL] = -1  # a caller's copy
    assert template._initial_counts(CAT, "UA-07")[CHECK_TOTAL] >= 0


def test_self_check_python_rules_on_filled_values(filled):
    path, _ = filled
    counts = self_check_counts(calamine_rows(path, "funding"), calamine_rows(path, "execution"))
    n_ind = sum(len(CAT.indicators_of(m.id)) for m in CAT.measures_for("UA-07"))
    n_meas = len(CAT.measures_for("UA-07"))
    assert counts["funding_missing"] == 0            # line 1 filled; line 2 marked «не здійснювалось»
    assert counts["cash_over_financed"] == 1         # 12.0 > 10.5
    assert counts["negative"] == 1                   # -2
    assert counts["not_a_number"] == 2               # "8 814,5" typed as text, "сім"
    assert counts["actual_missing"] == n_ind - 5
    assert counts["status_missing"] == n_meas - 2
    assert counts["narrative_missing"] == n_meas - 2
    assert counts["percent_over_100"] == 1           # 150
    assert counts["numerator_over_denominator"] == 1  # 5 > 3
    assert counts[CHECK_TOTAL] == sum(v for k, v in counts.items() if k != CHECK_TOTAL)


@pytest.mark.slow  # LibreOffice
def test_self_check_formulas_recalculated_by_libreoffice(filled, tmp_path):
    """LibreOffice computes the title sheet's formulas on the filled workbook; they equal the
    counts of the same rules evaluated in Python on the same values."""
    need_binary("soffice")
    path, _ = filled
    assert all(v == "" for v in title_checks(path).values())  # openpyxl's save drops cached results
    out = office.convert(path, "xlsx", tmp_path / "recalc", recalc=True)
    got = title_checks(out)
    want = self_check_counts(calamine_rows(path, "funding"), calamine_rows(path, "execution"))
    assert {k: int(v) for k, v in got.items()} == want
    assert want["cash_over_financed"] == 1 and want[CHECK_TOTAL] > 0


@pytest.mark.slow  # LibreOffice
def test_self_check_formulas_on_empty_template_libreoffice(generated, tmp_path):
    need_binary("soffice")
    out = office.convert(generated["MSP"].path, "ods", tmp_path / "recalc", recalc=True)
    back = office.convert(out, "xlsx", tmp_path / "back", recalc=True)
    want = self_check_counts(*empty_rows(CAT, "MSP"))
    assert {k: int(v) for k, v in title_checks(back).items()} == want
    assert want["funding_missing"] == 2 * len(CAT.funding_for("MSP"))


# ---------------------------------------------------------------------------------
# the picture: PDF rendering by LibreOffice
# ---------------------------------------------------------------------------------

def _words(text: str) -> str:
    return " ".join(text.replace("\u00ad", "").split())


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.slow  # LibreOffice
@pytest.mark.parametrize("code", ["UA-07", "MSP"])
def test_pdf_rendering_contains_the_measures(generated, tmp_path, code):
    need_binary("soffice")
    need_binary("pdftotext")
    need_binary("pdftoppm")
    pdf = office.convert(generated[code].path, "pdf", tmp_path)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text = _words(office.pdf_text(pdf))
    assert CAT.registry[code].full_name in text
    assert "Самоперевірка перед надсиланням" in text
    for m in CAT.measures_for(code):
        start = " ".join(f"{m.number}) {m.text}".split()[:5])
        assert start in text, f"{m.id}: «{start}» not in the PDF"
    for f in CAT.funding_for(code):
        assert " ".join(f.source_label.split()[:2]) in text
    (png,) = office.pdf_to_png(pdf, tmp_path / "page", dpi=40)
    w, h = png_size(png)
    assert w > h  # landscape A4
    assert abs(w / h - 297 / 210) < 0.02
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60).stdout
        assert re.search(r"Page size:\s+841\.\d+ x 595\.\d+ pts \(A4\)", info)


def test_docs_picture_is_committed():
    png = ROOT / "docs" / "template-page1.png"
    assert png.is_file()
    w, h = png_size(png)
    assert w > h and w >= 800
    assert (ROOT / "docs" / "templates.md").read_text(encoding="utf-8").count("template-page1.png") >= 1


# ---------------------------------------------------------------------------------
# office helpers
# ---------------------------------------------------------------------------------

def test_office_errors_are_clear(tmp_path, monkeypatch):
    with pytest.raises(ConsolidateError, match="не знайдено"):
        office.convert(tmp_path / "missing.xlsx", "pdf", tmp_path)
    monkeypatch.setattr(office, "find_soffice", lambda: None)
    (tmp_path / "a.xlsx").write_bytes(b"x")
    with pytest.raises(ConsolidateError, match="LibreOffice не знайдено"):
        office.convert(tmp_path / "a.xlsx", "pdf", tmp_path / "o")
    # Whether poppler is installed or not, each missing piece is named (the test needs neither).
    monkeypatch.setattr(office.shutil, "which", lambda name: f"/usr/bin/{name}")
    with pytest.raises(ConsolidateError, match="PDF не знайдено"):
        office.pdf_text(tmp_path / "none.pdf")
    with pytest.raises(ConsolidateError, match="PDF не знайдено"):
        office.pdf_to_png(tmp_path / "none.pdf", tmp_path / "p")
    monkeypatch.setattr(office.shutil, "which", lambda name: None)
    with pytest.raises(ConsolidateError, match="pdftotext не знайдено"):
        office.pdf_text(tmp_path / "none.pdf")
    with pytest.raises(ConsolidateError, match="pdftoppm не знайдено"):
        office.pdf_to_png(tmp_path / "none.pdf", tmp_path / "p")


def test_office_timeout_is_enforced():
    need_binary("timeout")
    start = time.monotonic()
    with pytest.raises(ConsolidateError, match="перевищено час очікування"):
        office._run(["sleep", "30"], "перевірка", timeout=1)
    assert time.monotonic() - start < 10


@pytest.mark.slow  # LibreOffice
def test_office_conversion_failure_is_reported(tmp_path):
    need_binary("soffice")
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ConsolidateError, match="LibreOffice"):
        office.convert(bad, "pdf", tmp_path / "out", timeout=60)


def test_pdf_helpers_reject_non_pdf(tmp_path):
    need_binary("pdftotext")
    fake = tmp_path / "fake.pdf"
    fake.write_text("not a pdf")
    with pytest.raises(ConsolidateError, match="pdftotext"):
        office.pdf_text(fake)
    need_binary("pdftoppm")
    with pytest.raises(ConsolidateError, match="pdftoppm"):
        office.pdf_to_png(fake, tmp_path / "x")
