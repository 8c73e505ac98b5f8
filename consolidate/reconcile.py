"""Reconciliation: many returns in, one national set of figures out.

Pure functions over plain data: :func:`reconcile` takes the catalogue and the latest accepted
return of every executor (a :class:`~consolidate.model.Submission` with its
:class:`~consolidate.model.CellValue` list) and produces a :class:`Reconciliation` — funding
lines and computed subtotals (section I), indicator values by their rule (section II), the
assembled narrative, proposals, conflicts, and the provenance of every figure.
"""

from __future__ import annotations

import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import layout as L
from .catalogue import GROUPS, RULE_LABELS, Catalogue, FundingLine, Indicator, Measure
from .model import ERROR, WARNING, CellValue, Submission
from .narrative import check_measure
from .neardup import first_similar
from .numbers import show_value
from .vocabulary import ConflictKind, Severity
from .vocabulary import label as code_label
from .wording import field_label

SUBTOTAL_KINDS = ("total", "state", "state_general", "state_special", "local", "other")
SUBTOTAL_LABELS = {
    "total": "Усього",
    "state": "– державний бюджет, у тому числі:",
    "state_general": "загальний фонд",
    "state_special": "спеціальний фонд",
    "local": "– місцевий бюджет",
    "other": "– інші",
}
# Section I prints a subtotal only for a source the programme has lines of: the state budget's three rows (the
# budget and both its funds, as the form has them) when any line is state-budget money, «місцевий бюджет» when any
# is local, «інші» when any is other; «Усього» always.
SUBTOTAL_GROUPS = (("state", ("state_general", "state_special")), ("local", ("local",)), ("other", ("other",)))
REGIONAL_HEADER = "Обласний рівень:"
NEAR_DUPLICATE = 0.9  # 2·LCS/(la + lb) from which two paragraphs are "the same text" (consolidate.neardup)
MIN_PARAGRAPH = 40  # shorter paragraphs (headings, list items) are not checked for duplication


class Source(NamedTuple):
    """Where one figure came from (a tuple: one per claim, ~100,000 at national scale)."""

    executor: str
    submission_id: int
    file: str
    sha256: str
    sheet: str
    cell: str
    field: str
    value: str


@dataclass
class Claim:
    executor: str
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    sources: list[Source] = field(default_factory=list)


def _value(c: Claim) -> float:
    """The value of a claim known to have one (of the ``numbers`` below: the claims with a value)."""
    assert c.value is not None
    return c.value


@dataclass(frozen=True)
class Conflict:
    """A reconciliation finding."""

    kind: str  # lead-mismatch, double-count, overlap, percent-over-100, percent-not-recomputable,
    # actual-without-plan, silent-executor, missing-executor, duplicate-paragraph, repeated-paragraph
    severity: str
    item: str  # indicator / measure / funding line id
    message: str
    executors: tuple[str, ...] = ()
    values: str = ""

    def __post_init__(self) -> None:
        try:  # a code of vocabulary.ConflictKind (str() of it is its label); an unknown kind stays as given
            object.__setattr__(self, "kind", ConflictKind(self.kind))
        except ValueError:
            pass


@dataclass
class FundingResult:
    line: FundingLine
    financed: float | None = None
    cash: float | None = None
    budget_code: str = ""
    comment: str = ""
    nil: bool = False
    reported: bool = False  # the holder's return is in
    sources: list[Source] = field(default_factory=list)
    suspect: list[str] = field(default_factory=list)  # fields holding an unconfirmed outlier (financed, cash)

    @property
    def programme_level(self) -> bool:
        return not self.line.reported

    @property
    def incomplete(self) -> bool:
        return self.line.reported and not self.reported


@dataclass
class Subtotal:
    task_id: str | None  # None = the whole programme
    kind: str
    programme_amount: float
    planned: float
    financed: float
    cash: float
    lines: list[str]  # funding line ids summed
    incomplete: bool


@dataclass
class IndicatorResult:
    indicator: Indicator
    value: float | None
    claims: list[Claim]
    missing: list[str]  # named executors with no return at all
    nil: list[str]  # executors that stated no activity on the measure
    note: str = ""
    computed: float | None = None  # the value by the rule, before any adjustment
    adjustment: Any = None  # the active ledger.Adjustment that set the value by hand
    suspect: list[str] = field(default_factory=list)  # executors whose claim is an unconfirmed outlier

    @property
    def incomplete(self) -> bool:
        return bool(self.missing)

    @property
    def sources(self) -> list[Source]:
        return [s for c in self.claims for s in c.sources]


@dataclass
class NarrativeBlock:
    header: str  # agency short name, or REGIONAL_HEADER
    paragraphs: list[tuple[str, str]]  # (executor, text)


