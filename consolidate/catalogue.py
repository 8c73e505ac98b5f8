"""Programme catalogue: tasks, measures, indicators, funding lines, aggregation rules.

The catalogue lives in a workspace as ``templates/catalogue.yaml`` (human-editable UTF-8,
Ukrainian wording verbatim) next to ``templates/executors.csv``.  IDs are written in the
file and never computed from row positions:

* task ``T2``; measure ``T2.6`` (task 2, measure 6 of the act);
* indicator ``T2.6.1`` (first indicator of that measure in the programme passport);
* funding line ``F.T2.6.LOC.UA-21`` (measure, source, budget holder).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .errors import CatalogueError, ConsolidateError
from .registry import Registry, load_registry

CATALOGUE_FILE = "catalogue.yaml"
REGISTRY_FILE = "executors.csv"

RULES = ("sum", "lead", "max", "percent", "text")
RULE_LABELS = {
    "sum": "сума часток виконавців",
    "lead": "показник відповідального виконавця",
    "max": "максимум (ті самі події, не додаються)",
    "percent": "відсоток, перерахований із чисельника і знаменника",
    "text": "лише текстовий опис",
}
UNITS = ("count", "number", "percent", "thousand", "text")
UNIT_LABELS = {"count": "од.", "number": "число", "percent": "%", "thousand": "тис.", "text": "—"}
SOURCES = ("state_general", "state_special", "local", "other", "none")
SOURCE_LABELS = {
    "state_general": "державний бюджет (загальний фонд)",
    "state_special": "державний бюджет (спеціальний фонд)",
    "local": "місцеві бюджети",
    "other": "інші джерела",
    "none": "-",
}
# Executor groups that may stand in a measure's executor list.  A group is expanded to
# every registered executor of the given kinds; a group with no kinds is informational.
GROUPS = {
    "REGIONS": ("обласні, Київська міська державні адміністрації (військові адміністрації)", ("oblast", "kyiv_city")),
    "HROMADAS": ("органи місцевого самоврядування (за згодою)", ("hromada",)),
    "OTHER_CEA": ("інші органи виконавчої влади", ()),
}
# How an indicator's quarterly figures are reported: from the start of the year (Q4 equals the year) or
# each quarter on its own (the year is the sum of the quarters).
QUARTERLY = ("cumulative", "per_quarter")
QUARTERLY_LABELS = {"cumulative": "наростаючим підсумком з початку року", "per_quarter": "окремо за кожен квартал"}
PERIOD_RE = re.compile(r"^(\d{4})(?:-Q([1-4]))?$")


@dataclass(frozen=True)
class Programme:
    code: str
    title: str
    act: str
    customer: str
    customer_executor: str
    term: str
    report_year: int
    deadline: dt.date
    quarter_deadline_day: int
    version: str
    title_genitive: str = ""  # «Державної цільової … програми …», for «звіт про виконання …»


@dataclass(frozen=True)
class Task:
    id: str
    number: int
    name: str


@dataclass(frozen=True)
class Measure:
    id: str
    task_id: str
    number: int
    text: str
    executors: tuple[str, ...]  # codes and group names, lead first, as in the act

    @property
    def lead(self) -> str:
        return self.executors[0]


@dataclass(frozen=True)
class Indicator:
    id: str
    measure_id: str
    name: str
    unit: str
    planned: float | None
    rule: str
    rule_why: str = ""
    numerator: str = ""  # label of the numerator collected for `percent` indicators
    denominator: str = ""
    quarterly: str = ""  # QUARTERLY code; "" = not declared (read as cumulative)
    plans: tuple[tuple[str, float], ...] = ()  # an executor's own plan (code, value); else only `planned`

    def plan_of(self, executor: str) -> float | None:
        """The executor's own plan, or None when only the programme-level plan exists."""
        for code, value in self.plans:
            if code == executor:
                return value
        return None

    @property
    def numeric(self) -> bool:
        return self.rule != "text"


@dataclass(frozen=True)
class FundingLine:
    id: str
    measure_id: str
    holder: str  # executor code, or a group (a programme-level line nobody reports)
    source: str
    source_label: str
    programme_amount: float | None
    planned: float | None
    budget_code: str = ""

    @property
    def reported(self) -> bool:
        """A line with a single budget holder is reported by that holder."""
        return self.holder not in GROUPS


