"""first_similar answers exactly as scanning every earlier text with difflib would, without doing so."""

from __future__ import annotations

import random

import pytest

from consolidate.neardup import first_similar, similar

THRESHOLD, SHORTEST = 0.9, 40
WORDS = ("громада", "проведено", "заходів", "осіб", "торгівлі", "людьми", "навчання", "консультації", "центр",
         "соціальних", "послуг", "у", "з", "та", "щодо", "протидії", "року", "2024", "12", "7", "інформаційних")


def scan(texts: list[str], query_short: bool = True) -> list[int | None]:
    """Every earlier kept text compared with difflib, in order (a text is kept when it has no twin)."""
    kept: list[int] = []
    out: list[int | None] = []
    for text in texts:
        found = None
        if query_short or len(text) >= SHORTEST:
            found = next((k for k in kept if similar(text, texts[k], THRESHOLD, SHORTEST)), None)
        if found is None:
            kept.append(len(out))
        out.append(found)
    return out


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
    texts = corpus(seed, 200)
    for query_short in (True, False):
        expected = scan(texts, query_short)
        assert first_similar(texts, THRESHOLD, SHORTEST, query_short=query_short) == expected, seed
    assert sum(e is not None for e in expected) > 20  # near-copies are found, not only identical texts
    assert any(e is not None and texts[e] != texts[i] for i, e in enumerate(expected))


def test_copies_with_another_name_in_front_and_texts_around_the_threshold():
    """Copy-paste with the executor's own name, and pairs whose ratio is just above or below the threshold."""
    rng = random.Random(11)
    texts = []
    for n in range(80):
        body = sentence(rng, 25)
        texts.append(f"Громада №{n}: {body}")
        texts.append(f"Громада №{n + 1000}: {body}")                                    # another name in front
        texts.append(f"Громада №{n}: " + mutate(rng, body, rng.choice((20, 25, 30, 35))))  # ratio about 0.9
    expected = scan(texts)
    assert first_similar(texts, THRESHOLD, SHORTEST) == expected
    edited = [expected[i] for i in range(2, len(texts), 3)]
    assert 10 < sum(e is None for e in edited) < 70  # both sides of the threshold are in the data


def lcs(a: str, b: str) -> int:
    row = [0] * (len(b) + 1)
    for ch in a:
        prev = 0
        for j, other in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if ch == other else max(row[j], row[j - 1])
    return row[-1]


def test_similar_is_the_share_of_a_longest_common_subsequence():
    rng = random.Random(5)
    for _ in range(300):
        alphabet = rng.choice(("ab", "абвгґд ", "abc😀𝕏"))
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        b = mutate(rng, a, rng.randint(0, 12)) if rng.random() < 0.7 else \
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        share = 2 * lcs(a, b) / (len(a) + len(b)) if a or b else 1.0
        expected = a == b or (min(len(a), len(b)) >= SHORTEST and share >= THRESHOLD)
        assert similar(a, b, THRESHOLD, SHORTEST) == expected, (a, b)


def test_long_runs_and_large_alphabets_take_the_other_paths():
    """Counts above the cap (a looser bound) and alphabets of 256 characters or more (no byte mapping)."""
    rng = random.Random(9)
    wide = "".join(chr(0x4E00 + k) for k in range(400))
    texts = []
    for _ in range(60):
        base = "а" * rng.randint(60, 200) + " " + "".join(rng.choice(wide) for _ in range(rng.randint(30, 120)))
        texts += [base, mutate(rng, base, rng.randint(0, 30)), "б" * rng.randint(100, 300)]
    assert first_similar(texts, THRESHOLD, SHORTEST) == scan(texts)


def test_identical_short_and_odd_texts():
    texts = ["так", "", "Пропозиція 1", "так", "", "Пропозиція 2", "\ud800 лишній сурогат " * 3, "\ud800 лишній сурогат " * 3]
    assert first_similar(texts, THRESHOLD, SHORTEST) == [None, None, None, 0, 1, None, None, 6]
    assert first_similar(texts, THRESHOLD, SHORTEST, query_short=False) == [None, None, None, None, None, None, None, 6]
    assert first_similar([], THRESHOLD, SHORTEST) == [] and first_similar(["будь-що"], THRESHOLD, SHORTEST) == [None]
