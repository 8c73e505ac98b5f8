"""National scale: templates, intake, reconciliation and report for N executors on one machine.

The programme may reach every hromada (~1,470) plus the oblasts and central agencies.  This script
builds such a programme in memory — a registry of N executors (a few central agencies, up to 25
regional administrations, the rest hromadas) and a catalogue in which every hromada reports
20 indicators in 5 measures named by the group HROMADAS and 5 funding lines of its own; every
executor writes its own narrative for each measure, and every tenth copies its predecessor's — and
then measures, in one run on this machine:

1. template generation for all N (``write_templates``), next to its floor: xlsxwriter writing the very
   cells of those templates with no formats, validations or logic;
2. intake of all N returned workbooks (filled with openpyxl as executors would, before the clock
   starts) with ``run_intake`` (reader worker processes, archive, ledger), next to its floor:
   python-calamine alone reading every sheet of the same files in one process, and next to a naive
   loop of ``pandas.read_excel(engine="openpyxl")`` over them;
3. reconciliation (every executor's latest return loaded from the ledger and ``reconcile``d, as
   ``reconcile_ledger`` does for a draft — no clerk reviews them here) and the national report
   (``status_from_ledger`` + ``build_report`` + atomic write) over the N returns.

Every stage runs in its own process (this script with ``--stage``), so its peak memory is its own:
the peak RSS reported is the largest sum, sampled every 10 ms from /proc, of the resident sizes of
the stage process and all its child processes alive at that moment (intake's reader workers
included; shared pages are counted once per process, so the sum errs high).  Data generation
(catalogue, filling the returns, copying them into the inbox) is never inside a timed section.

Templates, intake and their floors run ``--repeat`` times (default 3), each stage by turns with its
floor (one run of each at a time, so that a machine slower for a while slows both sides of a ratio),
and the best time counts: the least disturbed by other load on the machine; the medians are in the
JSON too.  Prints a table — stage, seconds, files/s, ratio to
floor, ratio to naive, peak RSS — and writes it with the targets of issue 8 as JSON (default
``out/bench.json``).  Not a test: the issue's targets are ratios measured in the same run (see
docs/performance.md); tests/test_national_scale.py runs it with 20 executors so that it cannot rot.

    python3 benchmarks/national_scale.py                   # 1 500 executors (several minutes)
    python3 benchmarks/national_scale.py --executors 300
    python3 benchmarks/national_scale.py --executors 20 --repeat 1 --json /tmp/bench.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consolidate.catalogue import Catalogue, build_catalogue  # noqa: E402
from consolidate.registry import Executor, Registry  # noqa: E402

PERIOD = "2024"
PASSWORD = "bench"
HROMADA_MEASURES = 5          # measures named by HROMADAS; 4 indicators and 1 funding line each per hromada
INDICATORS_PER_MEASURE = 4
CENTRAL_CODES = ("MSP", "NSSU", "MVS", "NPU", "MON", "MOZ")
REGIONS = (
    ("UA-05", "Вінницька"), ("UA-07", "Волинська"), ("UA-12", "Дніпропетровська"), ("UA-14", "Донецька"),
    ("UA-18", "Житомирська"), ("UA-21", "Закарпатська"), ("UA-23", "Запорізька"), ("UA-26", "Івано-Франківська"),
    ("UA-32", "Київська"), ("UA-35", "Кіровоградська"), ("UA-09", "Луганська"), ("UA-46", "Львівська"),
    ("UA-48", "Миколаївська"), ("UA-51", "Одеська"), ("UA-53", "Полтавська"), ("UA-56", "Рівненська"),
    ("UA-59", "Сумська"), ("UA-61", "Тернопільська"), ("UA-63", "Харківська"), ("UA-65", "Херсонська"),
    ("UA-68", "Хмельницька"), ("UA-71", "Черкаська"), ("UA-77", "Чернівецька"), ("UA-74", "Чернігівська"),
    ("UA-30", "Київська міська"),
)
HROMADA_STEMS = ("Білогірськ", "Вишнівськ", "Горохівськ", "Дубенськ", "Жовтанецьк", "Зарічненськ", "Іванівськ",
                 "Калинівськ", "Липовецьк", "Малинськ", "Новоселицьк", "Озерянськ", "Петрівськ", "Рокитнівськ",
                 "Сосновськ", "Тарутинськ", "Хотинськ", "Царичанськ", "Шацьк", "Яблунівськ")
HROMADA_TYPES = (("а міська", "міська"), ("а селищна", "селищна"), ("а сільська", "сільська"))
# What executors write about a measure: sentences picked and filled per executor, so that texts differ
# as real ones do; every COPY_EVERY-th executor copies its predecessor's text with its own name (the
# copy-paste the reconciliation flags as a near-duplicate paragraph).
SENTENCES = (
    "У громаді проведено {a} інформаційних заходів щодо протидії торгівлі людьми, участь взяли {b} осіб.",
    "Фахівці із соціальної роботи ({a} осіб) пройшли навчання з питань виявлення постраждалих {d}.",
    "Спільно з ювенальною превенцією організовано {a} профілактичних зустрічей у закладах освіти {v}.",
    "Оновлено місцевий порядок взаємодії суб’єктів, що здійснюють заходи у сфері протидії торгівлі людьми.",
    "На вебсайті ради та в соціальних мережах розміщено {a} публікацій, переглянутих {b} разів.",
    "Надано консультації {a} особам, які звернулися до центру надання соціальних послуг {d}.",
    "Виявлено {a} осіб, які могли постраждати від торгівлі людьми; їх направлено до Нацсоцслужби.",
    "У старостинських округах ({v}) поширено {b} примірників інформаційних матеріалів.",
    "Проведено {a} засідань координаційної ради з питань протидії торгівлі людьми, останнє — {d}.",
    "Для внутрішньо переміщених осіб організовано {a} групових занять з безпечного працевлаштування.",
    "Укладено меморандуми про співпрацю з {a} громадськими організаціями, зокрема у {v}.",
    "Фінансування заходів здійснено в межах місцевої програми соціального захисту населення на {y} роки.",
    "Мобільна бригада соціально-психологічної допомоги здійснила {a} виїздів до {v}.",
    "Для працівників сільських клубів і бібліотек проведено {a} тренінгів ({b} учасників).",
    "Службою у справах дітей перевірено {a} сімей, у яких діти могли зазнати експлуатації.",
    "Гаряча лінія громади прийняла {b} дзвінків, з них {a} — щодо пропозицій роботи за кордоном.",
    "Разом із центром зайнятості проведено {a} ярмарків вакансій для молоді {d}.",
    "Оприлюднено звіт про виконання місцевого плану заходів за {y} роки.",
    "Проведено акцію «Обережно: торгівля людьми!» у {a} населених пунктах, зокрема у {v}.",
    "Психологи громади надали {b} індивідуальних консультацій, з них {a} — постраждалим від насильства.",
)
VILLAGES = ("Вербівка", "Гайове", "Дубрівка", "Забара", "Калинове", "Лозуватка", "Марківка", "Новосілки",
            "Осички", "Підгайці", "Рудня", "Соснівка", "Травневе", "Устя", "Хомутець", "Червона Слобода")
MONTHS = ("січні", "лютому", "березні", "квітні", "травні", "червні", "липні", "серпні", "вересні", "жовтні",
          "листопаді", "грудні")
COPY_EVERY = 10
PROPOSALS = (
    "Передбачити в державному бюджеті субвенцію на утримання фахівців із соціальної роботи в громадах.",
    "Розробити типову програму навчання для працівників центрів надання соціальних послуг.",
    "Запровадити єдину електронну форму обміну інформацією про осіб, які могли постраждати.",
    "Спростити порядок встановлення статусу особи, яка постраждала від торгівлі людьми.",
)

STAGES = ("templates", "templates-floor", "fill", "intake-floor", "intake", "intake-naive", "reconcile-report")
TABLE_ROWS = (  # (key in the results, label)
    ("templates", "шаблони (write_templates)"),
    ("templates-floor", "  підлога: xlsxwriter, ті самі клітинки"),
    ("intake", "прийом (run_intake)"),
    ("intake-floor", "  підлога: python-calamine"),
    ("intake-naive", "  наївно: pandas + openpyxl"),
    ("reconcile", "звірка (журнал → reconcile)"),
    ("report", "звіт (status + build_report + запис)"),
)


# ---------------------------------------------------------------------------------
# the synthetic programme
# ---------------------------------------------------------------------------------

def synthetic_registry(n: int) -> Registry:
    """N executors: central agencies, regional administrations (with Kyiv city), the rest hromadas."""
    if n < 5:
        raise SystemExit("потрібно щонайменше 5 виконавців")
    n_central = len(CENTRAL_CODES) if n >= 100 else 2
    n_regions = len(REGIONS) if n >= 300 else max(2, n // 10)
    executors: list[Executor] = []
    for code in CENTRAL_CODES[:n_central]:
        executors.append(Executor(code, f"Орган {code}", f"Центральний орган виконавчої влади {code}", "central",
                                  emails=(f"{code.lower()}@example.org",), contact_person="Контактна особа (приклад)"))
    regions = REGIONS[:n_regions]
    for code, name in regions:
        kind = "kyiv_city" if code == "UA-30" else "oblast"
        short = "КМДА" if kind == "kyiv_city" else f"{name} ОДА"
        full = ("Київська міська державна адміністрація" if kind == "kyiv_city"
                else f"{name} обласна державна адміністрація (обласна військова адміністрація)")
        executors.append(Executor(code, short, full, kind, emails=(f"{code.lower()}@example.org",),
                                  contact_person="Контактна особа (приклад)"))
    for i in range(1, n - n_central - n_regions + 1):
        stem = HROMADA_STEMS[i % len(HROMADA_STEMS)]
        ending, council = HROMADA_TYPES[(i // len(HROMADA_STEMS)) % len(HROMADA_TYPES)]
        parent = regions[i % len(regions)]
        code = f"H{i:04d}"
        executors.append(Executor(
            code, f"{stem}{ending} громада №{i}",
            f"{stem}а {council} рада ({parent[1]} обл.), територіальна громада №{i}", "hromada", parent=parent[0],
            emails=(f"{code.lower()}@example.org",), contact_person="Контактна особа (приклад)"))
    return Registry(executors)


def synthetic_catalogue_data(registry: Registry) -> dict:
    """A catalogue (the dict of templates/catalogue.yaml) for the registry."""
    central = [e.code for e in registry.of_kind("central")]
    regions = [e.code for e in registry.of_kind("oblast", "kyiv_city")]
    hromadas = [e.code for e in registry.of_kind("hromada")]

    def indicator(mid, k, name, unit, rule, planned, **extra):
        return {"id": f"{mid}.{k}", "name": name, "unit": unit, "rule": rule, "planned": planned, **extra}

    national = []
    for k, lead in enumerate(central, 1):
        mid = f"T1.{k}"
        national.append({
            "id": mid, "number": k, "executors": [lead, *[c for c in central if c != lead][:2], "REGIONS"],
            "text": f"забезпечення координації заходів у сфері протидії торгівлі людьми (напрям {k})",
            "indicators": [
                indicator(mid, 1, "кількість поданих пропозицій", "count", "lead", 1),
                indicator(mid, 2, "кількість проведених спільних заходів", "count", "max", 10),
            ],
            "funding": [{"id": f"F.{mid}.SG.{lead}", "holder": lead, "source": "state_general",
                         "programme_amount": 1000.0 + k, "planned": 900.0 + k, "budget_code": f"25{k:02d}010"}],
        })
    regional = []
    for k in (1, 2):
        mid = f"T2.{k}"
        regional.append({
            "id": mid, "number": k, "executors": ["REGIONS"],
            "text": f"забезпечення діяльності регіональних координаційних рад (напрям {k})",
            "indicators": [
                indicator(mid, 1, "кількість засідань координаційних рад", "count", "sum", 4 * len(regions)),
                indicator(mid, 2, "частка громад, охоплених навчанням", "percent", "percent", 80,
                          numerator="громад охоплено", denominator="громад в області"),
            ],
            "funding": [{"id": f"F.{mid}.LOC.{code}", "holder": code, "source": "local",
                         "programme_amount": 300.0, "planned": 250.0} for code in regions],
        })
    local = []
    names = (("кількість проведених інформаційних заходів", "count", "sum"),
             ("кількість осіб, охоплених заходами", "count", "sum"),
             ("частка постраждалих осіб, яким надано послуги", "percent", "percent"),
             ("обсяг видатків місцевого бюджету на заходи", "number", "sum"))
    for k in range(1, HROMADA_MEASURES + 1):
        mid = f"T3.{k}"
        inds = []
        for j, (name, unit, rule) in enumerate(names[:INDICATORS_PER_MEASURE], 1):
            if k == HROMADA_MEASURES and j == INDICATORS_PER_MEASURE:
                inds.append(indicator(mid, j, "опис досягнутих результатів", "text", "text", None))
            elif rule == "percent":
                inds.append(indicator(mid, j, name, unit, rule, 90, numerator="отримали послуги",
                                      denominator="звернулися"))
            else:
                inds.append(indicator(mid, j, name, unit, rule, 5 * len(hromadas)))
        local.append({
            "id": mid, "number": k, "executors": ["HROMADAS"],
            "text": f"проведення на рівні територіальних громад заходів із запобігання торгівлі людьми (напрям {k})",
            "indicators": inds,
            "funding": [{"id": f"F.{mid}.LOC.{code}", "holder": code, "source": "local",
                         "programme_amount": 60.0 + n % 40, "planned": 50.0 + n % 40,
                         "budget_code": "0813242 Інші заходи у сфері соціального захисту"}
                        for n, code in enumerate(hromadas)],
        })
    return {
        "programme": {
            "code": "НМ-1500",
            "title": "Синтетична програма протидії торгівлі людьми для вимірювання продуктивності",
            "title_genitive": "Синтетичної програми протидії торгівлі людьми для вимірювання продуктивності",
            "act": "Синтетичний акт для вимірювань", "customer": "Міністерство соціальної політики України",
            "customer_executor": central[0], "term": "до 2025 року", "report_year": 2024,
            "deadline": "2025-01-20", "quarter_deadline_day": 15, "version": "bench.1",
        },
        "tasks": [
            {"id": "T1", "number": 1, "name": "Координація на національному рівні", "measures": national},
            {"id": "T2", "number": 2, "name": "Регіональний рівень", "measures": regional},
            {"id": "T3", "number": 3, "name": "Запобігання торгівлі людьми в територіальних громадах",
             "measures": local},
        ],
    }


def synthetic_catalogue(n: int) -> Catalogue:
    registry = synthetic_registry(n)
    return build_catalogue(synthetic_catalogue_data(registry), registry, "synthetic-catalogue.yaml")


def narrative(name: str, n: int, measure: str) -> str:
    """What executor number ``n`` writes about a measure (deterministic)."""
    source = n - 1 if n % COPY_EVERY == COPY_EVERY - 1 else n  # the copy-paste: the predecessor's text
    rng = random.Random(f"{source}/{measure}")
    picks = rng.sample(SENTENCES, rng.choice((2, 3, 3)))
    fields = {"a": rng.randint(2, 40), "b": rng.randint(40, 2000), "y": f"{2022 + rng.randint(0, 2)}–2025",
              "d": f"у {rng.choice(MONTHS)} {2024}", "v": " і ".join(rng.sample(VILLAGES, 2))}
    return f"{name}: " + " ".join(s.format(**fields) for s in picks)


def executor_values(catalogue: Catalogue, code: str, n: int) -> dict:
    """What executor number ``n`` types into its template: valid numbers, its own texts."""
    from consolidate.filler import plausible_values

    values = plausible_values(catalogue, code, n)
    name = catalogue.registry[code].short_name
    for key, cells in values["execution"].items():
        if "narrative" in cells:
            cells["narrative"] = narrative(name, n, key)
    values["proposals"] = {"P1": {"text": PROPOSALS[n % len(PROPOSALS)] + f" ({name})"}} if n % 3 == 0 else {}
    return values


# ---------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------

def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                out += [int(x) for x in fh.read().split()]
        except OSError:
            continue
    return out


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _pss_bytes(pid: int) -> int:
    """Proportional set size: each page shared by n processes counted 1/n in each (Linux 4.14+)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(b"Pss:"))
    except (OSError, StopIteration, ValueError):
        return 0