@dataclass
class Catalogue:
    programme: Programme
    tasks: list[Task]
    measures: list[Measure]
    indicators: list[Indicator]
    funding: list[FundingLine]
    registry: Registry
    source_path: Path | None = None
    # Not init fields, so that dataclasses.replace gives the new catalogue lookups of its own, not the old one's.
    _by_id: dict = field(default_factory=dict, init=False, repr=False)
    # Lookups computed on first use (a catalogue is not changed after it is built): with every hromada
    # named through a group, scanning lists per call made templates and intake quadratic in executors.
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    # (the content the digest was computed from, the digest): see ``digest``
    _digested: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        for coll in (self.tasks, self.measures, self.indicators, self.funding):
            for item in coll:
                self._by_id[item.id] = item

    def _grouped(self, name: str, items, key) -> dict:
        """``items`` grouped by ``key(item)``, in catalogue order, computed once."""
        if name not in self._memo:
            groups: dict = {}
            for item in items:
                groups.setdefault(key(item), []).append(item)
            self._memo[name] = groups
        return self._memo[name]

    # --- lookups -------------------------------------------------------------
    def get(self, item_id: str):
        return self._by_id.get(item_id)

    def task(self, task_id: str) -> Task:
        return self._by_id[task_id]

    def measure(self, measure_id: str) -> Measure:
        return self._by_id[measure_id]

    def indicators_of(self, measure_id: str) -> list[Indicator]:
        return list(self._grouped("indicators_of", self.indicators, lambda i: i.measure_id).get(measure_id, ()))

    def funding_of(self, measure_id: str) -> list[FundingLine]:
        return list(self._grouped("funding_of", self.funding, lambda f: f.measure_id).get(measure_id, ()))

    def measures_of_task(self, task_id: str) -> list[Measure]:
        return list(self._grouped("measures_of_task", self.measures, lambda m: m.task_id).get(task_id, ()))

    def expand(self, codes: tuple[str, ...] | list[str]) -> list[str]:
        """Executor codes named by a list of codes and groups, in order, without repeats."""
        members_of = self._memo.get("group_members")
        if members_of is None:
            members_of = self._memo["group_members"] = {
                group: [e.code for e in self.registry if e.kind in kinds] for group, (_, kinds) in GROUPS.items()
            }
        out: list[str] = []
        seen: set[str] = set()
        for code in codes:
            for m in members_of.get(code, (code,)):
                if m not in seen:
                    seen.add(m)
                    out.append(m)
        return out

    def executors_of(self, measure_id: str) -> list[str]:
        memo = self._memo.setdefault("executors_of", {})
        if measure_id not in memo:
            memo[measure_id] = tuple(self.expand(self.measure(measure_id).executors))
        return list(memo[measure_id])

    def measures_for(self, executor: str) -> list[Measure]:
        """Measures where the executor is named (directly or through a group)."""
        by_executor = self._memo.get("measures_for")
        if by_executor is None:
            by_executor = {}
            for m in self.measures:
                for code in self.executors_of(m.id):
                    by_executor.setdefault(code, []).append(m)
            self._memo["measures_for"] = by_executor
        return list(by_executor.get(executor, ()))

    def funding_for(self, executor: str) -> list[FundingLine]:
        return list(self._grouped("funding_for", self.funding, lambda f: f.holder).get(executor, ()))

    def expected_executors(self) -> list[str]:
        """Every registered executor that has something to report, in registry order."""
        named = set()
        for m in self.measures:
            named.update(self.executors_of(m.id))
        named.update(f.holder for f in self.funding if f.reported)
        return [e.code for e in self.registry if e.code in named]

    @property
    def customer_label(self) -> str:
        """The programme's customer as letters name it: its short name in the registry, else the full name."""
        e = self.registry.get(self.programme.customer_executor) if self.programme.customer_executor else None
        return e.short_name if e else self.programme.customer

    def executor_label(self, code: str) -> str:
        if code in GROUPS:
            return GROUPS[code][0]
        e = self.registry.get(code)
        return e.short_name if e else code

    # --- identity ------------------------------------------------------------
    def _content(self) -> tuple:
        """What the digest is computed from, as references to the (frozen) items: cheap to take and compare."""
        return (
            self.programme,
            tuple(self.tasks),
            tuple(self.measures),
            tuple(self.indicators),
            tuple(self.funding),
            tuple(self.registry),
        )

    @property
    def digest(self) -> str:
        """sha256 of the catalogue's content (not of file formatting).

        Computed once and kept with the content it was computed from: the items are frozen, so the catalogue
        changes only by replacing an item, a list or the programme, and a kept digest is used only while every
        one of them is still the same (compared by identity first, then by value: a few microseconds against
        the hash's milliseconds)."""
        content = self._content()
        if self._digested is not None and self._digested[0] == content:
            return self._digested[1]
        payload = {
            "programme": {k: str(v) for k, v in asdict(self.programme).items()},
            "tasks": [asdict(t) for t in self.tasks],
            "measures": [asdict(m) for m in self.measures],
            "indicators": [_digest_fields(asdict(i)) for i in self.indicators],
            "funding": [asdict(f) for f in self.funding],
            "executors": [asdict(e) for e in self.registry],
        }
        blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
        digest = hashlib.sha256(blob).hexdigest()
        self._digested = (content, digest)
        return digest

    @property
    def template_version(self) -> str:
        return f"{self.programme.version}+{self.digest[:12]}"

    # --- periods ---------------------------------------------------------------
    def default_period(self) -> str:
        return str(self.programme.report_year)

    def check_period(self, period: str) -> str:
        m = PERIOD_RE.match(period or "")
        if not m:
            raise ConsolidateError(
                f"Неправильний звітний період «{period}»: очікується РРРР або РРРР-Q1…Q4 (рік або квартал року)"
            )
        if int(m.group(1)) != self.programme.report_year:
            raise ConsolidateError(
                f"Період «{period}» не належить до звітного року каталогу ({self.programme.report_year})"
            )
        return period

    def deadline(self, period: str) -> dt.date:
        m = PERIOD_RE.match(self.check_period(period))
        assert m is not None  # check_period raised otherwise
        quarter = m.group(2)
        if not quarter or quarter == "4":
            return self.programme.deadline
        month = int(quarter) * 3 + 1
        return dt.date(int(m.group(1)), month, self.programme.quarter_deadline_day)


