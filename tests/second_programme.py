"""A second programme, built by the tests: an oblast's regional targeted programme.

Its executors are the oblast administration's departments and the oblast's hromadas; it has no state-budget
lines (oblast and hromada budgets, other sources), three tasks, a percent indicator and quarterly periods.
Nothing here comes from the bundled catalogue.
"""

from __future__ import annotations

from consolidate.catalogue import build_catalogue
from consolidate.registry import Executor, Registry

YEAR = 2027
DEPARTMENTS = [
    ("DSZN", "Департамент соцзахисту", "Департамент соціального захисту населення облдержадміністрації"),
    ("DON", "Департамент освіти", "Департамент освіти і науки облдержадміністрації"),
    ("DOZ", "Департамент охорони здоров’я", "Департамент охорони здоров’я облдержадміністрації"),
    ("SSD", "Служба у справах дітей", "Служба у справах дітей облдержадміністрації"),
]
HROMADAS = [(f"H{i:02d}", f"Громада {n}", f"{n} міська територіальна громада")
            for i, n in enumerate(("Північна", "Південна", "Східна", "Західна", "Озерна"), 1)]


def registry() -> Registry:
    out = [Executor(code, short, full, "department", emails=(f"{code.lower()}@example.org",),
                    contact_person="Контактна особа")
           for code, short, full in DEPARTMENTS]
    out += [Executor(code, short, full, "hromada", parent="DSZN", emails=(f"{code.lower()}@example.org",))
            for code, short, full in HROMADAS]
    return Registry(out)


def data() -> dict:
    def local(mid, holder, programme, planned):
        return {"id": f"F.{mid}.LOC.{holder}", "holder": holder, "source": "local", "source_label": "обласний бюджет",
                "programme_amount": programme, "planned": planned}

    return {
        "programme": {
            "code": "РЦП-ДН", "title": "Регіональна цільова програма запобігання домашньому насильству на 2027–2029 роки",
            "title_genitive": "Регіональної цільової програми запобігання домашньому насильству на 2027–2029 роки",
            "act": "Рішення обласної ради від 15.12.2026 № 123", "customer": "Департамент соціального захисту населення",
            "customer_executor": "DSZN", "term": "2027–2029 роки", "report_year": YEAR, "deadline": f"{YEAR + 1}-01-25",
            "quarter_deadline_day": 10, "version": f"{YEAR}.1",
        },
        "tasks": [
            {"id": "Z1", "number": 1, "name": "Інформування населення", "measures": [
                {"id": "Z1.1", "number": 1, "text": "проведення інформаційних кампаній у громадах",
                 "executors": ["DSZN", "HROMADAS"],
                 "indicators": [{"id": "Z1.1.1", "name": "кількість проведених заходів", "unit": "count",
                                 "planned": 40, "rule": "sum", "quarterly": "per_quarter",
                                 "plans": {"H01": 8, "H02": 8}}],
                 "funding": [local("Z1.1", "DSZN", 120.0, 40.0),
                             {"id": "F.Z1.1.OTH.H01", "holder": "H01", "source": "other",
                              "source_label": "кошти міжнародної технічної допомоги", "programme_amount": 30.0,
                              "planned": 10.0}]},
                {"id": "Z1.2", "number": 2, "text": "навчання педагогів розпізнаванню ознак насильства",
                 "executors": ["DON", "SSD"],
                 "indicators": [{"id": "Z1.2.1", "name": "кількість навчених педагогів", "unit": "count",
                                 "planned": 300, "rule": "lead", "quarterly": "cumulative"}]},
            ]},
            {"id": "Z2", "number": 2, "name": "Допомога постраждалим особам", "measures": [
                {"id": "Z2.1", "number": 1, "text": "надання допомоги постраждалим у денних центрах",
                 "executors": ["DSZN", "HROMADAS"],
                 "indicators": [{"id": "Z2.1.1", "name": "частка постраждалих, які отримали допомогу", "unit": "percent",
                                 "planned": 90, "rule": "percent", "quarterly": "cumulative",
                                 "numerator": "отримали допомогу", "denominator": "звернулися"}],
                 "funding": [local("Z2.1", "DSZN", 300.0, 100.0)]},
                {"id": "Z2.2", "number": 2, "text": "медичне обстеження постраждалих дітей",
                 "executors": ["DOZ", "SSD"],
                 "indicators": [{"id": "Z2.2.1", "name": "кількість обстежених дітей", "unit": "count",
                                 "planned": 50, "rule": "max"}]},
            ]},
            {"id": "Z3", "number": 3, "name": "Моніторинг виконання програми", "measures": [
                {"id": "Z3.1", "number": 1, "text": "щоквартальне узагальнення даних виконавців",
                 "executors": ["DSZN"],
                 "indicators": [{"id": "Z3.1.1", "name": "стан моніторингу", "unit": "text", "planned": None,
                                 "rule": "text"}]},
            ]},
        ],
    }


def catalogue():
    return build_catalogue(data(), registry(), "second.yaml")