@dataclass
class MeasureResult:
    measure: Measure
    statuses: dict[str, str]
    blocks: list[NarrativeBlock]
    missing: list[str]
    silent: list[str]
    nil: list[str]
    twins: list[tuple[str, str]] = field(default_factory=list)  # executors whose paragraphs duplicate each other

    def narrative_text(self) -> str:
        out: list[str] = []
        for b in self.blocks:
            out.append(b.header)
            out.extend(text for _, text in b.paragraphs)
        return "\n".join(out)


@dataclass(frozen=True)
class Proposal:
    """A proposal of section III: its text (the first author's words), who proposed it (every author of it or of a
    near-identical text, in order), and each author's own text."""

    text: str
    authors: tuple[str, ...]
    variants: tuple[tuple[str, str], ...]


@dataclass
class Reconciliation:
    period: str
    funding: list[FundingResult]
    subtotals: list[Subtotal]
    indicators: list[IndicatorResult]
    measures: list[MeasureResult]
    proposals: list[Proposal]
    conflicts: list[Conflict]
    expected: list[str]
    reported: dict[str, Submission]
    outliers: list = field(default_factory=list)  # review.CheckedOutlier of the returns used
    _found: tuple | None = field(default=None, init=False, repr=False, compare=False)  # find()'s index

    @property
    def unconfirmed(self) -> list:
        """Outliers nobody confirmed: an approved report refuses them, a draft marks them."""
        return [c for c in self.outliers if not c.confirmed]

    @property
    def missing_executors(self) -> list[str]:
        return [e for e in self.expected if e not in self.reported]

    def funding_by_task(self, catalogue: Catalogue) -> dict[str, list[tuple[str, list[FundingResult]]]]:
        """Funding results per task id, as (measure id, its lines) in catalogue order: section I's layout."""
        out: dict[str, list[tuple[str, list[FundingResult]]]] = {}
        for fr in self.funding:
            groups = out.setdefault(catalogue.measure(fr.line.measure_id).task_id, [])
            if not groups or groups[-1][0] != fr.line.measure_id:
                groups.append((fr.line.measure_id, []))
            groups[-1][1].append(fr)
        return out

    def indicators_by_measure(self) -> dict[str, list[IndicatorResult]]:
        out: dict[str, list[IndicatorResult]] = {}
        for ir in self.indicators:
            out.setdefault(ir.indicator.measure_id, []).append(ir)
        return out

    def measures_by_id(self) -> dict[str, MeasureResult]:
        return {mr.measure.id: mr for mr in self.measures}

    @property
    def subtotal_kinds(self) -> tuple[str, ...]:
        """The subtotal rows section I prints, in order (see SUBTOTAL_GROUPS): the same for every task."""
        return subtotal_kinds(r.line.source for r in self.funding)

    def subtotal(self, task_id: str | None, kind: str) -> Subtotal | None:
        return next((s for s in self.subtotals if s.task_id == task_id and s.kind == kind), None)

    def find(self, item_id: str):
        """The result of an indicator, funding line or measure (indexed on first use: the report looks up
        every conflict's item)."""
        sizes = (len(self.indicators), len(self.funding), len(self.measures))
        if self._found is None or self._found[0] != sizes:
            index: dict = {}
            for coll, attr in ((self.indicators, "indicator"), (self.funding, "line"), (self.measures, "measure")):
                for r in coll:
                    index.setdefault(getattr(r, attr).id, r)
            self._found = (sizes, index)
        return self._found[1].get(item_id)


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------


class _Values:
    """Values of one submission indexed by (row key, field)."""

    def __init__(self, sub: Submission, values: list[CellValue]):
        self.sub = sub
        self.by_key: dict[tuple[str, str], CellValue] = {(v.key, v.field): v for v in values}

    def get(self, key: str, fld: str) -> CellValue | None:
        return self.by_key.get((key, fld))

    def number(self, key: str, fld: str) -> float | None:
        v = self.get(key, fld)
        return v.number if v is not None else None

    def text(self, key: str, fld: str) -> str:
        v = self.get(key, fld)
        return v.text.strip() if v is not None and v.text else ""

    def source(self, key: str, fld: str) -> Source | None:
        v = self.get(key, fld)
        if v is None:
            return None
        return Source(
            self.sub.executor,
            self.sub.id,
            self.sub.original_name,
            self.sub.sha256,
            v.sheet,
            v.cell,
            fld,
            v.text if v.number is None else show_value(v.number),
        )


