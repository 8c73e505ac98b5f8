"""Building real returned workbooks for the intake tests: generated templates, filled and damaged with openpyxl."""

from __future__ import annotations

import copy
import io
import re
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.cell.cell import TYPE_ERROR, TYPE_STRING

from consolidate import layout as L
from consolidate.filler import fill_workbook
from consolidate.template import build_workbook

EXECUTOR = "MINJUST"   # 2 funding lines (planned 0), 4 measures, count and percent indicators
PERIOD = "2024"
PASSWORD = "test"
FUNDING, EXECUTION, PROPOSALS = L.SHEET_FUNDING, L.SHEET_EXECUTION, L.SHEET_PROPOSALS

# Where MINJUST's rows are in the generated template (1-based rows).  Funding: G financed, H cash,
# I budget code, J nil, K comment.  Execution: E actual, F numerator, G denominator, H status, I narrative.
FUNDING_ROWS = {"F.T2.2.SG.MINJUST": 5, "F.T4.2.SG.MINJUST": 6}
EXECUTION_ROWS = {"T2": 5, "T2.2": 6, "T2.2.1": 7, "T3": 8, "T3.7": 9, "T3.7.1": 10, "T4": 11, "T4.2": 12,
                  "T4.2.1": 13, "T6": 14, "T6.10": 15, "T6.10.1": 16}

NARRATIVE = "Розроблено і впроваджено програму підвищення кваліфікації; навчено 42 працівники."


def complete() -> dict:
    """A return of MINJUST that passes every check."""
    return {
        "funding": {
            "F.T2.2.SG.MINJUST": {"financed": 0, "cash": 0, "budget_code": "3601010 Керівництво та управління"},
            "F.T4.2.SG.MINJUST": {"nil": "так"},
        },
        "execution": {
            "T2.2": {"status": "виконано", "narrative": NARRATIVE},
            "T2.2.1": {"actual": 42},
            "T3.7": {"status": "триває", "narrative": "Співпрацю продовжено."},
            "T3.7.1": {"actual": 1},
            "T4.2": {"status": "виконано", "narrative": "Проведено 8 000 консультацій."},
            "T4.2.1": {"actual": 8000},
            "T6.10": {"status": "виконано", "narrative": "Усіх звернень розглянуто."},
            "T6.10.1": {"actual": 100, "numerator": 12, "denominator": 12},
        },
        "proposals": {"P1": {"text": "Продовжити фінансування заходу 4.2."}},
    }


def merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes[kind][key][column]`` applied (a value of None removes the column)."""
    out = copy.deepcopy(base)
    for kind, rows in changes.items():
        for key, cols in rows.items():
            row = out.setdefault(kind, {}).setdefault(key, {})
            for col, value in cols.items():
                if value is None:
                    row.pop(col, None)
                else:
                    row[col] = value
    return out


def template(catalogue, folder: Path, executor: str = EXECUTOR, period: str = PERIOD) -> Path:
    path = Path(folder) / f"template-{executor}-{period}.xlsx"
    if not path.exists():
        path.write_bytes(build_workbook(catalogue, executor, period, PASSWORD))
    return path


def filled(catalogue, folder: Path, name: str, values: dict | None = None, executor: str = EXECUTOR) -> Path:
    """A template filled as an executor would (openpyxl), saved as ``folder/name``."""
    return fill_workbook(template(catalogue, folder, executor), Path(folder) / name,
                         complete() if values is None else values)


def edit(path: Path, change, dst: Path | None = None) -> Path:
    """Open with openpyxl, let ``change(wb)`` damage it, save (to ``dst`` or in place)."""
    wb = openpyxl.load_workbook(path)
    change(wb)
    dst = Path(dst or path)
    wb.save(dst)
    return dst


def set_error(cell, value: str) -> None:
    cell.value = value
    cell.data_type = TYPE_ERROR


def set_text(cell, value: str) -> None:
    cell.value = value
    cell.data_type = TYPE_STRING


def set_meta(wb, key: str, value: str) -> None:
    ws = wb[L.SHEET_META]
    for row in ws.iter_rows(min_col=1, max_col=2):
        if row[0].value == key:
            row[1].value = value
            return
    raise KeyError(key)


def set_property(wb, key: str, value: str | None) -> None:
    """Change (or, with None, remove) the custom document property ``consolidate.<key>``."""
    props = wb.custom_doc_props
    kept = [p for p in props.props if p.name != L.CUSTOM_PREFIX + key]
    if value is not None:
        prop = next(p for p in props.props if p.name == L.CUSTOM_PREFIX + key)
        prop.value = value
        kept.append(prop)
    props.props = kept


def drop_properties(wb) -> None:
    wb.custom_doc_props.props = []


def set_title(wb, label: str, value: str) -> None:
    ws = wb[L.SHEET_TITLE]
    for row in ws.iter_rows(min_col=1, max_col=2):
        if row[0].value == label:
            set_text(row[1], value)
            return
    raise KeyError(label)


def copy_pasted(src: Path, dst: Path, names: dict[str, str] | None = None) -> Path:
    """What a clerk gets by copying every visible sheet's cells into a new workbook: no meta sheet, no properties."""
    source = openpyxl.load_workbook(src)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for ws in source.worksheets:
        if ws.sheet_state != "visible":
            continue
        target = wb.create_sheet((names or {}).get(ws.title, ws.title))
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    target.cell(cell.row, cell.column).value = cell.value
    wb.save(dst)
    return dst


def brief(findings) -> list[tuple]:
    """Findings as (severity, code, sheet, cell, row key, found, expected), comparable in a test."""
    return [(f.severity, f.code, f.sheet, f.cell, f.row_key, f.found, f.expected) for f in findings]


def values_by_key(ret) -> dict[tuple[str, str], tuple]:
    """(row key, field) → (number, text, sheet, cell)."""
    return {(v.key, v.field): (v.number, v.text, v.sheet, v.cell) for v in ret.values}


def rezip(data: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """The same workbook with some zip parts replaced or added."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, (replace or {}).get(info.filename, src.read(info.filename)))
        for name, body in (add or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


def sheet_part(data: bytes, sheet: str) -> str:
    """The zip part of a sheet (openpyxl numbers them in workbook order)."""
    names = re.findall(rb'<sheet [^>]*name="([^"]+)"', zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml"))
    index = [n.decode("utf-8") for n in names].index(sheet)
    return f"xl/worksheets/sheet{index + 1}.xml"