def _vm_hwm() -> int:
    """This process's own peak RSS (ru_maxrss would carry the peak of the process that forked it over exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return 0


class PeakRss:
    """The peak of the summed RSS of this process and its descendants, sampled in a thread; and of their summed
    PSS (shared pages divided among the processes sharing them — the memory the tree really takes), sampled
    every fifth time (reading it costs more)."""

    PSS_EVERY = 5

    def __init__(self, interval: float = 0.01):
        self.interval, self.peak, self.samples, self.peak_pss = interval, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self.available = os.path.exists(f"/proc/{os.getpid()}/statm")

    def _tree(self, size=_rss_bytes) -> int:
        total, todo, seen = 0, [os.getpid()], set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            total += size(pid)
            todo += _children(pid)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        if self.available:
            self.peak = max(self.peak, self._tree())
            if self.samples % self.PSS_EVERY == 0:
                self.peak_pss = max(self.peak_pss, self._tree(_pss_bytes))
            self.samples += 1

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()
        return False

    def result(self) -> dict:
        kib = 1024  # ru_maxrss and VmHWM are in KiB
        own = _vm_hwm() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * kib
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * kib
        peak = self.peak if self.available else own + child
        return {"peak_rss_mb": round(peak / 2**20, 1), "peak_pss_mb": round(self.peak_pss / 2**20, 1) or None,
                "rss_self_max_mb": round(own / 2**20, 1),
                "rss_child_max_mb": round(child / 2**20, 1), "rss_samples": self.samples}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".xlsx")


def stage_templates(work: Path, n: int, args) -> dict:
    from consolidate.template import write_templates

    catalogue = synthetic_catalogue(n)
    target = work / "templates"
    times = []
    with PeakRss() as rss:
        for _ in range(args.repeat):
            shutil.rmtree(target, ignore_errors=True)
            start = time.perf_counter()
            written = write_templates(catalogue, target, PERIOD, PASSWORD)
            times.append(time.perf_counter() - start)
    seconds = min(times)
    if len(written) != n:
        raise SystemExit(f"шаблонів {len(written)}, а виконавців {n}")
    size = sum(t.path.stat().st_size for t in written)
    return {"seconds": seconds, "runs": _runs(times), "files": len(written),
            "kb_per_file": round(size / len(written) / 1024, 1), **rss.result()}


def _runs(times: list[float]) -> list[float]:
    return [round(t, 3) for t in times]


def _template_cells(path: Path) -> list[tuple[str, list[tuple[int, int, object]]]]:
    import python_calamine

    out = []
    with python_calamine.CalamineWorkbook.from_path(str(path)) as wb:
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python()
            cells = [(r, c, v) for r, row in enumerate(rows) for c, v in enumerate(row) if v != "" and v is not None]
            out.append((name, cells))
    return out


def stage_templates_floor(work: Path, n: int, args) -> dict:
    """xlsxwriter writing the same cells as the templates, with no formats, validations or logic."""
    import xlsxwriter

    sources = _files(work / "templates" / PERIOD)
    books = [(p.name, _template_cells(p)) for p in sources]  # before the clock
    target = work / "templates-floor"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
               "strings_to_numbers": False}
    times = []
    with PeakRss() as rss:
        for _ in range(args.repeat):
            start = time.perf_counter()
            for name, sheets in books:
                wb = xlsxwriter.Workbook(str(target / name), options)
                for sheet, cells in sheets:
                    ws = wb.add_worksheet(sheet)
                    for r, c, v in cells:
                        if isinstance(v, str):
                            ws.write_string(r, c, v)
                        elif isinstance(v, bool):
                            ws.write_boolean(r, c, v)
                        elif isinstance(v, (int, float)):
                            ws.write_number(r, c, v)
                        else:
                            ws.write_string(r, c, str(v))
                wb.close()
            times.append(time.perf_counter() - start)
    return {"seconds": min(times), "runs": _runs(times), "files": len(books),
            "cells_per_file": round(sum(len(c) for _, s in books for _, c in s) / max(1, len(books)), 1),
            **rss.result()}


def _fill_one(job: tuple[str, str, str, int, int]) -> str:
    from consolidate.filler import fill_workbook

    src, dst, code, number, n = job
    catalogue = _FILL_CATALOGUE[n]
    fill_workbook(Path(src), Path(dst), executor_values(catalogue, code, number))
    return dst


_FILL_CATALOGUE: dict[int, Catalogue] = {}


def stage_fill(work: Path, n: int, args) -> dict:
    """The executors' returns (openpyxl, both cores): preparation, not a measured stage."""
    import csv
    import multiprocessing

    from consolidate.template import MANIFEST

    _FILL_CATALOGUE[n] = synthetic_catalogue(n)
    folder = work / "templates" / PERIOD
    with open(folder / MANIFEST, encoding="utf-8", newline="") as fh:
        manifest = list(csv.DictReader(fh))
    target = work / "returns"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    jobs = [(str(folder / row["file"]), str(target / f"{i:04d} {row['file']}"), row["executor"], i, n)
            for i, row in enumerate(manifest)]
    start = time.perf_counter()
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with ctx.Pool(os.cpu_count() or 1) as pool:
        done = pool.map(_fill_one, jobs, chunksize=8)
    seconds = time.perf_counter() - start
    size = sum(Path(p).stat().st_size for p in done)
    return {"seconds": seconds, "files": len(done), "kb_per_file": round(size / len(done) / 1024, 1)}


