"""Numbers in an executor's narrative checked against the figures (its own and the national one).

Only numbers that stand with the indicator's noun are read — «1200 навчальних заходів», «47 засідань»,
«43 інформаційні кампанії» — a number, at most three words between (adjectives, «-х»), then a noun
sharing its stem with the head noun of the indicator's name («кількість проведених освітніх заходів» →
«заход…»).  Dates, article numbers, hryvnias, percents and thousands are not such numbers.  For each
(measure, numeric indicator) two contradictions are findings:

* ``narrative-vs-own``: an executor's text states one number with the noun, and its own figure for the
  indicator is a different one;
* ``narrative-vs-national``: under a ``sum``, ``max`` or ``lead`` rule, what the texts state with the noun —
  one executor's number, or the numbers of several executors together — exceeds the national figure
  (the seed's 2.6: «більше ніж 1200 навчальних заходів» against 410; 2.13: the oblasts' meetings add
  up to 1008 against 973; 4.1: one oblast alone reports 43 campaigns, the national figure, while two
  others report 3 each).

Pure functions over plain data; :func:`check_measure` is called by the reconciliation (and on the seed by
the tests, which measure the false positives: docs/report.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numbers import show_value

NARRATIVE_VS_OWN = "narrative-vs-own"
NARRATIVE_VS_NATIONAL = "narrative-vs-national"

# a count: digits (groups of three after a space), an optional «-х», «-ти», then up to three words, then the noun
_WORD = r"[A-Za-zА-Яа-яЇїІіЄєҐґ’'ʼ-]+"
_COUNT = re.compile(
    rf"(?<![\d.,/№])(\d{{1,3}}(?:[ \u00a0\u2009]\d{{3}})+|\d+)(?:-?(?:х|ти|ми|ох|ьох))?(?![\d.,/%])"
    rf"((?:\s+{_WORD}){{1,4}})"
)
_PERSON_STEMS = ("осіб", "особ", "представник", "працівник", "фахівц", "спеціаліст")
_SKIP_AFTER = {"тис", "тисяч", "тисячі", "млн", "грн", "гривень", "відсотків", "року", "років", "рік", "р"}
_ADJECTIVE_ENDINGS = ("их", "іх", "ого", "ої", "ий", "ій", "ні", "ні", "ені", "ані", "ці", "ових", "ами")


@dataclass(frozen=True)
class Stated:
    """A number the text states with a noun."""

    executor: str
    value: float
    phrase: str  # «1200 навчальних заходів»


@dataclass(frozen=True)
class NarrativeFinding:
    kind: str
    item: str  # indicator id
    executors: tuple[str, ...]
    message: str
    values: str


def head_noun(indicator_name: str) -> str:
    """The head noun of an indicator's name: «кількість проведених освітніх заходів» → «заходів»."""
    return _head(indicator_name)[0]


def _head(indicator_name: str) -> tuple[str, str]:
    """(head noun, the word after it) of an indicator's name."""
    words = re.findall(_WORD, indicator_name.split(",")[0].casefold())
    if words and words[0] in ("кількість", "число"):
        words = words[1:]
    for i, w in enumerate(words):
        if not w.endswith(("их", "іх", "ого", "ої")) or w in ("осіб",):
            return w, words[i + 1] if i + 1 < len(words) else ""
    return (words[0] if words else ""), ""


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word[: max(3, len(word) - 1)]


def _is_person(word: str) -> bool:
    return any(word.startswith(s) for s in _PERSON_STEMS)


def same_noun(noun: str, word: str) -> bool:
    """Whether ``word`` in a text names what ``noun`` (an indicator's head noun) counts: the same stem
    («заходів» — «заходи», «засідань» — «засідання»); «осіб» — «особи», «особа»."""
    word, noun = word.casefold(), noun.casefold()
    if noun in ("осіб", "особи", "особа"):
        return word.startswith(("осіб", "особ"))
    if len(noun) >= 5:
        return len(word) >= 5 and word[:5] == noun[:5]
    return word.startswith(_stem(noun))


_LIST_ITEM = re.compile(r"[-–]\s*(\d+)\s*(?=;|$)")


def counts_in(text: str, noun: str, qualifier: str = "") -> list[tuple[float, str]]:
    """(value, phrase) of every number in ``text`` that stands with ``noun`` (followed by a word of the
    ``qualifier``'s stem, when one is given: «засідань робочої групи» against «засідань координаційних рад»).

    A bare number closing an item of a list («Одеська область - 14;») among items that name the noun
    counts too (:func:`bare_items`, taken by :func:`stated` when the measure's texts name the noun)."""
    out: list[tuple[float, str]] = []
    for m in _COUNT.finditer(text):
        words = re.findall(_WORD, m.group(2))
        if not words or words[0].casefold().rstrip(".") in _SKIP_AFTER:
            continue
        for i, w in enumerate(words):
            if same_noun(noun, w):
                if qualifier and not (i + 1 < len(words) and words[i + 1].casefold()[:5] == qualifier[:5]):
                    break
                value = float(re.sub(r"\D", "", m.group(1)))
                phrase = f"{m.group(1)} {' '.join(words[: i + 1 + bool(qualifier)])}"
                out.append((value, " ".join(phrase.split())))
                break
            if not w.casefold().endswith(_ADJECTIVE_ENDINGS) and not w.casefold().endswith(("х",)):
                break  # another noun stands first: the number counts that
    return out


