"""Fill a generated template as an executor would (openpyxl), for the demo, tests and benchmarks.

Values are given by row key and column code (see :mod:`consolidate.layout`), so filling does
not depend on row positions either.  Text is written as text even when it starts with "=".
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl.cell.cell import TYPE_STRING

from . import layout as L

SHEETS = {"funding": L.SHEET_FUNDING, "execution": L.SHEET_EXECUTION, "proposals": L.SHEET_PROPOSALS}
COLUMNS = {"funding": L.FUNDING_COLUMNS, "execution": L.EXECUTION_COLUMNS, "proposals": L.PROPOSAL_COLUMNS}


def set_text(cell, value: str) -> None:
    """Store a string as a string, never as a formula."""
    cell.value = value
    cell.data_type = TYPE_STRING


def fill_workbook(src: Path, dst: Path, values: dict[str, dict[str, dict[str, object]]]) -> Path:
    """Copy ``src`` to ``dst`` filling ``values[kind][row_key][column_code] = value``.

    ``kind`` is "funding", "execution" or "proposals" ("proposals" uses column "text").
    Numbers may be given as str to imitate typing ("8 814,5").
    """
    wb = openpyxl.load_workbook(src)
    for kind, rows in values.items():
        ws = wb[SHEETS[kind]]
        codes = {c: i + 1 for i, (c, _) in enumerate(COLUMNS[kind])}
        keys = {}
        for r in range(L.FIRST_DATA_ROW, ws.max_row + 1):
            k = ws.cell(r, 1).value
            if k:
                keys[str(k)] = r
        for key, cols in rows.items():
            if key not in keys:
                raise KeyError(f"row key {key!r} not in sheet {ws.title!r}")
            for code, value in cols.items():
                cell = ws.cell(keys[key], codes[code])
                if isinstance(value, str):
                    set_text(cell, value)
                else:
                    cell.value = value
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    wb.save(dst)
    return dst


def plausible_values(catalogue, executor: str, n: int = 0) -> dict[str, dict[str, dict[str, object]]]:
    """Answers to every input of an executor's template that pass intake's checks; numbers vary with ``n``.

    For tests and benchmarks that need many distinct, valid returns.
    """
    values: dict = {"funding": {}, "execution": {}, "proposals": {"P1": {"text": f"Пропозиція {n}"}}}
    for line in catalogue.funding_for(executor):
        if line.planned:
            financed = round(line.planned * (0.5 + (n % 5) / 10), 1)
            values["funding"][line.id] = {"financed": financed, "cash": round(financed * 0.9, 1)}
        else:
            values["funding"][line.id] = {"nil": L.NIL_FUNDING}
    for measure in catalogue.measures_for(executor):
        values["execution"][measure.id] = {
            "status": L.STATUS_VALUES[0],
            "narrative": f"Протягом року проведено {n % 17 + 3} заходів; залучено {n % 40 + 10} фахівців.",
        }
        for ind in catalogue.indicators_of(measure.id):
            if ind.unit == "percent":
                values["execution"][ind.id] = {"actual": (n % 9) * 10, "numerator": n % 9, "denominator": 10}
            elif ind.unit == "text":
                values["execution"][ind.id] = {"actual": f"Результат {n}"}
            else:
                values["execution"][ind.id] = {"actual": n % 23 + 1}
    return values