def _fresh_workspace(work: Path, n: int):
    """An empty workspace with the synthetic catalogue and every return in its inbox (flushed to disk)."""
    from consolidate.workspace import Workspace

    root = work / "ws"
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace(root, _catalogue=synthetic_catalogue(n))
    ws.ensure_dirs()
    for path in _files(work / "returns"):
        shutil.copy2(path, ws.inbox / path.name)
    os.sync()
    return ws


def calamine_only(files: list[Path]) -> None:
    import python_calamine

    for path in files:
        with python_calamine.CalamineWorkbook.from_path(str(path)) as wb:
            for name in wb.sheet_names:
                wb.get_sheet_by_name(name).to_python()


def stage_intake_floor(work: Path, n: int, args) -> dict:
    times = []
    with PeakRss() as rss:
        for _ in range(args.repeat):
            files = _files(_fresh_workspace(work, n).inbox)  # the same files, freshly copied, as intake reads them
            calamine_only(files[:3])  # warm-up, outside the clock
            start = time.perf_counter()
            calamine_only(files)
            times.append(time.perf_counter() - start)
    return {"seconds": min(times), "runs": _runs(times), "files": len(files), **rss.result()}


def stage_intake(work: Path, n: int, args) -> dict:
    from consolidate import intake
    from consolidate.inbox import run_intake
    from consolidate.ledger import Ledger
    from consolidate.model import ACCEPTED, ACCEPTED_ERRORS, ACCEPTED_WARNINGS, QUARANTINED

    times = []
    with PeakRss() as rss:
        for _ in range(args.repeat):  # the last run's workspace is the one reconciled
            ws = _fresh_workspace(work, n)
            intake.prepare(ws.catalogue)  # as run_intake does; here outside the clock like the catalogue itself
            start = time.perf_counter()
            outcomes = run_intake(ws, workers=args.workers)
            times.append(time.perf_counter() - start)
            bad = [o for o in outcomes if o.state == QUARANTINED or not o.moved]
            if len(outcomes) != n or bad or any(ws.inbox.iterdir()):
                raise SystemExit(f"прийом не отримав усіх файлів: {len(outcomes)} із {n}, проблеми: {bad[:3]}")
            del outcomes[:-1]
    with Ledger(ws.ledger_path) as ledger:
        states = {state: len(ledger.files(status=state)) for state in (ACCEPTED, ACCEPTED_WARNINGS, ACCEPTED_ERRORS)}
    return {"seconds": min(times), "runs": _runs(times), "files": n, "states": states, **rss.result()}


