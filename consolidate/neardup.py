"""Near-duplicate texts: which earlier text is the first one (nearly) the same as this one.

:func:`similar` is the test the reconciliation uses for paragraphs and proposals: identical, or both at
least ``shortest`` characters long with difflib's ``quick_ratio`` and ``ratio`` (no junk heuristics)
reaching ``threshold``.  Scanning every earlier text with it costs a ``SequenceMatcher`` per pair —
fine for 46 executors, hours for 1,500 hromadas writing about the same measure.

:class:`FirstSimilar` gives exactly the answer of that scan — the first earlier text, in the order they
were added, for which :func:`similar` holds — while running difflib only for a handful of them.  The
others are ruled out by upper bounds of difflib's ratio, cheapest first:

1. the lengths: ``ratio ≤ 2·min(la, lb) / (la + lb)`` (difflib's ``real_quick_ratio``);
2. the characters: ``quick_ratio`` itself, computed from character counts for all earlier texts at once
   (numpy);
3. the longest common subsequence: difflib's matching blocks form a common subsequence, so
   ``ratio ≤ 2·LCS / (la + lb)``; the LCS of the query with each text still in the running is computed
   bit-parallel (Allison–Dix/Hyyrö), all of them side by side in one Python integer.

Each bound is computed in the same floating-point arithmetic as difflib's ratios and only ever rules
out a text whose ratio is below the threshold, so the result is the scan's result.
"""

from __future__ import annotations

import difflib
from collections import Counter

import numpy as np

_SLACK = 1e-9  # bounds are compared with a hair of slack: a bound never rules out a borderline pair


def similar(a: str, b: str, threshold: float, shortest: int) -> bool:
    """Identical, or both at least ``shortest`` long and nearly the same by difflib (quick_ratio, then ratio)."""
    if a == b:
        return True
    if min(len(a), len(b)) < shortest:
        return False
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return sm.quick_ratio() >= threshold and sm.ratio() >= threshold


