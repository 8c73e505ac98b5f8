"""Parser of the ministry's 2024 annual report as exported to text (``data/seed_2024_report.txt``).

The export writes every table cell as a line starting with TAB; continuation lines of a
cell do not.  Section I rows have nine cells (seven for subtotal rows, whose first two and
next two columns are merged); section II rows have seven.  This module only reads the text:
the catalogue converter (``tools/seed_to_catalogue.py``) and the demo build on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .numbers import parse_number

BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
TASK_RE = re.compile(r"^(\d+)\.\s*(.+)$", re.S)
MEASURE_RE = re.compile(r"^(\d+)\)\s*(.+)$", re.S)
SUBTOTAL_LABELS = {
    "усього": "total",
    "разом": "total",
    "– державний бюджет": "state",
    "загальний фонд": "state_general",
    "спеціальний фонд": "state_special",
    "– місцевий бюджет": "local",
    "– інші": "other",
}


def seed_path() -> Path:
    return Path(str(resources.files("consolidate") / "data" / "seed_2024_report.txt"))


def clean(text: str) -> str:
    """Strip bookmarks and surrounding whitespace; keep the wording verbatim otherwise."""
    return BOOKMARK.sub("", text or "").strip()


def amount(text: str) -> float | None:
    p = parse_number(clean(text))
    return p.value if p.kind == "number" else None


@dataclass
class FundingRow:
    line: int
    task: int | None
    task_name: str
    measure: int | None
    measure_text: str
    holder: str
    source: str
    programme_amount: str
    planned: str
    financed: str
    cash: str
    code: str
    measure_row: bool  # the row that opens a measure (its holder cell lists the measure's executors)


@dataclass
class Subtotal:
    line: int
    task: int | None  # None: «Разом по Програмі»
    kind: str  # total / state / state_general / state_special / local / other
    programme_amount: str
    planned: str
    financed: str
    cash: str


@dataclass
class ExecutionRow:
    line: int
    task: int
    task_name: str
    measure: int
    measure_text: str
    indicator: str
    planned: str
    actual: str
    executors: str
    narrative: str


@dataclass
class SeedReport:
    title_lines: list[str]
    funding: list[FundingRow] = field(default_factory=list)
    subtotals: list[Subtotal] = field(default_factory=list)
    execution: list[ExecutionRow] = field(default_factory=list)
    proposals: str = ""
    task_names: dict[int, str] = field(default_factory=dict)


def _raw_rows(lines: list[str], start: int, end: int) -> list[list[tuple[int, str]]]:
    """Cells grouped where a blank line is followed by a TAB line (may split a row)."""
    rows: list[list[tuple[int, str]]] = []
    cur: list[tuple[int, str]] = []
    cell: tuple[int, str] | None = None
    for i in range(start, end):
        line = lines[i]
        if line.startswith("\t"):
            if cell is not None:
                cur.append(cell)
            if lines[i - 1] == "" and cur:
                rows.append(cur)
                cur = []
            cell = (i + 1, line[1:])
        elif cell is not None:
            cell = (cell[0], cell[1] + "\n" + line)
    if cell is not None:
        cur.append(cell)
    if cur:
        rows.append(cur)
    return rows


def _is_subtotal(cells: list[tuple[int, str]]) -> bool:
    first = clean(cells[0][1]) if cells else ""
    second = clean(cells[1][1]) if len(cells) > 1 else ""
    if first.startswith("Разом"):
        return True
    return first == "" and any(second.startswith(k) for k in ("–", "загальний", "спеціальний", "Усього"))


def _rows(raw: list[list[tuple[int, str]]], wide: int, narrow: int | None) -> list[list[tuple[int, str]]]:
    """Join raw pieces into table rows of ``wide`` cells (``narrow`` for subtotal rows)."""
    out: list[list[tuple[int, str]]] = []
    acc: list[tuple[int, str]] = []
    for piece in raw:
        if not acc and narrow and len(piece) == narrow and all(not clean(c[1]) for c in piece):
            continue  # an empty spacer row of a subtotal block
        acc.extend(piece)
        width = narrow if (narrow and _is_subtotal(acc)) else wide
        if len(acc) >= width:
            out.append(acc[:width])
            rest = acc[width:]
            acc = rest if rest else []
    if acc:
        out.append(acc)
    return out


def parse_seed(text: str | None = None) -> SeedReport:
    if text is None:
        text = seed_path().read_text(encoding="utf-8")
    lines = text.split("\n")
    s1 = next(i for i, line in enumerate(lines) if line.startswith("І. Фінансування"))
    s2 = next(i for i, line in enumerate(lines) if line.startswith("ІІ. Виконання"))
    s3 = next(i for i, line in enumerate(lines) if line.startswith("ІІІ."))
    report = SeedReport(title_lines=[line.strip() for line in lines[:s1] if line.strip()])
    _parse_funding(report, _rows(_raw_rows(lines, s1 + 1, s2), 9, 7))
    _parse_execution(report, _rows(_raw_rows(lines, s2 + 1, s3), 7, None))
    report.proposals = "\n".join(line for line in lines[s3 + 1 :]).strip()
    return report


def _parse_funding(report: SeedReport, rows) -> None:
    task = None
    task_name = ""
    measure = None
    measure_text = ""
    source = ""
    sub_task: int | None = None
    for row in rows[1:]:  # row 0 is the header
        vals = [c[1] for c in row]
        line = row[0][0]
        if _is_subtotal(row):
            first = clean(vals[0])
            m = re.match(r"Разом за завданням\s+(\d+)", first)
            if m:
                sub_task = int(m.group(1))
            elif first.startswith("Разом по Програмі"):
                sub_task = None
            label = " ".join(clean(vals[1]).split()).rstrip(",")
            kind = next((v for k, v in SUBTOTAL_LABELS.items() if label.lower().startswith(k)), None)
            if kind is None:
                continue
            report.subtotals.append(Subtotal(line, sub_task, kind, *[clean(v) for v in vals[2:6]]))
            continue
        if len(vals) < 9 or all(not clean(v) for v in vals):
            continue
        t = TASK_RE.match(clean(vals[0]))
        if t:
            task, task_name = int(t.group(1)), " ".join(t.group(2).split())
            report.task_names.setdefault(task, task_name)
        mm = MEASURE_RE.match(clean(vals[1]))
        opens = bool(mm)
        if mm:
            measure, measure_text = int(mm.group(1)), clean(vals[1])
            source = ""
        if clean(vals[3]):
            source = clean(vals[3])
        report.funding.append(
            FundingRow(
                line=line,
                task=task,
                task_name=task_name,
                measure=measure,
                measure_text=measure_text,
                holder=clean(vals[2]),
                source=source,
                programme_amount=clean(vals[4]),
                planned=clean(vals[5]),
                financed=clean(vals[6]),
                cash=clean(vals[7]),
                code=clean(vals[8]),
                measure_row=opens,
            )
        )


def _parse_execution(report: SeedReport, rows) -> None:
    task = 0
    task_name = ""
    measure = 0
    measure_text = ""
    executors = ""
    for row in rows[1:]:
        vals = [c[1] for c in row] + [""] * (7 - len(row))
        t = TASK_RE.match(clean(vals[0]))
        if t:
            task, task_name = int(t.group(1)), " ".join(t.group(2).split())
            report.task_names[task] = task_name
            if not any(clean(v) for v in vals[1:]):
                continue
        mm = MEASURE_RE.match(clean(vals[1]))
        if mm:
            measure, measure_text = int(mm.group(1)), clean(vals[1])
            executors = clean(vals[5])
        report.execution.append(
            ExecutionRow(
                line=row[0][0],
                task=task,
                task_name=task_name,
                measure=measure,
                measure_text=measure_text,
                indicator=clean(vals[2]),
                planned=clean(vals[3]),
                actual=clean(vals[4]),
                executors=executors,
                narrative=clean(vals[6]) if mm else "",
            )
        )


# ---------------------------------------------------------------------------------
# mapping the seed's wording onto the catalogue's codes (used by the converter and the demo)
# ---------------------------------------------------------------------------------

GROUP_PATTERNS = {
    "REGIONS": r"обласні,?\s*Київська\s+міська\s+державні\s+адміністрації\s*\(військові\s+адміністрації\)",
    "HROMADAS": r"органи\s+місцевого\s+самоврядування(\s*\(за\s+згодою\))?",
    "OTHER_CEA": r"інші\s+органи\s+виконавчої\s+влади",
}
SOURCE_MAP = [("державний бюджет", "state_general"), ("місцев", "local"), ("джерела", "other"), ("-", "none")]
SOURCE_CODE = {"state_general": "SG", "state_special": "SS", "local": "LOC", "other": "OTH", "none": "NONE"}


def tokenize_executors(text: str, registry) -> list[str]:
    """Executor codes and groups named in a cell, in order of appearance."""
    found: list[tuple[int, str]] = []
    taken = [False] * len(text)

    def mark(start, end, code):
        if any(taken[start:end]):
            return
        for k in range(start, end):
            taken[k] = True
        found.append((start, code))

    for code, pat in GROUP_PATTERNS.items():
        for m in re.finditer(pat, text):
            mark(m.start(), m.end(), code)
    names = sorted(((n, e.code) for e in registry for n in e.names), key=lambda x: -len(x[0]))
    for name, code in names:
        for m in re.finditer(re.escape(name), text):
            mark(m.start(), m.end(), code)
    found.sort()
    out: list[str] = []
    for _, code in found:
        if code not in out:
            out.append(code)
    rest = "".join(ch if not taken[i] else " " for i, ch in enumerate(text))
    rest = re.sub(r"[\s,()]|за\s*згодою", "", rest)
    if rest:
        raise ValueError(f"unrecognised executor text in {text!r}: {rest!r}")
    return out


def funding_source_holder(row: FundingRow, registry) -> tuple[str, str]:
    """(source code, holder code or group) of a section I row, as the catalogue records them."""
    source = next((code for word, code in SOURCE_MAP if row.source.startswith(word) or word in row.source), None)
    if source is None:
        raise ValueError(f"seed line {row.line}: unknown source {row.source!r}")
    if row.measure_row:
        execs = tokenize_executors(row.holder, registry)
        holder = "REGIONS" if (source == "local" or execs[0] == "REGIONS") else execs[0]
    elif not row.holder:
        holder = "REGIONS"
    else:
        e = registry.find_by_name(row.holder)
        if e is None:
            raise ValueError(f"seed line {row.line}: unknown budget holder {row.holder!r}")
        holder = e.code
    return source, holder


def funding_line_id(measure_id: str, source: str, holder: str) -> str:
    return f"F.{measure_id}.{SOURCE_CODE[source]}.{holder}"
