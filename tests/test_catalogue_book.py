"""The catalogue as a workbook: export → import → export lossless; invalid workbooks refused, nothing changed."""

from __future__ import annotations

import io

import openpyxl
import pytest
from click.testing import CliRunner

from consolidate.catalogue import load_catalogue
from consolidate.catalogue_book import BookError, SHEETS, export_book, read_book
from consolidate.cli import main
from consolidate.workflows.catalogue import folder_digest, import_catalogue

from .conftest import need_binary

SHEET_NAMES = ["Програма", "Завдання", "Заходи", "Показники", "Фінансування", "Виконавці", "Довідка"]


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res


def test_export_import_export_is_lossless(cat, tmp_path):
    first = export_book(cat)
    back = read_book(first, "cat.xlsx")
    assert back.digest == cat.digest
    assert [t for t in back.tasks] == cat.tasks and back.indicators == cat.indicators and back.funding == cat.funding
    assert list(back.registry) == list(cat.registry)
    assert export_book(back) == first  # byte for byte


def test_sheets_headers_and_dropdowns(cat):
    wb = openpyxl.load_workbook(io.BytesIO(export_book(cat)))
    assert wb.sheetnames == SHEET_NAMES
    for spec in SHEETS:
        ws = wb[spec.name]
        assert ws.cell(1, 1).value == "ID"
        assert [c.value for c in ws[1]] == [c.label for c in spec.cols]
    lists = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in wb["Показники"].data_validations.dataValidation}
    assert '"count,number,percent,thousand,text"' in lists.values()
    assert '"sum,lead,max,percent,text"' in lists.values()
    fund = [dv.formula1 for dv in wb["Фінансування"].data_validations.dataValidation]
    assert any("Виконавці" in f for f in fund) and any("state_general" in f for f in fund)
    assert len(wb["Довідка"]["A"]) > 30


def test_cli_round_trip_through_the_workspace(workspace, tmp_path):
    book = tmp_path / "каталог.xlsx"
    res = run("catalogue", "export", book, "-w", workspace.root)
    assert res.exit_code == 0, res.output
    before = load_catalogue(workspace.templates_dir).digest
    res = run("catalogue", "import", book, "-w", workspace.root)
    assert res.exit_code == 0, res.output
    assert "збігається" in res.output
    # an edit: a plan figure and a new measure text
    wb = openpyxl.load_workbook(book)
    ws = wb["Показники"]
    ws["E2"] = 7
    wb["Заходи"]["D2"] = "=оновлений текст заходу"  # text beginning with «=» stays text
    wb["Заходи"]["D2"].data_type = "s"
    wb.save(book)
    res = run("catalogue", "import", book, "-w", workspace.root)
    assert res.exit_code == 0, res.output
    assert "замінено" in res.output
    after = load_catalogue(workspace.templates_dir)
    assert after.digest != before
    assert after.indicators[0].planned == 7
    assert after.measures[0].text == "=оновлений текст заходу"


def _broken(cat, tmp_path, edit) -> tuple:
    wb = openpyxl.load_workbook(io.BytesIO(export_book(cat)))
    edit(wb)
    path = tmp_path / "broken.xlsx"
    wb.save(path)
    return path