class FirstSimilar:
    """Texts added in order; :meth:`first` finds the first of them :func:`similar` to a query."""

    def __init__(self, threshold: float, shortest: int):
        self.threshold, self.shortest = threshold, shortest
        self.texts: list[str] = []
        self._first_at: dict[str, int] = {}          # text → its first position (identical texts are similar)
        self._alphabet: dict[str, int] = {}          # character → column of the counts
        self._lengths = np.zeros(64, dtype=np.int64)
        self._counts = np.zeros((64, 32), dtype=np.int32)
        self._masks: dict[int, dict[str, int]] = {}  # position → character → bit mask of its positions

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: str) -> int:
        """Add a text; returns its position."""
        k = len(self.texts)
        if k == len(self._lengths):
            self._lengths = np.resize(self._lengths, 2 * k)
            grown = np.zeros((2 * k, self._counts.shape[1]), dtype=np.int32)
            grown[:k] = self._counts[:k]
            self._counts = grown
        counts = Counter(text)
        for ch in counts:
            if ch not in self._alphabet:
                self._alphabet[ch] = len(self._alphabet)
        if len(self._alphabet) > self._counts.shape[1]:
            wider = np.zeros((self._counts.shape[0], 2 * len(self._alphabet)), dtype=np.int32)
            wider[:, :self._counts.shape[1]] = self._counts
            self._counts = wider
        self._counts[k, [self._alphabet[ch] for ch in counts]] = list(counts.values())
        self._lengths[k] = len(text)
        self.texts.append(text)
        self._first_at.setdefault(text, k)
        return k

    def first(self, text: str) -> int | None:
        """Position of the first added text similar to ``text``, or None."""
        k = len(self.texts)
        if k == 0:
            return None
        limit = self._first_at.get(text, k)  # an identical text is similar: nothing after it matters
        candidates = self._candidates(text, limit)
        for position in candidates:
            if similar(text, self.texts[position], self.threshold, self.shortest):
                return position
        return limit if limit < k else None

    def _candidates(self, text: str, limit: int) -> list[int]:
        """Positions before ``limit`` whose bounds do not rule out similarity, in order."""
        la = len(text)
        if la < self.shortest or limit == 0:
            return []  # only an identical text is similar to a short one (found by ``_first_at``)
        threshold = self.threshold - _SLACK
        lengths = self._lengths[:limit]
        total = lengths + la
        keep = (lengths >= self.shortest) & (2.0 * np.minimum(lengths, la) / total >= threshold)
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            return []
        counts = Counter(text)
        known = [(self._alphabet[ch], n) for ch, n in counts.items() if ch in self._alphabet]
        if known:
            cols = np.fromiter((c for c, _ in known), dtype=np.intp, count=len(known))
            vals = np.fromiter((n for _, n in known), dtype=np.int32, count=len(known))
            matches = np.minimum(self._counts[np.ix_(idx, cols)], vals).sum(axis=1)
        else:
            matches = np.zeros(idx.size, dtype=np.int64)
        idx = idx[2.0 * matches / total[idx] >= threshold]
        if idx.size == 0:
            return []
        positions = idx.tolist()
        # the LCS a text must reach: 2·LCS / (la + lb) ≥ threshold (less a hair: never a borderline loss)
        need = [threshold * (la + len(self.texts[p])) / 2.0 - _SLACK for p in positions]
        lcs = self._lcs(text, positions, need)
        return [p for p, n, m in zip(positions, lcs, need) if n >= m and 2.0 * n / (la + len(self.texts[p])) >= threshold]

    def _masks_of(self, position: int) -> dict[str, int]:
        masks = self._masks.get(position)
        if masks is None:
            masks = {}
            for i, ch in enumerate(self.texts[position]):
                masks[ch] = masks.get(ch, 0) | (1 << i)
            self._masks[position] = masks
        return masks

    def _lcs(self, query: str, positions: list[int], need: list[float] | None = None) -> list[int]:
        """Length of the longest common subsequence of ``query`` and each text, all computed together.

        Bit-parallel LCS: each text is a field of bits in one integer, with a zero guard bit above it that
        takes the carry of the addition, so the fields never disturb one another.  With ``need`` (the LCS
        each text must reach), the texts that cannot reach it even if every remaining character of the
        query matched are dropped halfway (their result is then a lower value that is still below need).
        """
        lengths = [len(self.texts[p]) for p in positions]
        fields, v, full, combined = self._fields(positions, lengths, [None] * len(positions))
        half = len(query) // 2 if need is not None else len(query)
        v = self._steps(query[:half], v, full, combined)
        result = [n - ((v >> off) & ((1 << n) - 1)).bit_count() for off, n in fields]
        if half == len(query):
            return result
        rest = len(query) - half
        alive = [i for i, r in enumerate(result) if r + rest >= need[i]]
        if alive:
            states = [(v >> fields[i][0]) & ((1 << lengths[i]) - 1) for i in alive]
            sub_fields, v, full, combined = self._fields([positions[i] for i in alive], [lengths[i] for i in alive],
                                                         states)
            v = self._steps(query[half:], v, full, combined)
            for i, (off, n) in zip(alive, sub_fields):
                result[i] = n - ((v >> off) & ((1 << n) - 1)).bit_count()
        return result

    def _fields(self, positions, lengths, states):
        """The texts side by side: (offset, length) of each field, the packed state, its mask, the char masks."""
        combined: dict[str, int] = {}
        fields: list[tuple[int, int]] = []
        v = full = offset = 0
        for position, n, state in zip(positions, lengths, states):
            for ch, mask in self._masks_of(position).items():
                combined[ch] = combined.get(ch, 0) | (mask << offset)
            fields.append((offset, n))
            ones = ((1 << n) - 1) << offset
            full |= ones
            v |= ones if state is None else state << offset
            offset += n + 1
        return fields, v, full, combined

    @staticmethod
    def _steps(chars: str, v: int, full: int, combined: dict[str, int]) -> int:
        for mask in [combined.get(ch, 0) for ch in chars]:
            u = v & mask
            v = ((v + u) | (v - u)) & full
        return v
