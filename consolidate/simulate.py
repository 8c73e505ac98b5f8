"""Executors' 2024 returns derived from the ministry's 2024 report (the seed), by code.

Used by ``consolidate demo`` and the tests.  Nothing here types an expected total: every value
comes from the seed's text.  For each executor it builds what that executor would type into its
template (``values[kind][row_key][column_code]``, the format of :func:`consolidate.filler.fill_workbook`):

* funding lines: financed and cash of the holder's row in section I;
* indicators, by the indicator's rule: ``sum`` — per-oblast figures found in the narrative, the
  rest split among the other participants so that the parts add up to the seed's national
  figure; ``lead`` — the lead reports the national figure, a co-executor with its own paragraph
  reports its own (different) figure; ``max`` — co-executors report the same events (overlap);
  ``percent`` — the lead's percentage, or numerator/denominator from every oblast when the regions
  lead the measure;
* narrative: the paragraphs printed under the executor's header in section II (text before any
  header belongs to the lead; «Обласний рівень» text to the oblast it names);
* status: «виконано» where the actual meets the plan, «виконано частково» otherwise;
* proposals: section III, from the customer (Мінсоцполітики).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from .catalogue import GROUPS, Catalogue
from .layout import NIL_STATUS
from .narrative import checked as narrative_checked
from .narrative import indicator_noun, stated
from .seed import BOOKMARK, SeedReport, amount, funding_line_id, funding_source_holder, parse_seed

REGIONAL_RE = re.compile(r"^\s*(Обласний рівень|На обласному рівні)\s*:?\s*", re.I)
NUMBER_AFTER = re.compile(r"(\d[\d\s\u00a0]*(?:,\d+)?)\s*(\w+)?")
# Words after a figure that tell which indicator it counts (a stem of the indicator's name).
UNIT_STEMS = {
    "ос": ("осіб", "представник", "працівник", "фахівц", "населення", "спеціаліст"),
    "заход": ("заход",),
    "засідан": ("засідан",),
    "семінар": ("заход",),
    "кампан": ("кампан",),
    "стат": ("статей",),
    "матеріал": ("статей",),
    "сайт": ("сайт",),
}


@dataclass
class Simulated:
    """What every executor would type, plus the seed figures it came from (for the tests)."""

    values: dict[str, dict[str, dict[str, dict[str, object]]]] = field(default_factory=dict)
    national: dict[str, float | None] = field(default_factory=dict)  # indicator id -> seed actual

    def put(self, executor: str, kind: str, key: str, column: str, value) -> None:
        self.values.setdefault(executor, {}).setdefault(kind, {}).setdefault(key, {})[column] = value

    def get(self, executor: str, kind: str, key: str, column: str):
        return self.values.get(executor, {}).get(kind, {}).get(key, {}).get(column)


def _clean(text: str) -> str:
    return BOOKMARK.sub("", text).strip()


def _regional_names(catalogue: Catalogue) -> list[tuple[str, str]]:
    names = []
    for e in catalogue.registry.regional():
        for n in e.names:
            names.append((n, e.code))
    names.sort(key=lambda x: -len(x[0]))
    return names


def split_narrative(catalogue: Catalogue, measure_id: str, text: str) -> dict[str, list[str]]:
    """Paragraphs of a section II narrative by executor code."""
    m = catalogue.measure(measure_id)
    named = catalogue.executors_of(measure_id)
    central_named = [c for c in m.executors if c not in GROUPS]
    regional_named = [c for c in named if catalogue.registry[c].is_regional]
    default = central_named[0] if central_named else (regional_named[0] if regional_named else None)
    regional_names = _regional_names(catalogue)
    out: dict[str, list[str]] = defaultdict(list)
    current = default
    regional_mode = m.executors[0] == "REGIONS"
    last_oblast = None
    for raw in text.split("\n"):
        line = _clean(raw)
        if not line:
            continue
        head = line.rstrip(" :.").strip()
        e = catalogue.registry.find_by_name(head)
        if e is not None and not e.is_regional:
            current = e.code if e.code in named else default
            regional_mode = False
            continue
        rm = REGIONAL_RE.match(line)
        if rm:
            regional_mode = True
            last_oblast = None
            line = line[rm.end() :].strip() if line.lower().startswith("обласний") else line
            if not line:
                continue
        if regional_mode and regional_named:
            segments = _oblast_segments(line, regional_names)
            if last_oblast is None and len(segments) == 1 and segments[0][1] is None:
                # a line of the regional level naming no oblast, before any oblast's: a summary the ministry
                # wrote for all of them («В областях України проведено …») — the measure's first central
                # executor's text; a bare lead-in of the list («Проведено:») is nobody's paragraph
                if line.endswith(":") and not re.search(r"\d", line) and len(line) < 40:
                    continue
                if central_named:
                    out[central_named[0]].append(line)
                    continue
            for segment, code in segments:
                code = code if code in regional_named else (last_oblast or regional_named[0])
                if code in regional_named and segment:
                    last_oblast = code
                    out[code].append(segment)
            continue
        if current is not None:
            out[current].append(line)
    return dict(out)


def _oblast_segments(line: str, names: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
    """Split a regional line at each oblast it names at a segment start."""
    hits: list[tuple[int, str]] = []
    for name, code in names:
        for mt in re.finditer(re.escape(name).replace("\\ ", r"\s+"), line):
            start = mt.start()
            before = line[max(0, start - 3) : start]
            if (
                start == 0
                or re.search(r"(^|[;.]\s*|[УВу]\s|-\s)$", line[:start][-3:] if start >= 1 else "")
                or before.strip() in ("У", "В", "-", "–")
            ):
                if not any(h[0] <= start < h[0] + 3 for h in hits):
                    hits.append((start, code))
    if not hits:
        return [(line, None)]
    hits.sort()
    first = hits[0][0]
    prefix_start = line.rfind(";", 0, first) + 1 if first else 0
    segments: list[tuple[str, str | None]] = []
    if line[:first].strip(" ;.-–") and first > 12:
        segments.append((line[:first].strip(), None))
        prefix_start = first
    for i, (start, code) in enumerate(hits):
        begin = prefix_start if i == 0 else _segment_begin(line, start)
        end = _segment_begin(line, hits[i + 1][0]) if i + 1 < len(hits) else len(line)
        segments.append((line[begin:end].strip(" ;"), code))
    return segments


def _segment_begin(line: str, pos: int) -> int:
    """Begin a segment at the word before an oblast name ("У Кіровоградській …")."""
    m = re.search(r"(?:^|[;.]\s*)([УВу]\s+)?$", line[:pos])
    return m.start(1) if m and m.group(1) else pos


def _figure(segment: str, after: str) -> tuple[float | None, str]:
    """The first number after the oblast name in a segment, and the word after it."""
    m = NUMBER_AFTER.search(after)
    if not m:
        return None, ""
    digits = m.group(1).replace(" ", "").replace("\u00a0", "").replace(",", ".")
    try:
        return float(digits), (m.group(2) or "").lower()
    except ValueError:
        return None, ""


def _matches(indicator_name: str, word: str) -> bool:
    for stem, targets in UNIT_STEMS.items():
        if word.startswith(stem):
            return any(t in indicator_name.lower() for t in targets)
    return False


def _split(total: float, parts: int, decimals: int) -> list[float]:
    """Split ``total`` into ``parts`` shares with ``decimals`` decimals that add up exactly."""
    scale = 10**decimals
    units = round(total * scale)
    base, extra = divmod(units, parts)
    return [(base + (1 if i < extra else 0)) / scale for i in range(parts)]


def simulate(catalogue: Catalogue, seed: SeedReport | None = None, silent: frozenset[str] = frozenset()) -> Simulated:
    """Every executor's answers.  Where the seed has nothing from an executor on a measure, the executor
    states «не здійснювалось» (a nil report) — except the ``silent`` ones, who leave it blank."""
    seed = seed or parse_seed()
    sim = Simulated()
    registry = catalogue.registry

    # --- section I -------------------------------------------------------------
    for row in seed.funding:
        source, holder = funding_source_holder(row, registry)
        line_id = funding_line_id(f"T{row.task}.{row.measure}", source, holder)
        line = catalogue.get(line_id)
        if line is None or not line.reported:
            continue
        for column, raw in (("financed", row.financed), ("cash", row.cash)):
            v = amount(raw)
            if v is not None:
                sim.put(holder, "funding", line_id, column, v)

    # --- section II ------------------------------------------------------------
    rows_by_measure: dict[str, list] = defaultdict(list)
    for erow in seed.execution:
        rows_by_measure[f"T{erow.task}.{erow.measure}"].append(erow)
    for mid, rows in rows_by_measure.items():
        m = catalogue.measure(mid)
        narrative = next((r.narrative for r in rows if r.narrative), "")
        paragraphs = split_narrative(catalogue, mid, narrative)
        for code, paras in paragraphs.items():
            sim.put(code, "execution", mid, "narrative", "\n".join(paras))
        indicators = catalogue.indicators_of(mid)
        seed_rows = [r for r in rows if r.indicator or r.planned]
        met = True
        for ind, r in zip(indicators, seed_rows):
            national = amount(r.actual)
            sim.national[ind.id] = national
            if national is None:
                continue
            if ind.planned is not None and national < ind.planned:
                met = False
            _distribute(catalogue, sim, ind, national, paragraphs)
        status = "виконано" if met else "виконано частково"
        for code in catalogue.executors_of(mid):
            if code in paragraphs or any(sim.get(code, "execution", i.id, "actual") is not None for i in indicators):
                sim.put(code, "execution", mid, "status", status)
            elif code not in silent:
                sim.put(code, "execution", mid, "status", NIL_STATUS)
        del m

    # --- section III -----------------------------------------------------------
    proposals = [p.strip() for p in seed.proposals.split("\n") if p.strip()]
    for i, text in enumerate(proposals[:5]):
        sim.put(catalogue.programme.customer_executor, "proposals", f"P{i + 1}", "text", text)
    return sim


def _distribute(catalogue: Catalogue, sim: Simulated, ind, national: float, paragraphs: dict[str, list[str]]) -> None:
    m = catalogue.measure(ind.measure_id)
    named = catalogue.executors_of(m.id)
    central = [c for c in m.executors if c not in GROUPS]
    regional = [c for c in named if catalogue.registry[c].is_regional]
    speaking = [c for c in central if c in paragraphs]
    decimals = 0 if ind.unit == "count" and float(national).is_integer() else 1
    if ind.rule == "sum":
        # an oblast whose own paragraphs state the figure with the indicator's noun reports that figure
        # («Волинська область - 47 засідань» → 47 for T2.13.1), read as consolidate.narrative reads it; even when
        # the stated figures add up to more than the seed's national one (2.13: 1008 against 973), as in the seed
        given: dict[str, float] = {}
        siblings = [i for i in catalogue.indicators_of(m.id) if narrative_checked(i)]
        noun, qualifier = indicator_noun(ind, siblings) if narrative_checked(ind) else ("", "")
        together = [(c, p) for c in regional for p in paragraphs.get(c, [])]
        stated_by = stated(together, noun, qualifier) if noun else {}
        names = _regional_names(catalogue)
        for code in regional:
            values = {s.value for s in stated_by.get(code, [])}
            if len(values) == 1:
                given[code] = values.pop()
                continue
            for para in paragraphs.get(code, []):
                for name, c in names:
                    if c != code or name not in para:
                        continue
                    value, word = _figure(para, para[para.index(name) + len(name) :])
                    if value is not None and _matches(ind.name, word):
                        given.setdefault(code, value)
                    break
        guessed = {c for c in given if not {s.value for s in stated_by.get(c, [])}}
        if guessed and sum(given.values()) > national:  # the first number after a name is only a guess
            given = {c: v for c, v in given.items() if c not in guessed}
        for code, value in given.items():
            sim.put(code, "execution", ind.id, "actual", value)
        rest = max(0.0, round(national - sum(given.values()), 6))
        takers = speaking + [c for c in regional if c not in given]
        if not takers:
            takers = central[:1] or regional[:1]
        if rest and takers:
            for code, part in zip(takers, _split(rest, len(takers), decimals)):
                sim.put(code, "execution", ind.id, "actual", part)
    elif ind.rule == "lead":
        lead = m.lead
        sim.put(lead, "execution", ind.id, "actual", national)
        for code in speaking:
            if code != lead and national >= 2:
                sim.put(
                    code,
                    "execution",
                    ind.id,
                    "actual",
                    round(national // 2) if decimals == 0 else round(national / 2, 1),
                )
                break
    elif ind.rule == "max":
        # co-executors report the same events; one whose text states the count (consolidate.narrative) reports
        # it, the first of the others the seed's national figure
        reporters = speaking or central[:1]
        siblings = [i for i in catalogue.indicators_of(m.id) if narrative_checked(i)]
        noun, qualifier = indicator_noun(ind, siblings) if narrative_checked(ind) else ("", "")
        own = {}
        for code in reporters:
            values = (
                {s.value for s in stated([(code, p) for p in paragraphs.get(code, [])], noun, qualifier).get(code, [])}
                if noun
                else set()
            )
            if len(values) == 1 and (v := values.pop()) <= national:
                own[code] = v
        top = None
        if national not in own.values():  # someone reports the national figure: a reporter without its own
            # count, else another central executor of the measure (the events the texts do not count)
            top = (
                next((c for c in reporters if c not in own), None)
                or next((c for c in central if c not in reporters), None)
                or reporters[0]
            )
            own.pop(top, None)
            if top not in reporters:
                reporters = [*reporters, top]
        for i, code in enumerate(reporters):
            value = own.get(code, national if code == top else min(national, max(0.0, national - i)))
            sim.put(code, "execution", ind.id, "actual", value)
    elif ind.rule == "percent":
        if national > 100:
            # a count typed into a percent's cell (the seed's 2.14: 107 where a text counts 107 persons): only the
            # executor whose text states that number reports it, as in the seed
            typed = next(
                (
                    c
                    for c in named
                    for p in paragraphs.get(c, [])
                    if re.search(rf"(?<![\d,]){int(national)}(?![\d,])", p)
                ),
                m.lead if m.lead not in GROUPS else None,
            )
            if typed is not None:
                sim.put(typed, "execution", ind.id, "actual", national)
        elif m.executors[0] in GROUPS and regional:
            for i, code in enumerate(regional):
                den = 100 + 10 * i
                sim.put(code, "execution", ind.id, "actual", national)
                sim.put(code, "execution", ind.id, "numerator", round(national * den / 100, 6))
                sim.put(code, "execution", ind.id, "denominator", den)
        else:
            sim.put(m.lead, "execution", ind.id, "actual", national)