@pytest.mark.parametrize("edit, sheet, cell, words", [
    (lambda wb: wb["Заходи"].__setitem__("E3", "NOPE"), "Заходи", "E3", "невідомий виконавець «NOPE»"),
    (lambda wb: wb["Показники"].__setitem__("A3", wb["Показники"]["A2"].value), "Показники", "A3", "повторюється"),
    (lambda wb: wb["Показники"].__setitem__("E2", "двадцять"), "Показники", "E2", "очікується число"),
    (lambda wb: wb.remove(wb["Фінансування"]), "Фінансування", "", "бракує аркуша"),
    (lambda wb: wb["Показники"].__setitem__("F4", "average"), "Показники", "F4", "невідоме значення «average»"),
    (lambda wb: wb["Заходи"].__setitem__("B2", "T99"), "Заходи", "B2", "невідоме завдання «T99»"),
    (lambda wb: wb["Виконавці"].__setitem__("D5", "ministry"), "Виконавці", "D5", "невідомий тип"),
    (lambda wb: wb["Програма"].__setitem__("B10", "завтра"), "Програма", "B10", "очікується дата"),
    (lambda wb: wb["Показники"].__setitem__("E3", "=1+1"), "Показники", "E3", "формулу"),
])
def test_invalid_workbook_refused_with_sheet_and_cell_nothing_changed(cat, workspace, tmp_path, edit, sheet, cell,
                                                                      words):
    path = _broken(cat, tmp_path, edit)
    before = folder_digest(workspace.templates_dir)
    r = import_catalogue(workspace, path)
    assert int(r.exit_code) == 2 and not r.changed
    assert any(p.sheet == sheet and p.cell == cell and words in p.message for p in r.problems), r.problems
    assert folder_digest(workspace.templates_dir) == before
    res = run("catalogue", "import", path, "-w", workspace.root)
    assert res.exit_code == 2
    assert f"аркуш «{sheet}»" in res.output and (not cell or f"клітинка {cell}" in res.output)
    assert "Traceback" not in res.output
    assert folder_digest(workspace.templates_dir) == before


def test_every_problem_listed_at_once(cat, tmp_path):
    def many(wb):
        wb["Заходи"]["E3"] = "NOPE"
        wb["Показники"]["E2"] = "двадцять"
        wb["Показники"]["E5"] = "багато"
    with pytest.raises(BookError) as exc:
        read_book(_broken(cat, tmp_path, many).read_bytes())
    cells = {(p.sheet, p.cell) for p in exc.value.located}
    assert {("Заходи", "E3"), ("Показники", "E2"), ("Показники", "E5")} <= cells


@pytest.mark.parametrize("data, words", [
    (b"not a workbook at all", "не є книгою"),
    (b"PK\x03\x04garbage", "не є книгою"),
])
def test_not_a_workbook(data, words):
    with pytest.raises(BookError) as exc:
        read_book(data, "x.xlsx")
    assert words in str(exc.value)


def test_far_cell_refused_before_parsing(cat, tmp_path):
    wb = openpyxl.load_workbook(io.BytesIO(export_book(cat)))
    wb["Довідка"]["XFD1048576"] = "x"
    path = tmp_path / "far.xlsx"
    wb.save(path)
    with pytest.raises(BookError) as exc:
        read_book(path.read_bytes())
    assert "далекі клітинки" in str(exc.value)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_resaved_by_libreoffice_imports_unchanged(cat, tmp_path, fmt):
    need_binary("soffice")
    from consolidate.office import convert

    src = tmp_path / "catalogue.xlsx"
    src.write_bytes(export_book(cat))
    saved = convert(src, fmt, tmp_path / fmt)
    back = read_book(saved.read_bytes(), saved.name)
    assert back.digest == cat.digest


def _rezip(data: bytes, change) -> bytes:
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change(info.filename, src.read(info)))
    return out.getvalue()


def test_entity_declarations_refused_unexpanded(cat):
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'

    def change(name, body):
        return dtd + body.split(b"?>", 1)[1] if name == "xl/worksheets/sheet2.xml" else body
    with pytest.raises(BookError) as exc:
        read_book(_rezip(export_book(cat), change))
    assert "DTD" in str(exc.value)


def test_zip_bomb_refused_before_parsing(cat):
    def change(name, body):
        return body + b"<!--" + b" " * (30 * 1024 * 1024) + b"-->" if name == "xl/worksheets/sheet7.xml" else body
    with pytest.raises(BookError) as exc:
        read_book(_rezip(export_book(cat), change))
    assert "zip-бомби" in str(exc.value)


@pytest.mark.slow
def test_formula_in_an_ods_saved_by_libreoffice_is_a_problem(cat, tmp_path):
    need_binary("soffice")
    from consolidate.office import convert

    path = _broken(cat, tmp_path, lambda wb: wb["Показники"].__setitem__("E3", "=1+1"))
    ods = convert(path, "ods", tmp_path / "ods")
    with pytest.raises(BookError) as exc:
        read_book(ods.read_bytes(), ods.name)
    assert any(p.sheet == "Показники" and p.cell == "E3" and "формулу" in p.message for p in exc.value.located)
