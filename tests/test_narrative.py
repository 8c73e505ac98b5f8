"""Narrative against figures: numbers that stand with the indicator's noun, checked on the seed and in reconciliation."""

from __future__ import annotations

from consolidate.narrative import NARRATIVE_VS_NATIONAL, NARRATIVE_VS_OWN, check_measure, counts_in, head_noun
from consolidate.reconcile import REGIONAL_HEADER, explain_lines, reconcile
from consolidate.seed import amount, clean, parse_seed
from consolidate.simulate import REGIONAL_RE, split_narrative

from .util import make_returns


def _seed_blocks(cat):
    """Per measure of the seed: (measure id, [(indicator, national, {})], [(executor, paragraph)]), and the number
    of narrative blocks (the text under one agency header or «Обласний рівень», or before any header)."""
    seed = parse_seed()
    rows: dict[str, list] = {}
    for r in seed.execution:
        rows.setdefault(f"T{r.task}.{r.measure}", []).append(r)
    measures, blocks = [], 0
    for mid, rs in rows.items():
        narrative = next((r.narrative for r in rs if r.narrative), "")
        started = False
        for raw in narrative.split("\n"):
            line = clean(raw)
            if not line:
                continue
            e = cat.registry.find_by_name(line.rstrip(" :.").strip())
            if (e is not None and not e.is_regional) or REGIONAL_RE.match(line) or not started:
                blocks += 1
                started = True
        paragraphs = [(c, p) for c, ps in split_narrative(cat, mid, narrative).items() for p in ps]
        inds = [(ind, amount(r.actual), {}) for ind, r in zip(cat.indicators_of(mid), [r for r in rs if r.indicator or r.planned])]
        measures.append((mid, inds, paragraphs))
    return measures, blocks


def test_the_seeds_three_contradictions_are_found_and_nothing_else(cat):
    measures, blocks = _seed_blocks(cat)
    assert blocks == 96  # docs/report.md: false positives measured on these
    findings = [f for mid, inds, paras in measures
                for f in check_measure(inds, paras, cat.executor_label, cat.measure(mid).lead)]
    by_item = {f.item: f for f in findings}
    assert sorted(by_item) == ["T2.13.1", "T2.6.1", "T4.1.1"] and len(findings) == 3  # no false positive
    assert "«1200 навчальних заходів»" in by_item["T2.6.1"].message and "— 410" in by_item["T2.6.1"].message
    assert "разом 1008" in by_item["T2.13.1"].message and "— 973" in by_item["T2.13.1"].message
    m41 = by_item["T4.1.1"].message
    assert "Волинська ОВА: 43 інформаційні кампанії" in m41 and "— 43" in m41 and "лише Волинська ОВА" in m41
    assert all(f.kind == NARRATIVE_VS_NATIONAL and f.message.startswith("перевірте:") for f in findings)


def test_only_numbers_that_stand_with_the_noun_count():
    assert head_noun("кількість проведених освітніх заходів") == "заходів"
    assert head_noun("кількість проведених засідань координаційних рад в областях") == "засідань"
    text = ("20.05.2024 проведено нараду; 05-06 листопада 2024 року — тренінг; наказ № 4/5; витрачено 12,5 тис. грн; "
            "проведено 1 200 навчальних заходів, у 3-х інформаційних заходах взяли участь 250 осіб; "
            "4 регіональних симуляційних вправ; 17 % заходів")
    assert counts_in(text, "заходів") == [(1200.0, "1 200 навчальних заходів"), (3.0, "3 інформаційних заходах")]
    assert counts_in("Проведено 31 засідання робочих груп і 88 засідань рад", "засідань", "робочої") == \
        [(31.0, "31 засідання робочих")]