def stage_intake_naive(work: Path, n: int, args) -> dict:
    import warnings

    import pandas as pd

    files = _files(work / "returns")
    with PeakRss() as rss, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about data validation extensions
        start = time.perf_counter()
        for path in files:
            pd.read_excel(path, sheet_name=None, engine="openpyxl", header=None)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "files": len(files), **rss.result()}


def stage_reconcile_report(work: Path, n: int, args) -> dict:
    from consolidate.ledger import Ledger
    from consolidate.reconcile import reconcile_ledger
    from consolidate.report import atomic_write, build_report
    from consolidate.status import status_from_ledger
    from consolidate.workspace import Workspace

    ws = Workspace(work / "ws", _catalogue=synthetic_catalogue(n))
    catalogue = ws.catalogue
    target = ws.out / f"Звіт {PERIOD}.xlsx"
    with PeakRss() as rss:
        with Ledger(ws.ledger_path) as ledger:
            start = time.perf_counter()
            # every executor's latest return (a draft: no clerk reviews them in a benchmark)
            rec = reconcile_ledger(catalogue, ledger, PERIOD, include_unapproved=True)
            t_reconcile = time.perf_counter() - start
            rss.sample()
            after_reconcile = rss.result()
            start = time.perf_counter()
            rows, _ = status_from_ledger(catalogue, ledger, PERIOD, dt.date(2025, 1, 31))
            atomic_write(target, build_report(catalogue, rec, rows))
            t_report = time.perf_counter() - start
    if len(rec.reported) != n:
        raise SystemExit(f"у звірці {len(rec.reported)} звітів із {n}")
    return {"reconcile": {"seconds": t_reconcile, "files": len(rec.reported), "conflicts": len(rec.conflicts),
                          **after_reconcile},
            "report": {"seconds": t_report, "files": len(rec.reported), "kb": round(target.stat().st_size / 1024, 1),
                       **rss.result()}}