def _norm_text(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def _near_duplicates(texts: list[str], *, query_short: bool = True) -> list[int | None]:
    """For each text, the first earlier kept one that is the same: identical, or (both at least MIN_PARAGRAPH
    long) sharing ≥ NEAR_DUPLICATE of their characters in a longest common subsequence; found without
    comparing every pair (see consolidate.neardup)."""
    return first_similar(texts, NEAR_DUPLICATE, MIN_PARAGRAPH, query_short=query_short)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n") if p.strip()]


# ---------------------------------------------------------------------------------
# the reconciliation
# ---------------------------------------------------------------------------------


def reconcile(
    catalogue: Catalogue,
    period: str,
    returns: list[tuple[Submission, list[CellValue]]],
    adjustments=(),
    outliers=(),
    quarters=(),
) -> Reconciliation:
    """Reconcile the given returns; ``adjustments``: active ledger.Adjustment rows that set figures by hand;
    ``outliers``: review.CheckedOutlier of these returns (listed as findings, unconfirmed ones marked);
    ``quarters``: quarters.QuarterMismatch of these (annual) returns against the executors' quarterly ones."""
    vals = {sub.executor: _Values(sub, values) for sub, values in returns}
    reported = {sub.executor: sub for sub, _ in returns}
    conflicts: list[Conflict] = []
    expected = catalogue.expected_executors()

    # near-duplicate paragraphs are found in another thread (numpy and rapidfuzz work without the GIL)
    # while the funding lines are read in this one
    plans = [_measure_plan(catalogue, m, vals) for m in catalogue.measures]
    with ThreadPoolExecutor(1) as pool:
        repeats = [pool.submit(_near_duplicates, [g[2] for g in plan.given], query_short=False) for plan in plans]
        funding = [_funding_line(line, vals.get(line.holder)) for line in catalogue.funding]
        for r in funding:
            if r.reported and not r.nil:
                if r.financed is not None and r.cash is not None and r.cash > r.financed + 1e-9:
                    conflicts.append(
                        Conflict(
                            "cash-over-financed",
                            WARNING,
                            r.line.id,
                            f"Касові видатки ({show_value(r.cash)}) більші за профінансовані ({show_value(r.financed)})",
                            (r.line.holder,),
                            f"{show_value(r.financed)} / {show_value(r.cash)}",
                        )
                    )
        subtotals = _subtotals(catalogue, funding)
        measures = [_measure(catalogue, plan, found.result(), conflicts) for plan, found in zip(plans, repeats)]
    by_measure = {mr.measure.id: mr for mr in measures}
    indicators = [
        _indicator(catalogue, ind, vals, by_measure[ind.measure_id].nil, by_measure[ind.measure_id].twins, conflicts)
        for ind in catalogue.indicators
    ]
    _repeated_across_measures(measures, conflicts)
    _narrative_findings(catalogue, measures, indicators, conflicts)
    silent_by_exec: dict[str, list[str]] = defaultdict(list)
    for mr in measures:
        for code in mr.silent:
            silent_by_exec[code].append(mr.measure.id)
    for code, mids in silent_by_exec.items():
        conflicts.append(
            Conflict(
                "silent-executor",
                WARNING,
                code,
                f"{catalogue.executor_label(code)} названо виконавцем заходів, про які у звіті нічого не сказано: "
                f"{', '.join(mids)}",
                (code,),
                ", ".join(mids),
            )
        )

    offered: list[tuple[str, str]] = []
    for code in catalogue.expected_executors():
        v = vals.get(code)
        if v is None:
            continue
        for key in L.PROPOSAL_KEYS:
            text = v.text(key, "text")
            if text:
                offered.append((code, text))
    proposal_repeats = _near_duplicates([_norm_text(text) for _, text in offered])
    proposals = _proposals(catalogue, offered, proposal_repeats, conflicts)

    for code in expected:
        if code not in reported:
            conflicts.append(
                Conflict(
                    "missing-executor",
                    WARNING,
                    code,
                    f"{catalogue.executor_label(code)}: звіт не подано — пов’язані показники неповні",
                    (code,),
                )
            )
    for result in indicators:
        result.computed = result.value
    by_id = {ir.indicator.id: ir for ir in indicators}
    for adj in adjustments:
        ir = by_id.get(adj.item)
        if ir is None or adj.period != period or adj.undone_at:
            continue
        ir.adjustment = adj
        ir.value = adj.value
        conflicts.append(
            Conflict(
                "adjusted",
                WARNING,
                ir.indicator.id,
                f"Значення встановлено вручну: {show_value(adj.value)} (за правилом {ir.indicator.rule}: {show_value(ir.computed)})"
                f"{' поза межами повідомлених даних' if adj.forced else ''}; {adj.operator}, {adj.made_at}: {adj.reason}",
                (),
                f"{show_value(ir.computed)} → {show_value(adj.value)}",
            )
        )
    _outlier_findings(catalogue, outliers, funding, indicators, conflicts)
    for q in quarters:
        # the year's figure contradicts the executor's own quarters as the catalogue declares them: one is wrong
        conflicts.append(
            Conflict(
                "quarter-mismatch",
                ERROR,
                q.indicator,
                q.message,
                (q.executor,),
                f"{show_value(q.annual)} / {show_value(q.expected)}",
            )
        )
    return Reconciliation(
        period, funding, subtotals, indicators, measures, proposals, conflicts, expected, reported, list(outliers)
    )


def _narrative_findings(
    catalogue: Catalogue, measures: list[MeasureResult], indicators: list[IndicatorResult], conflicts: list[Conflict]
) -> None:
    """Numbers in the narratives that contradict the executor's own figure or the national one
    (consolidate.narrative): warnings «перевірте: …»."""
    by_measure: dict[str, list[IndicatorResult]] = defaultdict(list)
    for ir in indicators:
        by_measure[ir.indicator.measure_id].append(ir)
    for mr in measures:
        irs = by_measure.get(mr.measure.id)
        if not irs or not mr.blocks:
            continue
        paragraphs = [pair for b in mr.blocks for pair in b.paragraphs]
        checked = [
            (ir.indicator, ir.value, {c.executor: c.value for c in ir.claims if c.value is not None}) for ir in irs
        ]
        for f in check_measure(checked, paragraphs, catalogue.executor_label, mr.measure.lead):
            conflicts.append(Conflict(f.kind, WARNING, f.item, f.message, f.executors, f.values))


def _outlier_findings(
    catalogue: Catalogue,
    outliers,
    funding: list[FundingResult],
    indicators: list[IndicatorResult],
    conflicts: list[Conflict],
) -> None:
    """Each outlier a finding: an error while unconfirmed (its figure marked), a warning with who and why once
    confirmed."""
    lines = {r.line.id: r for r in funding}
    inds = {r.indicator.id: r for r in indicators}
    for checked in outliers:
        o, conf = checked.outlier, checked.confirmation
        who = catalogue.executor_label(o.executor)
        if conf is None:
            message = f"{who}: {o.message}. Не підтверджено: звіт не може бути прийнятий без підтвердження"
            if o.key in lines and o.field not in lines[o.key].suspect:
                lines[o.key].suspect.append(o.field)
            if o.key in inds and o.executor not in inds[o.key].suspect:
                inds[o.key].suspect.append(o.executor)
        else:
            message = f"{who}: {o.message}. Підтверджено: {conf.operator}, {conf.confirmed_at}; причина: {conf.reason}"
        conflicts.append(
            Conflict(o.code, ERROR if conf is None else WARNING, o.key, message, (o.executor,), show_value(o.value))
        )


def _proposals(
    catalogue: Catalogue, offered: list[tuple[str, str]], repeats: list[int | None], conflicts: list[Conflict]
) -> list[Proposal]:
    """Section III: every proposal with its author; a near-duplicate joins the first one's authors (and is listed
    on «Звірка»), nothing is dropped silently."""
    out: list[Proposal] = []
    index_of: dict[int, int] = {}  # offered index → proposal index
    for i, ((code, text), repeat) in enumerate(zip(offered, repeats)):
        if repeat is None:
            index_of[i] = len(out)
            out.append(Proposal(text, (code,), ((code, text),)))
            continue
        k = index_of[repeat]
        index_of[i] = k
        first = out[k]
        authors = first.authors if code in first.authors else (*first.authors, code)
        out[k] = Proposal(first.text, authors, (*first.variants, (code, text)))
        same = "ідентична" if _norm_text(text) == _norm_text(first.text) else "майже ідентична"
        conflicts.append(
            Conflict(
                "merged-proposal",
                WARNING,
                f"P:{k + 1}",
                f"{catalogue.executor_label(code)}: {same} пропозиція, як у звіті {catalogue.executor_label(first.authors[0])}; "
                f"у розділі III — одна пропозиція з переліком усіх її авторів",
                tuple(dict.fromkeys((first.authors[0], code))),
                text[:120],
            )
        )
    return out


def _funding_line(line: FundingLine, v: _Values | None) -> FundingResult:
    r = FundingResult(line)
    if not line.reported or v is None:
        return r
    r.reported = True
    r.nil = v.text(line.id, "nil").casefold() == L.NIL_FUNDING
    r.financed = v.number(line.id, "financed")
    r.cash = v.number(line.id, "cash")
    if r.nil:
        r.financed = 0.0 if r.financed is None else r.financed
        r.cash = 0.0 if r.cash is None else r.cash
    r.budget_code = v.text(line.id, "budget_code") or line.budget_code
    r.comment = v.text(line.id, "comment")
    for fld in ("financed", "cash", "budget_code", "nil"):
        s = v.source(line.id, fld)
        if s is not None:
            r.sources.append(s)
    return r


def subtotal_kinds(sources) -> tuple[str, ...]:
    """The subtotal kinds of a programme whose funding lines have ``sources``, in SUBTOTAL_KINDS order."""
    present = set(sources)
    shown = {"total"}
    for group, members in SUBTOTAL_GROUPS:
        if present.intersection(members):
            shown.update((group, *(m for m in members if m != group)))
    return tuple(k for k in SUBTOTAL_KINDS if k in shown)


def _kinds_of(source: str) -> tuple[str, ...]:
    if source in ("state_general", "state_special"):
        return ("total", "state", source)
    if source in ("local", "other"):
        return ("total", source)
    return ()


def _subtotals(catalogue: Catalogue, funding: list[FundingResult]) -> list[Subtotal]:
    acc: dict[tuple[str | None, str], Subtotal] = {}
    task_of = {m.id: m.task_id for m in catalogue.measures}
    order: list[str | None] = []
    for r in funding:
        tid = task_of[r.line.measure_id]
        if tid not in order:
            order.append(tid)
    order.append(None)
    kinds = subtotal_kinds(r.line.source for r in funding)
    for task in order:
        for kind in kinds:
            acc[(task, kind)] = Subtotal(task, kind, 0.0, 0.0, 0.0, 0.0, [], False)
    for r in funding:
        tid = task_of[r.line.measure_id]
        for key in (tid, None):
            for kind in _kinds_of(r.line.source):
                s = acc[(key, kind)]
                s.programme_amount += r.line.programme_amount or 0.0
                s.planned += r.line.planned or 0.0
                s.financed += r.financed or 0.0
                s.cash += r.cash or 0.0
                s.lines.append(r.line.id)
                s.incomplete = s.incomplete or r.incomplete
    for s in acc.values():
        for attr in ("programme_amount", "planned", "financed", "cash"):
            setattr(s, attr, round(getattr(s, attr), 6))
    return [acc[(tid, kind)] for tid in order for kind in kinds]


@dataclass
class _MeasurePlan:
    """What the executors of a measure said, before the near-duplicate paragraphs are known."""

    measure: Measure
    statuses: dict[str, str]
    missing: list[str]
    silent: list[str]
    nil: list[str]
    given: list[tuple[str, str, str]]  # (executor, paragraph, normalised), in the report's order
    central_order: list[str]
    regional_order: list[str]


def _measure_plan(catalogue: Catalogue, m: Measure, vals: dict[str, _Values]) -> _MeasurePlan:
    named = catalogue.executors_of(m.id)
    indicators = catalogue.indicators_of(m.id)
    statuses: dict[str, str] = {}
    texts: dict[str, str] = {}
    missing, silent, nil = [], [], []
    for code in named:
        v = vals.get(code)
        if v is None:
            missing.append(code)
            continue
        status = v.text(m.id, "status")
        text = v.text(m.id, "narrative")
        if status:
            statuses[code] = status
        if status.casefold() == L.NIL_STATUS:
            nil.append(code)
        if text:
            texts[code] = text
        said = status or text or any(v.number(i.id, "actual") is not None for i in indicators)
        if not said:
            silent.append(code)
    # paragraphs grouped under agency headers: central agencies in the measure's order, then the regions
    central_order = [c for c in m.executors if c not in GROUPS]
    named_here = set(central_order)
    central_order += [e.code for e in catalogue.registry if not e.is_regional and e.code not in named_here]
    regional_order = [e.code for e in catalogue.registry if e.is_regional]
    given = [
        (code, para, _norm_text(para))
        for code in central_order + regional_order
        if code in texts
        for para in _paragraphs(texts[code])
    ]
    return _MeasurePlan(m, statuses, missing, silent, nil, given, central_order, regional_order)


def _measure(
    catalogue: Catalogue, plan: _MeasurePlan, repeats: list[int | None], conflicts: list[Conflict]
) -> MeasureResult:
    """The measure's result; ``repeats``: for each paragraph of ``plan.given``, the earlier one it repeats."""
    m = plan.measure
    twins: list[tuple[str, str]] = []  # executors whose paragraphs duplicate each other
    by_exec: dict[str, list[str]] = defaultdict(list)
    for (code, para, norm), found in zip(plan.given, repeats):
        if found is not None:
            twin = plan.given[found]
            same = "ідентичний" if twin[2] == norm else "майже ідентичний"
            if twin[0] != code and (twin[0], code) not in twins:
                twins.append((twin[0], code))
            whose = (
                "власний абзац, уже поданий" if twin[0] == code else f"текст, що й {catalogue.executor_label(twin[0])}"
            )
            conflicts.append(
                Conflict(
                    "duplicate-paragraph",
                    WARNING,
                    m.id,
                    f"{catalogue.executor_label(code)}: {same} {whose}; у звіт включено один раз",
                    tuple(dict.fromkeys((twin[0], code))),
                    para[:120],
                )
            )
            continue
        by_exec[code].append(para)
    blocks: list[NarrativeBlock] = []
    for code in plan.central_order:
        if by_exec.get(code):
            blocks.append(NarrativeBlock(catalogue.executor_label(code), [(code, p) for p in by_exec[code]]))
    # «Обласний рівень:» — one paragraph per region, beginning with its name («Кіровоградська область: …»)
    regional = [
        (code, _named_paragraph(catalogue, code, by_exec[code])) for code in plan.regional_order if by_exec.get(code)
    ]
    if regional:
        blocks.append(NarrativeBlock(REGIONAL_HEADER, regional))
    return MeasureResult(m, plan.statuses, blocks, plan.missing, plan.silent, plan.nil, twins)


def region_name(catalogue: Catalogue, code: str) -> str:
    """How section II names a region: «Кіровоградська область», «м. Київ» (its short name otherwise)."""
    e = catalogue.registry.get(code)
    if e is None:
        return code
    return (
        next((a for a in e.aliases if a.endswith(" область")), None)
        or next((a for a in e.aliases if a.startswith("м. ")), None)
        or e.short_name
    )


def _named_paragraph(catalogue: Catalogue, code: str, paragraphs: list[str]) -> str:
    """A region's paragraphs as one, beginning with the region's name unless the text already does."""
    text = " ".join(paragraphs)
    e = catalogue.registry.get(code)
    names = e.names if e is not None else (code,)
    if any(text.casefold().startswith(n.casefold()) for n in names):
        return text
    return f"{region_name(catalogue, code)}: {text}"


def _repeated_across_measures(measures: list[MeasureResult], conflicts: list[Conflict]) -> None:
    """One executor's paragraph repeated under several measures: flagged (kept where it stands)."""
    seen: dict[tuple[str, str], str] = {}
    for mr in measures:
        for b in mr.blocks:
            for code, para in b.paragraphs:
                norm = _norm_text(para)
                if len(norm) < MIN_PARAGRAPH:
                    continue
                key = (code, norm)
                if key in seen and seen[key] != mr.measure.id:
                    conflicts.append(
                        Conflict(
                            "repeated-paragraph",
                            WARNING,
                            mr.measure.id,
                            f"Той самий текст виконавця {b.header if b.header != REGIONAL_HEADER else code} "
                            f"уже подано до заходу {seen[key]}",
                            (code,),
                            para[:120],
                        )
                    )
                else:
                    seen.setdefault(key, mr.measure.id)


def _indicator(
    catalogue: Catalogue,
    ind: Indicator,
    vals: dict[str, _Values],
    nil: list[str],
    twins: list[tuple[str, str]],
    conflicts: list[Conflict],
) -> IndicatorResult:
    named = catalogue.executors_of(ind.measure_id)
    claims: list[Claim] = []
    missing: list[str] = []
    for code in named:
        v = vals.get(code)
        if v is None:
            missing.append(code)
            continue
        actual = v.number(ind.id, "actual")
        num = v.number(ind.id, "numerator")
        den = v.number(ind.id, "denominator")
        if actual is None and num is None:
            continue
        c = Claim(code, actual, num, den)
        for fld in ("actual", "numerator", "denominator"):
            s = v.source(ind.id, fld)
            if s is not None:
                c.sources.append(s)
        claims.append(c)
    res = IndicatorResult(ind, None, claims, missing, nil)
    label = catalogue.executor_label
    numbers = [c for c in claims if c.value is not None]
    if ind.rule == "text" or not claims:
        pass
    elif ind.rule == "sum":
        res.value = sum(_value(c) for c in numbers) if numbers else None
        _double_counting(catalogue, ind, numbers, twins, conflicts)
    elif ind.rule == "lead":
        lead = catalogue.measure(ind.measure_id).lead
        lead_claim = next((c for c in numbers if c.executor == lead), None)
        if lead_claim is not None:
            res.value = lead_claim.value
            for c in numbers:
                if c.executor != lead and abs(_value(c) - _value(lead_claim)) > 1e-9:
                    conflicts.append(
                        Conflict(
                            "lead-mismatch",
                            WARNING,
                            ind.id,
                            f"у звіті {label(c.executor)} — {show_value(c.value)}, у звіті відповідального виконавця ({label(lead)}) — "
                            f"{show_value(lead_claim.value)}; у звіт узято значення відповідального виконавця",
                            (lead, c.executor),
                            f"{show_value(lead_claim.value)} / {show_value(c.value)}",
                        )
                    )
        else:
            res.note = f"відповідальний виконавець {label(lead)} не повідомив значення"
    elif ind.rule == "max":
        if numbers:
            top = max(numbers, key=_value)
            res.value = top.value
            if len(numbers) > 1:
                listing = ", ".join(f"{label(c.executor)} {show_value(c.value)}" for c in numbers)
                conflicts.append(
                    Conflict(
                        "overlap",
                        WARNING,
                        ind.id,
                        f"Кілька виконавців звітують про ті самі події ({listing}); значення не додано, узято найбільше "
                        f"({show_value(top.value)}, {label(top.executor)})",
                        tuple(c.executor for c in numbers),
                        listing,
                    )
                )
    elif ind.rule == "percent":
        _percent(catalogue, ind, res, claims, conflicts)
    if res.value is not None and ind.planned is None and ind.rule != "text":
        conflicts.append(
            Conflict(
                "actual-without-plan",
                WARNING,
                ind.id,
                f"Фактичне значення {show_value(res.value)} без планового значення в каталозі",
                (),
                show_value(res.value),
            )
        )
    return res


def _percent(
    catalogue: Catalogue, ind: Indicator, res: IndicatorResult, claims: list[Claim], conflicts: list[Conflict]
) -> None:
    label = catalogue.executor_label
    over = [c for c in claims if c.value is not None and c.value > 100]
    if over:
        listing = ", ".join(f"{label(c.executor)} {show_value(c.value)}" for c in over)
        conflicts.append(
            Conflict(
                "percent-over-100",
                ERROR,
                ind.id,
                f"Відсоток понад 100: {listing}",
                tuple(c.executor for c in over),
                listing,
            )
        )
    full = [(c.numerator, c.denominator) for c in claims if c.numerator is not None and c.denominator]
    if full and len(full) == len(claims):
        num = sum(n for n, _ in full)
        den = sum(d for _, d in full)
        res.value = round(100.0 * num / den, 1)
        res.note = f"перераховано: {show_value(num)} / {show_value(den)}"
        return
    lead = catalogue.measure(ind.measure_id).lead
    values = [c for c in claims if c.value is not None]
    chosen = next((c for c in values if c.executor == lead), None)
    if chosen is None and len(values) == 1:
        chosen = values[0]
    if chosen is not None:
        res.value = chosen.value
        res.note = f"значення {label(chosen.executor)}"
    if len(values) > 1:
        listing = ", ".join(f"{label(c.executor)} {show_value(c.value)}%" for c in values)
        conflicts.append(
            Conflict(
                "percent-not-recomputable",
                WARNING,
                ind.id,
                f"Відсоток неможливо перерахувати: не всі виконавці подали чисельник і знаменник ({listing}); "
                + (f"узято значення {label(chosen.executor)}" if chosen else "значення не визначено"),
                tuple(c.executor for c in values),
                listing,
            )
        )


def _double_counting(
    catalogue: Catalogue, ind: Indicator, numbers: list[Claim], twins: list[tuple[str, str]], conflicts: list[Conflict]
) -> None:
    """Under `sum`, flag claims that look like the same events counted twice."""
    label = catalogue.executor_label
    regional = [c for c in numbers if catalogue.registry.get(c.executor) and catalogue.registry[c.executor].is_regional]
    regional_sum = sum(_value(c) for c in regional)
    for c in numbers:
        e = catalogue.registry.get(c.executor)
        if (
            e is not None
            and not e.is_regional
            and len(regional) > 1
            and regional_sum > 0
            and abs(_value(c) - regional_sum) < 1e-9
        ):
            conflicts.append(
                Conflict(
                    "double-count",
                    ERROR,
                    ind.id,
                    f"у звіті {label(c.executor)} — {show_value(c.value)}, стільки ж, скільки всі області разом: ймовірно, "
                    f"ті самі заходи враховано двічі",
                    (c.executor,),
                    show_value(c.value),
                )
            )
    by_exec = {c.executor: c for c in numbers}
    for a, b in twins:
        ca, cb = by_exec.get(a), by_exec.get(b)
        if ca is not None and cb is not None and ca.value and abs(ca.value - _value(cb)) < 1e-9:
            conflicts.append(
                Conflict(
                    "double-count",
                    ERROR,
                    ind.id,
                    f"{label(a)} і {label(b)} подали однаковий текст і однакове значення {show_value(ca.value)}: ймовірно, "
                    f"ті самі події враховано двічі",
                    (a, b),
                    show_value(ca.value),
                )
            )


def reconcile_ledger(
    catalogue: Catalogue, ledger, period: str, include_unapproved: bool = False, thresholds=None
) -> Reconciliation:
    """Reconcile the returns recorded in a ledger, with the clerk's active adjustments and confirmations.

    By default only approved returns count (see :mod:`consolidate.review`); ``include_unapproved``
    takes every executor's latest return instead (a draft).  ``thresholds``: outliers.Thresholds of the
    workspace (consolidate.toml), the defaults if None.  For a year, the figures reconciled are checked
    against each executor's latest quarterly returns (:mod:`consolidate.quarters`): each mismatch a finding.
    """
    from .catalogue import PERIOD_RE
    from .quarters import annual_actuals, check_quarters
    from .review import approved_returns, outliers_of_returns

    if include_unapproved:
        subs = ledger.latest_submissions(period)
        values = ledger.values_of(sub.id for sub in subs)
        returns = [(sub, values[sub.id]) for sub in subs]
    else:
        returns = approved_returns(catalogue, ledger, period)
    outliers = outliers_of_returns(catalogue, ledger, period, returns, thresholds)
    year = PERIOD_RE.match(period)
    quarters = []
    if year is not None and year.group(2) is None:
        quarters = check_quarters(catalogue, ledger, int(period), annual_actuals(returns)).mismatches
    return reconcile(
        catalogue, period, returns, ledger.adjustments(period=period, active_only=True), outliers, quarters
    )


def conflict_dict(c: Conflict) -> dict:
    return {
        "kind": c.kind,
        "kind_label": code_label(c.kind),
        "severity": Severity.of(c.severity).value,
        "severity_label": Severity.of(c.severity).label,
        "item": c.item,
        "message": c.message,
        "executors": list(c.executors),
        "values": c.values,
    }


def summary_dict(catalogue: Catalogue, rec: Reconciliation) -> dict:
    """A JSON-ready view of the reconciliation: national figures, provenance, conflicts."""
    total = rec.subtotal(None, "total")
    return {
        "period": rec.period,
        "reported": sorted(rec.reported),
        "missing": rec.missing_executors,
        "programme_total": None
        if total is None
        else {
            "programme_amount": total.programme_amount,
            "planned": total.planned,
            "financed": total.financed,
            "cash": total.cash,
            "incomplete": total.incomplete,
        },
        "funding": [
            {
                "id": r.line.id,
                "holder": r.line.holder,
                "financed": r.financed,
                "cash": r.cash,
                "nil": r.nil,
                "incomplete": r.incomplete,
                "sources": [s._asdict() for s in r.sources],
            }
            for r in rec.funding
        ],
        "subtotals": [s.__dict__ for s in rec.subtotals],
        "indicators": [
            {
                "id": r.indicator.id,
                "rule": r.indicator.rule,
                "planned": r.indicator.planned,
                "value": r.value,
                "incomplete": r.incomplete,
                "missing": r.missing,
                "note": r.note,
                "claims": [
                    {
                        "executor": c.executor,
                        "value": c.value,
                        "numerator": c.numerator,
                        "denominator": c.denominator,
                        "sources": [s._asdict() for s in c.sources],
                    }
                    for c in r.claims
                ],
            }
            for r in rec.indicators
        ],
        "conflicts": [conflict_dict(c) for c in rec.conflicts],
    }


def explain_lines(catalogue: Catalogue, rec: Reconciliation, item_id: str) -> list[str]:
    """Human-readable provenance of one national figure (indicator, funding line or measure)."""
    label = catalogue.executor_label
    item = rec.find(item_id)
    if item is None:
        return []
    out: list[str] = []

    def src(s: Source) -> str:
        return f"{s.file} (sha256 {s.sha256[:16]}…), аркуш «{s.sheet}», клітинка {s.cell}: {field_label(s.field)} — {s.value}"

    if isinstance(item, IndicatorResult):
        ind = item.indicator
        out.append(f"Показник {ind.id}: {ind.name}")
        out.append(f"  правило зведення: {RULE_LABELS.get(ind.rule, ind.rule)}")
        out.append(
            f"  план: {show_value(ind.planned)}; національне значення: {show_value(item.value)}"
            + (" (НЕПОВНІ ДАНІ)" if item.incomplete else "")
            + (f"; {item.note}" if item.note else "")
        )
        adj = item.adjustment
        if adj is not None:
            out.append(
                f"  СКОРИГОВАНО ВРУЧНУ: {show_value(adj.value)} замість {show_value(item.computed)} за правилом; "
                f"{adj.operator}, {adj.made_at}; причина: {adj.reason}"
                + (" (поза межами, --force)" if adj.forced else "")
            )
        for c in item.claims:
            extra = (
                f" (чисельник {show_value(c.numerator)}, знаменник {show_value(c.denominator)})"
                if c.numerator is not None
                else ""
            )
            out.append(f"  • {label(c.executor)}: {show_value(c.value)}{extra}")
            out.extend(f"      {src(s)}" for s in c.sources)
        if item.missing:
            out.append("  не подали звіт: " + ", ".join(label(c) for c in item.missing))
    elif isinstance(item, FundingResult):
        line = item.line
        out.append(f"Рядок фінансування {line.id}: {label(line.holder)}, {line.source_label}")
        out.append(
            f"  програмою: {show_value(line.programme_amount)}; передбачено: {show_value(line.planned)} тис. грн"
        )
        if item.programme_level:
            out.append("  рядок рівня програми: фактичні суми подають окремі розпорядники")
        elif not item.reported:
            out.append(f"  {label(line.holder)}: звіт не подано (НЕПОВНІ ДАНІ)")
        else:
            out.append(
                f"  профінансовано: {show_value(item.financed)}; касові видатки: {show_value(item.cash)}"
                + (" (фінансування не здійснювалось)" if item.nil else "")
            )
            out.extend(f"      {src(s)}" for s in item.sources)
    else:
        m = item.measure
        out.append(f"Захід {m.id}: {m.number}) {m.text}")
        for b in item.blocks:
            out.append(f"  {b.header}")
            out.extend(f"    [{c}] {p[:160]}" for c, p in b.paragraphs)
        if item.missing:
            out.append("  не подали звіт: " + ", ".join(label(c) for c in item.missing))
    related = [c for c in rec.conflicts if c.item == item_id]
    if related:
        out.append("  зауваження звірки:")
        out.extend(f"    [{c.severity}] {c.message}" for c in related)
    return out
