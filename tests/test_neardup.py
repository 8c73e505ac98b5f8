"""FirstSimilar answers exactly as scanning every earlier text with difflib would, without doing so."""

from __future__ import annotations

import random

import pytest

from consolidate import neardup
from consolidate.neardup import FirstSimilar, similar

THRESHOLD, SHORTEST = 0.9, 40
WORDS = ("громада", "проведено", "заходів", "осіб", "торгівлі", "людьми", "навчання", "консультації", "центр",
         "соціальних", "послуг", "у", "з", "та", "щодо", "протидії", "року", "2024", "12", "7", "інформаційних")


def scan(texts: list[str], query: str) -> int | None:
    return next((i for i, t in enumerate(texts) if similar(query, t, THRESHOLD, SHORTEST)), None)


def lcs(a: str, b: str) -> int:
    row = [0] * (len(b) + 1)
    for ch in a:
        prev = 0
        for j, other in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if ch == other else max(row[j], row[j - 1])
    return row[-1]


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def mutate(rng: random.Random, text: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        i = rng.randrange(len(chars) + 1)
        op = rng.choice("isd")
        if op == "i" or not chars:
            chars.insert(i, rng.choice("абвгґд 0123"))
        elif op == "s" and i < len(chars):
            chars[i] = rng.choice("абвгґд 0123")
        elif i < len(chars):
            del chars[i]
    return "".join(chars)


def corpus(seed: int, size: int) -> list[str]:
    """Texts and near-copies of earlier ones (a few edits or many), short ones, repeats, empty strings."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(size):
        roll = rng.random()
        if out and roll < 0.35:
            out.append(mutate(rng, rng.choice(out), rng.choice((1, 3, 6, 12, 25, 40))))
        elif out and roll < 0.42:
            out.append(rng.choice(out))
        elif roll < 0.5:
            out.append(rng.choice(("", "так", "P1", sentence(rng, 3))))
        else:
            out.append(sentence(rng, rng.randint(6, 40)))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_first_similar_is_the_scan(seed):
    texts = corpus(seed, 160)
    index = FirstSimilar(THRESHOLD, SHORTEST)
    added: list[str] = []
    hits = 0
    for text in texts:
        expected = scan(added, text)
        assert index.first(text) == expected, (seed, text)
        hits += expected is not None
        if expected is None or seed % 2:  # even seeds keep only what had no twin (as the reconciliation does)
            added.append(text)
            index.add(text)
    assert hits > 20  # near-copies are found, not only identical texts


def test_bit_parallel_lcs_of_many_texts_at_once():
    rng = random.Random(7)
    index = FirstSimilar(THRESHOLD, SHORTEST)
    texts = [sentence(rng, rng.randint(1, 30)) for _ in range(40)] + ["", "а", "ааааа"]
    for t in texts:
        index.add(t)
    for query in ("", "громада проведено", sentence(rng, 25), "ааа"):
        assert index._lcs(query, list(range(len(texts)))) == [lcs(query, t) for t in texts]


def test_bounds_never_rule_out_a_similar_pair(monkeypatch):
    checked = []
    monkeypatch.setattr(neardup, "similar", lambda a, b, t, s: checked.append((a, b)) or similar(a, b, t, s))
    rng = random.Random(3)
    base = sentence(rng, 30)
    index = FirstSimilar(THRESHOLD, SHORTEST)
    for _ in range(200):
        index.add(sentence(rng, 30))
    index.add(mutate(rng, base, 4))
    assert index.first(base) == 200
    assert len(checked) < 10  # difflib ran for a handful, not for 201 texts


def test_identical_and_short_texts():
    index = FirstSimilar(THRESHOLD, SHORTEST)
    for t in ("так", "", "Пропозиція 1", "так"):
        index.add(t)
    assert index.first("так") == 0 and index.first("") == 1 and index.first("Пропозиція 2") is None
    assert FirstSimilar(THRESHOLD, SHORTEST).first("будь-що") is None


@pytest.mark.parametrize("alphabet", ["ab", "abc", "абвгд ", "abcdefghij"])
def test_substring_search_finds_difflib_own_blocks(alphabet):
    import difflib

    rng = random.Random(alphabet)
    for _ in range(400):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        b = mutate(rng, a, rng.randint(0, 20)) if a and rng.random() < 0.6 else \
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        ours, theirs = neardup._Matcher(None, a, b, autojunk=False), difflib.SequenceMatcher(None, a, b, autojunk=False)
        assert ours.get_matching_blocks() == theirs.get_matching_blocks()
        alo, blo = rng.randint(0, len(a)), rng.randint(0, len(b))
        ahi, bhi = rng.randint(alo, len(a)), rng.randint(blo, len(b))
        assert ours.find_longest_match(alo, ahi, blo, bhi) == theirs.find_longest_match(alo, ahi, blo, bhi)