STAGE_FUNCTIONS = {
    "templates": stage_templates, "templates-floor": stage_templates_floor, "fill": stage_fill,
    "intake-floor": stage_intake_floor, "intake": stage_intake, "intake-naive": stage_intake_naive,
    "reconcile-report": stage_reconcile_report,
}


# Stages run in this order; a pair runs by turns (the subject first where its floor reads what it wrote, the
# floor first where it rebuilds the workspace the subject leaves for the reconciliation).
STAGE_GROUPS = (("templates", "templates-floor"), ("fill",), ("intake-floor", "intake"), ("intake-naive",),
                ("reconcile-report",))


def _merge_runs(outs: list[dict]) -> dict:
    """Runs of one stage made one at a time: the best time counts, every run's time is kept, memory peaks."""
    merged = dict(outs[-1])
    merged["seconds"] = min(o["seconds"] for o in outs)
    merged["runs"] = [round(o["seconds"], 3) for o in outs]
    for key in ("peak_rss_mb", "peak_pss_mb", "rss_self_max_mb", "rss_child_max_mb"):
        if any(o.get(key) is not None for o in outs):
            merged[key] = max(o.get(key) or 0 for o in outs)
    merged["rss_samples"] = sum(o.get("rss_samples", 0) for o in outs)
    return merged