def test_reconciliation_turns_contradictions_into_findings_shown_by_explain(cat):
    returns = make_returns({
        "UA-07": {"execution": {"T2.13": {"status": "виконано", "narrative": "Волинська область - 47 засідань"},
                                "T2.13.1": {"actual": 39}}},
        "UA-12": {"execution": {"T2.13": {"status": "виконано", "narrative": "Проведено 30 засідань координаційної ради"},
                                "T2.13.1": {"actual": 30}}},
    })
    rec = reconcile(cat, "2024", returns)
    mine = [c for c in rec.conflicts if c.kind.startswith("narrative")]
    own = [c for c in mine if c.kind == NARRATIVE_VS_OWN]
    assert [c.executors for c in own] == [("UA-07",)]
    assert own[0].message == ("перевірте: Волинська ОВА пише «47 засідань», а в звіті цього виконавця показник T2.13.1 "
                              "«кількість проведених засідань координаційних рад в областях, районах та містах» — 39")
    national = [c for c in mine if c.kind == NARRATIVE_VS_NATIONAL]
    assert len(national) == 1 and "разом 77" in national[0].message and "— 69" in national[0].message
    assert any("перевірте: Волинська ОВА пише «47 засідань»" in line for line in explain_lines(cat, rec, "T2.13.1"))
    assert REGIONAL_HEADER


# ---- every author kept (section II «Обласний рівень:», section III) -------------------------------------------

def test_each_oblast_paragraph_begins_with_its_name(cat):
    returns = make_returns({
        "UA-07": {"execution": {"T2.13": {"status": "виконано", "narrative": "Проведено 12 засідань.\nРада працює."}}},
        "UA-35": {"execution": {"T2.13": {"status": "виконано",
                                          "narrative": "Кіровоградська область - 9 засідань координаційної ради"}}},
        "UA-30": {"execution": {"T2.13": {"status": "виконано", "narrative": "Засідання щокварталу"}}},
    })
    rec = reconcile(cat, "2024", returns)
    mr = rec.measures_by_id()["T2.13"]
    [block] = [b for b in mr.blocks if b.header == REGIONAL_HEADER]
    assert block.paragraphs == [("UA-07", "Волинська область: Проведено 12 засідань. Рада працює."),
                                ("UA-35", "Кіровоградська область - 9 засідань координаційної ради"),
                                ("UA-30", "м. Київ: Засідання щокварталу")]
    assert mr.narrative_text().startswith("Обласний рівень:\nВолинська область: Проведено")


def test_every_proposal_keeps_its_authors_and_near_duplicates_are_merged(cat):
    same = "Продовжити фінансування інформаційних кампаній з протидії торгівлі людьми у 2025 році"
    returns = make_returns({
        "MSP": {"proposals": {"P1": {"text": same}, "P2": {"text": "Утворити міжвідомчу робочу групу з питань обліку"}}},
        "UA-07": {"proposals": {"P1": {"text": same + "."}}},
        "UA-35": {"proposals": {"P1": {"text": same.replace("2025", "2025-му")}}},
        "UA-05": {"proposals": {"P1": {"text": same}}},
        "UA-30": {"proposals": {"P1": {"text": "Збільшити кількість притулків для постраждалих осіб"}}},
    })
    rec = reconcile(cat, "2024", returns)
    by_text = {p.text: p for p in rec.proposals}
    assert len(rec.proposals) == 3
    merged = by_text[same]
    # registry order: MSP first, then the oblasts in the registry's order
    assert set(merged.authors) == {"MSP", "UA-07", "UA-35", "UA-05"} and len(merged.variants) == 4
    assert by_text["Збільшити кількість притулків для постраждалих осіб"].authors == ("UA-30",)
    noted = [c for c in rec.conflicts if c.kind == "merged-proposal"]
    assert len(noted) == 3 and all("пропозиція, як у звіті" in c.message for c in noted)
    # the authors reach both reports
    from consolidate.report import SECTION3, build_report
    from consolidate.report_docx import build_docx, docx_to_text
    from python_calamine import CalamineWorkbook
    import io
    rows = CalamineWorkbook.from_filelike(io.BytesIO(build_report(cat, rec))).get_sheet_by_name(SECTION3).to_python()
    [row] = [r for r in rows if r[1] == same]
    assert set(row[0].split("\n")) == {"Мінсоцполітики", "Волинська ОВА", "Кіровоградська ОВА", "Вінницька ОВА"}
    text = docx_to_text(build_docx(cat, rec))
    assert same + "\nАвтори пропозиції: " in text and "Автор пропозиції: м. Київ" in text