def _digest_fields(item: dict) -> dict:
    """Fields added after the first catalogues, left out while at their defaults (a catalogue keeps its digest)."""
    for key, default in (("quarterly", ""), ("plans", ())):
        if key in item and (item[key] == default or item[key] == list(default)):
            del item[key]
    return item


def period_label(period: str) -> str:
    m = PERIOD_RE.match(period)
    if m and m.group(2):
        return f"{m.group(2)} квартал {m.group(1)} року"
    return f"{period} рік"


# ---------------------------------------------------------------------------------
# loading and validation
# ---------------------------------------------------------------------------------


def _num(value, where: str, problems: list[str], name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f"{where}: поле «{name}» має бути числом, знайдено «{value}»")
        return None
    if value < 0:
        problems.append(f"{where}: від’ємна сума/значення в полі «{name}»: {value}")
    return float(value)


def load_catalogue(templates_dir: Path) -> Catalogue:
    """Load and validate ``catalogue.yaml`` and ``executors.csv`` from a templates folder."""
    templates_dir = Path(templates_dir)
    registry = load_registry(templates_dir / REGISTRY_FILE)
    path = templates_dir / CATALOGUE_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError([f"{path}: не вдалося прочитати каталог ({exc.strerror})"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", рядок {mark.line + 1}" if mark else ""
        raise CatalogueError(
            [f"{path}{line}: файл каталогу не є коректним YAML ({getattr(exc, 'problem', exc)})"]
        ) from exc
    return build_catalogue(data, registry, path)


def build_catalogue(data: dict, registry: Registry, path: Path | str = CATALOGUE_FILE) -> Catalogue:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise CatalogueError([f"{path}: очікується словник з ключами programme і tasks"])
    p = data.get("programme") or {}
    where = f"{path}: programme"
    for key in ("code", "title", "act", "customer", "term", "report_year", "deadline", "version"):
        if p.get(key) in (None, ""):
            problems.append(f"{where}: бракує поля «{key}»")
    deadline = p.get("deadline")
    if isinstance(deadline, str):
        try:
            deadline = dt.date.fromisoformat(deadline)
        except ValueError:
            problems.append(f"{where}: поле «deadline» має бути датою РРРР-ММ-ДД, знайдено «{deadline}»")
            deadline = None
    customer_exec = str(p.get("customer_executor") or "")
    if customer_exec and customer_exec not in registry:
        problems.append(f"{where}: невідомий виконавець «{customer_exec}» у полі customer_executor")
    programme = Programme(
        code=str(p.get("code", "")),
        title=str(p.get("title", "")),
        act=str(p.get("act", "")),
        customer=str(p.get("customer", "")),
        customer_executor=customer_exec,
        term=str(p.get("term", "")),
        report_year=int(p.get("report_year") or 0),
        deadline=deadline or dt.date.today(),
        quarter_deadline_day=int(p.get("quarter_deadline_day") or 15),
        version=str(p.get("version", "")),
        title_genitive=str(p.get("title_genitive") or p.get("title", "")),
    )
    tasks: list[Task] = []
    measures: list[Measure] = []
    indicators: list[Indicator] = []
    funding: list[FundingLine] = []
    seen: dict[str, str] = {}

    def claim(item_id, where_):
        if not item_id:
            problems.append(f"{where_}: бракує поля «id»")
            return False
        if item_id in seen:
            problems.append(f"{where_}: ідентифікатор «{item_id}» повторюється (уперше: {seen[item_id]})")
            return False
        seen[item_id] = where_
        return True

    def check_executor(code, where_):
        if code not in registry and code not in GROUPS:
            problems.append(f"{where_}: невідомий виконавець «{code}» (немає в {REGISTRY_FILE})")

    for t in data.get("tasks") or []:
        tid = str(t.get("id") or "")
        twhere = f"{path}: завдання {tid or '?'}"
        if claim(tid, twhere):
            tasks.append(Task(tid, int(t.get("number") or 0), str(t.get("name") or "")))
        for m in t.get("measures") or []:
            mid = str(m.get("id") or "")
            mwhere = f"{twhere} › захід {mid or '?'}"
            execs = tuple(str(x) for x in (m.get("executors") or []))
            if not execs:
                problems.append(f"{mwhere}: захід без виконавців")
            for code in execs:
                check_executor(code, mwhere)
            if claim(mid, mwhere):
                measures.append(Measure(mid, tid, int(m.get("number") or 0), str(m.get("text") or ""), execs))
            for i in m.get("indicators") or []:
                iid = str(i.get("id") or "")
                iwhere = f"{mwhere} › показник {iid or '?'}"
                rule = i.get("rule")
                if not rule:
                    problems.append(f"{iwhere}: показник без правила зведення (rule: {' | '.join(RULES)})")
                elif rule not in RULES:
                    problems.append(f"{iwhere}: невідоме правило зведення «{rule}» (очікується: {', '.join(RULES)})")
                unit = i.get("unit") or "count"
                if unit not in UNITS:
                    problems.append(f"{iwhere}: невідома одиниця «{unit}» (очікується: {', '.join(UNITS)})")
                planned = _num(i.get("planned"), iwhere, problems, "planned")
                quarterly = str(i.get("quarterly") or "")
                if quarterly and quarterly not in QUARTERLY:
                    problems.append(
                        f"{iwhere}: невідомий спосіб квартальних даних «{quarterly}» "
                        f"(очікується: {', '.join(QUARTERLY)})"
                    )
                plans_in = i.get("plans") or {}
                plans: list[tuple[str, float]] = []
                if not isinstance(plans_in, dict):
                    problems.append(f"{iwhere}: поле «plans» має бути словником «код виконавця: план»")
                    plans_in = {}
                for code, value in plans_in.items():
                    check_executor(str(code), iwhere)
                    amount_ = _num(value, iwhere, problems, f"plans.{code}")
                    if amount_ is not None:
                        plans.append((str(code), amount_))
                if claim(iid, iwhere):
                    indicators.append(
                        Indicator(
                            iid,
                            mid,
                            str(i.get("name") or ""),
                            unit,
                            planned,
                            str(rule or ""),
                            str(i.get("rule_why") or ""),
                            str(i.get("numerator") or ""),
                            str(i.get("denominator") or ""),
                            quarterly,
                            tuple(plans),
                        )
                    )
            for f in m.get("funding") or []:
                fid = str(f.get("id") or "")
                fwhere = f"{mwhere} › рядок фінансування {fid or '?'}"
                source = f.get("source")
                if source not in SOURCES:
                    problems.append(
                        f"{fwhere}: невідоме джерело фінансування «{source}» (очікується: {', '.join(SOURCES)})"
                    )
                holder = str(f.get("holder") or "")
                if not holder:
                    problems.append(f"{fwhere}: не вказано розпорядника коштів (holder)")
                else:
                    check_executor(holder, fwhere)
                prog = _num(f.get("programme_amount"), fwhere, problems, "programme_amount")
                planned = _num(f.get("planned"), fwhere, problems, "planned")
                if claim(fid, fwhere):
                    funding.append(
                        FundingLine(
                            fid,
                            mid,
                            holder,
                            str(source or ""),
                            str(f.get("source_label") or SOURCE_LABELS.get(source, "")),
                            prog,
                            planned,
                            str(f.get("budget_code") or ""),
                        )
                    )
    measure_by_id = {m.id: m for m in measures}
    for ind in indicators:
        m = measure_by_id.get(ind.measure_id)
        if ind.rule == "lead" and m is not None and m.executors and m.executors[0] in GROUPS:
            problems.append(
                f"{path}: показник {ind.id}: правило «lead» потребує одного відповідального виконавця, "
                f"а першим у заході {m.id} названо групу «{m.executors[0]}»"
            )
    if not tasks:
        problems.append(f"{path}: каталог не містить жодного завдання")
    if problems:
        raise CatalogueError(problems)
    cat = Catalogue(programme, tasks, measures, indicators, funding, registry, Path(path))
    for ind in indicators:
        named = set(cat.executors_of(ind.measure_id))
        for code, _ in ind.plans:
            if code not in named:
                problems.append(
                    f"{path}: показник {ind.id}: план для виконавця «{code}», якого не названо "
                    f"серед виконавців заходу {ind.measure_id}"
                )
    if problems:
        raise CatalogueError(problems)
    return cat


def _plain_number(value: float | None):
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def catalogue_data(cat: Catalogue) -> dict:
    """The catalogue as the nested structure of catalogue.yaml (``build_catalogue`` reads it back unchanged)."""
    p = cat.programme
    programme = {
        "code": p.code,
        "title": p.title,
        "title_genitive": p.title_genitive,
        "act": p.act,
        "customer": p.customer,
        "customer_executor": p.customer_executor,
        "term": p.term,
        "report_year": p.report_year,
        "deadline": p.deadline.isoformat(),
        "quarter_deadline_day": p.quarter_deadline_day,
        "version": p.version,
    }
    tasks = []
    for t in cat.tasks:
        measures = []
        for m in cat.measures_of_task(t.id):
            indicators = []
            for i in cat.indicators_of(m.id):
                ind = {"id": i.id, "name": i.name, "unit": i.unit, "planned": _plain_number(i.planned), "rule": i.rule}
                for key in ("rule_why", "numerator", "denominator", "quarterly"):
                    if getattr(i, key):
                        ind[key] = getattr(i, key)
                if i.plans:
                    ind["plans"] = {code: _plain_number(v) for code, v in i.plans}
                indicators.append(ind)
            funding = []
            for f in cat.funding_of(m.id):
                line = {
                    "id": f.id,
                    "holder": f.holder,
                    "source": f.source,
                    "source_label": f.source_label,
                    "programme_amount": _plain_number(f.programme_amount),
                    "planned": _plain_number(f.planned),
                }
                if f.budget_code:
                    line["budget_code"] = f.budget_code
                funding.append(line)
            measure = {"id": m.id, "number": m.number, "text": m.text, "executors": list(m.executors)}
            if indicators:
                measure["indicators"] = indicators
            if funding:
                measure["funding"] = funding
            measures.append(measure)
        task = {"id": t.id, "number": t.number, "name": t.name}
        if measures:
            task["measures"] = measures
        tasks.append(task)
    return {"programme": programme, "tasks": tasks}


CATALOGUE_HEADER = """\
# Programme catalogue: tasks → measures → indicators (with aggregation rules) and funding lines.
# IDs are stable: never renumber them.  Edit it as a workbook: `consolidate catalogue export FILE.xlsx`,
# then `consolidate catalogue import FILE.xlsx`.
# rule: sum | lead | max | percent | text;  source: state_general | state_special | local | other | none;
# quarterly: cumulative | per_quarter;  amounts in thousand UAH.
"""


def catalogue_yaml(cat: Catalogue) -> str:
    return CATALOGUE_HEADER + yaml.safe_dump(catalogue_data(cat), allow_unicode=True, sort_keys=False, width=10_000)
