#!/usr/bin/env python3
"""Build templates/catalogue.yaml from the ministry's 2024 report (the seed).

Reproducible: `python tools/seed_to_catalogue.py` rewrites the file from
consolidate/data/seed_2024_report.txt, tools/catalogue_corrections.yaml and the rules table
below; `--check` fails if the committed file differs from what it would write.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from consolidate.catalogue import GROUPS  # noqa: E402
from consolidate.registry import load_registry  # noqa: E402
from consolidate.seed import (MEASURE_RE, amount, funding_line_id, funding_source_holder,  # noqa: E402
                              parse_seed, tokenize_executors)

OUT = ROOT / "templates" / "catalogue.yaml"
CORRECTIONS = ROOT / "tools" / "catalogue_corrections.yaml"

# Rules chosen from what the seed says; `why` is written into the catalogue where the
# choice is not obvious from the indicator's wording.
RULES = {
    "T2.10.1": ("max", "Засідання Міжвідомчої ради одні й ті самі для всіх виконавців (НПУ «долучилися до 167 засідань»): не додаються."),
    "T2.12.1": ("max", "Засідання однієї міжвідомчої робочої групи: кожен учасник звітує про ті самі засідання."),
    "T2.14.1": ("max", "Щоквартальні звірки: кожна область проводить ті самі 4 звірки на рік, сума не має змісту."),
    "T2.15.1": ("max", "Ті самі щоквартальні звірки Нацсоцслужби з НПУ і МЗС."),
    "T3.2.2": ("lead", "Група (рейтинг) України у доповіді Держдепартаменту США: одне значення, не сума."),
    "T3.5.1": ("max", "Міжнародні заходи, у яких разом брали участь НПУ, МВС, ОГП: одні й ті самі заходи."),
    "T3.6.1": ("max", "Ті самі міжнародні організації, з якими співпрацюють кілька органів."),
    "T3.8.1": ("max", "Щоквартальні заходи контролю: кожен виконавець звітує про ті самі 4 квартали."),
    "T3.9.1": ("max", "Ті самі міжнародні організації, залучені до співпраці різними виконавцями."),
    "T4.4.1": ("lead", "Програми виховної роботи затверджує МОН; області їх реалізують, а не створюють нові."),
    "T4.17.2": ("max", "Ті самі соціальні мережі і канали, де розміщують інформацію всі виконавці."),
    "T6.3.1": ("max", "Повідомлення НПУ і МВС про ті самі події."),
}
DOCUMENT_WORDS = ("нормативно-правових", "пропозиц", "доповід", "форм", "звіт", "методичн", "законопроект",
                  "програм підвищення", "спецкурс", "справ", "візит", "проектів актів")


def norm(text: str) -> str:
    return " ".join(text.split())


def tidy(value: float | None) -> float | int | None:
    """Whole numbers are written without a decimal point, for readability."""
    return int(value) if value is not None and float(value).is_integer() else value


def unit_of(name: str) -> str:
    low = name.lower()
    if "відсотк" in low or low.startswith("частка"):
        return "percent"
    if "тис." in low:
        return "thousand"
    if low.startswith("група"):
        return "number"
    return "count"


def rule_of(ind_id: str, name: str, unit: str, executors: list[str]) -> tuple[str, str]:
    if ind_id in RULES:
        return RULES[ind_id]
    if unit == "percent":
        return "percent", ""
    low = name.lower()
    if executors[0] in GROUPS:
        return "sum", "Відповідальні за захід — обласні адміністрації: кожна звітує про свою частку, національне значення — сума."
    if any(re.search(r"\b" + w, low) for w in DOCUMENT_WORDS):
        return "lead", ""
    if "REGIONS" in executors:
        return "sum", ""
    central = [e for e in executors if e not in GROUPS]
    if len(central) <= 1:
        return "lead", ""
    return "max", "Кілька центральних органів звітують про ті самі заходи: значення не додаються."


def build(registry) -> dict:
    seed = parse_seed()
    corrections = yaml.safe_load(CORRECTIONS.read_text(encoding="utf-8")) or []
    tasks: dict[int, dict] = {}
    measures: dict[tuple[int, int], dict] = {}

    def task_entry(num):
        if num not in tasks:
            tasks[num] = {"id": f"T{num}", "number": num, "name": seed.task_names[num], "measures": []}
        return tasks[num]

    def measure_entry(tnum, mnum, text, executors):
        key = (tnum, mnum)
        if key not in measures:
            m = {"id": f"T{tnum}.{mnum}", "number": mnum, "text": norm(MEASURE_RE.match(text).group(2)),
                 "executors": executors,
                 "indicators": [], "funding": []}
            measures[key] = m
            task_entry(tnum)["measures"].append(m)
        return measures[key]

    for row in seed.execution:
        m = measure_entry(row.task, row.measure, row.measure_text, tokenize_executors(row.executors, registry))
        if row.indicator or row.planned:
            idx = len(m["indicators"]) + 1
            m["indicators"].append({"id": f"{m['id']}.{idx}", "name": norm(row.indicator), "planned": row.planned})

    for row in seed.funding:
        m = measures.get((row.task, row.measure))
        if m is None:
            m = measure_entry(row.task, row.measure, row.measure_text, [])
        if row.measure_row and not m["executors"]:
            m["executors"] = tokenize_executors(row.holder, registry)
        source, holder = funding_source_holder(row, registry)
        line = {
            "id": funding_line_id(m["id"], source, holder),
            "holder": holder,
            "source": source,
            "source_label": norm(row.source),
            "programme_amount": tidy(amount(row.programme_amount)),
            "planned": tidy(amount(row.planned)),
        }
        code = norm(row.code)
        if code and code != "-":
            line["budget_code"] = code
        m["funding"].append(line)

    # Apply hand corrections.
    index = {}
    for t in tasks.values():
        for m in t["measures"]:
            index[m["id"]] = m
            for i in m["indicators"]:
                index[i["id"]] = i
    for c in corrections:
        item = index[c["item"]]
        if item.get(c["field"], "") != c["seed"]:
            raise SystemExit(f"correction of {c['item']}.{c['field']} does not match the seed: {item.get(c['field'])!r}")
        item[c["field"]] = c["value"]

    # Units and rules.
    for t in tasks.values():
        for m in t["measures"]:
            for ind in m["indicators"]:
                unit = unit_of(ind["name"])
                rule, why = rule_of(ind["id"], ind["name"], unit, m["executors"])
                planned = tidy(amount(ind.pop("planned")))
                ind.update({"unit": unit, "planned": planned, "rule": rule})
                if why:
                    ind["rule_why"] = why
                if rule == "percent":
                    ind["numerator"] = "кількість, що відповідає умові показника"
                    ind["denominator"] = "загальна кількість (база відсотка)"
            if not m["indicators"]:
                del m["indicators"]
            if not m["funding"]:
                del m["funding"]

    header = seed.title_lines
    programme = {
        "code": "496-р",
        "title": "Державна цільова соціальна програма протидії торгівлі людьми на період до 2025 року",
        "title_genitive": re.sub(r"\s+у \d{4} році$", "", header[2]),
        "act": "Розпорядження Кабінету Міністрів України від 02.06.2023 № 496-р",
        "customer": "Міністерство соціальної політики України",
        "customer_executor": "MSP",
        "term": "до 2025 року",
        "report_year": int(re.search(r"у (\d{4}) році", header[2]).group(1)),
        "deadline": "2025-01-20",
        "quarter_deadline_day": 15,
        "version": "2024.1",
    }
    ordered = [tasks[k] for k in sorted(tasks)]
    for t in ordered:
        t["measures"].sort(key=lambda m: m["number"])
    return {"programme": programme, "tasks": ordered}


HEADER = """\
# Каталог Державної цільової соціальної програми протидії торгівлі людьми на період до 2025 року
# (розпорядження КМУ від 02.06.2023 № 496-р), звітний рік 2024.
# Створено tools/seed_to_catalogue.py зі звіту міністерства за 2024 рік; ручні виправлення —
# у tools/catalogue_corrections.yaml.  Ідентифікатори (T2.6.1, F.…) сталі: ніколи не змінюйте їх нумерацію.
# rule (правило зведення): sum — сума, lead — відповідальний виконавець, max — максимум, percent — відсоток,
#   text — лише текст (див. README, «Правила зведення»);
# source (джерело): state_general — загальний фонд, state_special — спеціальний фонд, local — місцеві бюджети,
#   other — інші джерела, none — не потребує фінансування;  суми — у тисячах гривень.
# holder REGIONS — рядок рівня програми для всіх обласних адміністрацій (ніхто його не подає).
"""


def render(data: dict) -> str:
    return HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100000, default_flow_style=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="fail if templates/catalogue.yaml is out of date")
    args = ap.parse_args()
    registry = load_registry(ROOT / "templates" / "executors.csv")
    text = render(build(registry))
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print("templates/catalogue.yaml differs from the converter's output", file=sys.stderr)
            return 1
        print("templates/catalogue.yaml is up to date")
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