def bare_items(text: str) -> list[tuple[float, str]]:
    """Numbers closing the items of a list with no noun («Одеська область - 14;»)."""
    return [(float(m.group(1)), m.group(1)) for m in _LIST_ITEM.finditer(text)]


def stated(paragraphs: list[tuple[str, str]], noun: str, qualifier: str = "") -> dict[str, list[Stated]]:
    """Per executor, the numbers its paragraphs state with the noun, in order."""
    out: dict[str, list[Stated]] = {}
    for code, text in paragraphs:
        for value, phrase in counts_in(text, noun, qualifier):
            out.setdefault(code, []).append(Stated(code, value, phrase))
    if out and not qualifier:  # a list that names the noun in its other items
        for code, text in paragraphs:
            if code not in out:
                for value, phrase in bare_items(text):
                    out.setdefault(code, []).append(Stated(code, value, phrase))
    return out


def checked(ind) -> bool:
    """Whether the texts are checked against the indicator: a count under sum, max or lead."""
    return ind.rule in ("sum", "max", "lead") and ind.unit == "count"


def indicator_noun(ind, siblings) -> tuple[str, str]:
    """(noun, qualifier) that a text's number must stand with to count what ``ind`` counts; ``siblings``: the
    measure's checked indicators (two that count the same noun are told apart by the word after it)."""
    noun, after = _head(ind.name)
    heads = [_head(i.name)[0] for i in siblings]
    qualifier = after if noun and sum(1 for h in heads if h[:5] == noun[:5]) > 1 else ""
    return noun, qualifier


def check_measure(
    indicators, paragraphs: list[tuple[str, str]], label=lambda code: code, lead: str = ""
) -> list[NarrativeFinding]:
    """Findings of one measure.

    ``indicators``: (indicator, national value or None, {executor: own value}) of its numeric indicators;
    ``paragraphs``: (executor, paragraph) of its narrative; ``label``: an executor's short name; ``lead``: the
    measure's lead (under a ``lead`` rule only its text is held against the national figure).
    """
    findings: list[NarrativeFinding] = []
    counted = [(ind, national, own) for ind, national, own in indicators if checked(ind)]
    for ind, national, own in counted:
        noun, qualifier = indicator_noun(ind, [i for i, _, _ in counted])
        if not noun:
            continue
        by_exec = stated(paragraphs, noun, qualifier)
        if not by_exec:
            continue
        what = f"показник {ind.id} «{ind.name}»"
        for code, items in by_exec.items():
            mine = own.get(code)
            values = {s.value for s in items}
            if mine is not None and len(values) == 1 and mine not in values:
                s = items[0]
                findings.append(
                    NarrativeFinding(
                        NARRATIVE_VS_OWN,
                        ind.id,
                        (code,),
                        f"перевірте: {label(code)} пише «{s.phrase}», а в звіті цього виконавця {what} — "
                        f"{show_value(mine)}",
                        f"{show_value(s.value)} / {show_value(mine)}",
                    )
                )
        if national is None:
            continue
        if ind.rule == "lead":
            by_exec = {code: items for code, items in by_exec.items() if code == lead}
        top = {code: max(items, key=lambda s: s.value) for code, items in by_exec.items()}
        over = [s for s in top.values() if s.value > national + 1e-9]
        if over:
            for s in over:
                findings.append(
                    NarrativeFinding(
                        NARRATIVE_VS_NATIONAL,
                        ind.id,
                        (s.executor,),
                        f"перевірте: {label(s.executor)} пише «{s.phrase}», а {what} — {show_value(national)} "
                        f"(національне значення)",
                        f"{show_value(s.value)} / {show_value(national)}",
                    )
                )
            continue
        together = sum(s.value for s in top.values())
        if ind.rule == "sum" and len(top) > 1 and together > national + 1e-9:
            parts = sorted(top.values(), key=lambda s: -s.value)
            listing = "; ".join(f"{label(s.executor)}: {s.phrase}" for s in parts[:6])
            if len(parts) > 6:
                listing += f"; … ще {len(parts) - 6}"
            alone = (
                f"; лише {label(parts[0].executor)} — {show_value(parts[0].value)}, уже все національне значення"
                if parts[0].value >= national - 1e-9
                else ""
            )
            findings.append(
                NarrativeFinding(
                    NARRATIVE_VS_NATIONAL,
                    ind.id,
                    tuple(s.executor for s in parts),
                    f"перевірте: у текстах {len(parts)} виконавців разом {show_value(together)} ({listing}), а {what} — "
                    f"{show_value(national)} (національне значення){alone}",
                    f"{show_value(together)} / {show_value(national)}",
                )
            )
    return findings