def run_stage(name: str, work: Path, n: int, args, repeat: int | None = None) -> dict:
    """Run one stage in a fresh process of this script; its result comes back as JSON in a file."""
    result = work / f"{name}.json"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", name, "--work", str(work),
           "--executors", str(n)]
    if args.workers is not None:
        cmd += ["--workers", str(args.workers)]
    cmd += ["--repeat", str(args.repeat if repeat is None else repeat)]
    subprocess.run(cmd, check=True)
    return json.loads(result.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------

def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def summarise(n: int, results: dict, catalogue: Catalogue) -> dict:
    t = {k: v["seconds"] for k, v in results.items() if isinstance(v, dict) and "seconds" in v}
    floors = {"templates": "templates-floor", "templates-floor": "templates-floor", "intake": "intake-floor",
              "intake-floor": "intake-floor", "intake-naive": "intake-floor"}
    naive = {"intake": "intake-naive", "intake-naive": "intake-naive", "intake-floor": "intake-naive"}
    rows = []
    for key, label in TABLE_ROWS:
        r = results[key]
        rows.append({
            "stage": key, "label": label, "seconds": round(r["seconds"], 3), "files": r["files"],
            "files_per_s": round(r["files"] / r["seconds"], 1) if r["seconds"] else None,
            "ratio_to_floor": _ratio(r["seconds"], t.get(floors.get(key, ""))),
            "ratio_to_naive": _ratio(r["seconds"], t.get(naive.get(key, ""))),
            "peak_rss_mb": r.get("peak_rss_mb"),
            **{k: v for k, v in r.items() if k not in ("seconds", "files", "peak_rss_mb")},
        })
    rec_report = t["reconcile"] + t["report"]
    rss_max = max(results[k]["peak_rss_mb"] for k in ("intake", "reconcile", "report"))
    medians = {k: statistics.median(v["runs"]) for k, v in results.items() if isinstance(v, dict) and v.get("runs")}
    targets = {
        "intake_vs_floor": {"value": _ratio(t["intake"], t["intake-floor"]), "target": "≤ 1,5",
                            "median": _ratio(medians.get("intake"), medians.get("intake-floor"))},
        "naive_vs_intake": {"value": _ratio(t["intake-naive"], t["intake"]), "target": "≥ 5"},
        "templates_vs_floor": {"value": _ratio(t["templates"], t["templates-floor"]), "target": "≤ 1,5",
                               "median": _ratio(medians.get("templates"), medians.get("templates-floor"))},
        "reconcile_report_vs_intake": {"value": _ratio(rec_report, t["intake"]), "target": "мала частка (≤ 0,25)"},
        "peak_rss_mb": {"value": rss_max, "target": "< 400 (ріст з N — порівняти запуски з різними N)"},
    }
    targets["intake_vs_floor"]["met"] = targets["intake_vs_floor"]["value"] <= 1.5
    targets["naive_vs_intake"]["met"] = targets["naive_vs_intake"]["value"] >= 5
    targets["templates_vs_floor"]["met"] = targets["templates_vs_floor"]["value"] <= 1.5
    targets["reconcile_report_vs_intake"]["met"] = targets["reconcile_report_vs_intake"]["value"] <= 0.25
    targets["peak_rss_mb"]["met"] = rss_max < 400
    hromadas = len(catalogue.registry.of_kind("hromada"))
    sample = next(e.code for e in catalogue.registry if e.kind == "hromada")
    return {
        "executors": n,
        "composition": {kind: len(catalogue.registry.of_kind(kind)) for kind in ("central", "oblast", "kyiv_city",
                                                                                 "hromada")},
        "per_hromada": {"measures": len(catalogue.measures_for(sample)),
                        "indicators": sum(len(catalogue.indicators_of(m.id)) for m in catalogue.measures_for(sample)),
                        "funding_lines": len(catalogue.funding_for(sample))},
        "catalogue": {"measures": len(catalogue.measures), "indicators": len(catalogue.indicators),
                      "funding_lines": len(catalogue.funding), "hromadas": hromadas},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "measured_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "stages": rows,
        "preparation": {"fill_returns": results["fill"]},
        "reconcile_plus_report_seconds": round(rec_report, 3),
        "targets": targets,
    }


def _cell(value, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def print_table(summary: dict) -> None:
    head = ("етап", "секунд", "файлів/с", "до підлоги", "до наївного", "пік RSS, МБ")
    rows = [(r["label"], _cell(r["seconds"], ".2f"), _cell(r["files_per_s"], ".0f"),
             _cell(r["ratio_to_floor"], ".2f"), _cell(r["ratio_to_naive"], ".3f"), _cell(r["peak_rss_mb"], ".0f"))
            for r in summary["stages"]]
    widths = [max(len(str(x[i])) for x in (head, *rows)) for i in range(len(head))]
    line = "  ".join("{:<%d}" % widths[0] if i == 0 else "{:>%d}" % w for i, w in enumerate(widths))
    comp = summary["composition"]
    print(f"\nНаціональний масштаб: {summary['executors']} виконавців (центральних {comp['central']}, "
          f"обласних {comp['oblast'] + comp['kyiv_city']}, громад {comp['hromada']}); у громади "
          f"{summary['per_hromada']['indicators']} показників і {summary['per_hromada']['funding_lines']} рядків "
          f"фінансування; ядер: {summary['machine']['cpus']}")
    print(line.format(*head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line.format(*r))
    print()
    labels = {"intake_vs_floor": "прийом / підлога calamine", "naive_vs_intake": "наївний / прийом",
              "templates_vs_floor": "шаблони / підлога xlsxwriter",
              "reconcile_report_vs_intake": "(звірка + звіт) / прийом", "peak_rss_mb": "пік RSS прийому і звіту, МБ"}
    for key, t in summary["targets"].items():
        mark = "так" if t["met"] else "НІ"
        median = f"; медіани: {t['median']}" if t.get("median") is not None else ""
        print(f"  {labels[key]}: {t['value']}{median} (ціль {t['target']}) — {mark}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executors", "-n", type=int, default=1500, help="number of executors (default 1500)")
    parser.add_argument("--json", type=Path, default=ROOT / "out" / "bench.json", help="where to write the JSON")
    parser.add_argument("--workers", type=int, default=None, help="intake reader processes (default: CPU count)")
    parser.add_argument("--repeat", "-r", type=int, default=3,
                        help="runs of templates, intake and their floors; the best counts (default 3)")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n = args.executors

    if args.stage:  # a child process: one stage, its result as JSON beside the data
        result = STAGE_FUNCTIONS[args.stage](args.work, n, args)
        (args.work / f"{args.stage}.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        return result

    catalogue = synthetic_catalogue(n)
    with tempfile.TemporaryDirectory(prefix="national-scale-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results: dict = {}
        for group in STAGE_GROUPS:
            if len(group) == 1:
                print(f"[{time.strftime('%H:%M:%S')}] {group[0]} …", flush=True)
                out = run_stage(group[0], work, n, args)
                if group[0] == "reconcile-report":
                    results.update(out)
                else:
                    results[group[0]] = out
                continue
            # a stage and its floor run by turns, one run each at a time: a machine slower for a while
            # slows both sides of the ratio, not one of them
            runs: dict[str, list[dict]] = {stage: [] for stage in group}
            for k in range(args.repeat):
                for stage in group:
                    print(f"[{time.strftime('%H:%M:%S')}] {stage} ({k + 1}/{args.repeat}) …", flush=True)
                    runs[stage].append(run_stage(stage, work, n, args, repeat=1))
            results.update({stage: _merge_runs(outs) for stage, outs in runs.items()})
    summary = summarise(n, results, catalogue)
    print_table(summary)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON: {args.json}")
    return summary


if __name__ == "__main__":
    main()
