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
out a text whose ratio is below the threshold, so the result is the scan's result.  For the texts left
(near-duplicates, mostly), difflib's ratio itself is computed with its longest-block search replaced by
an equivalent substring search when the ranges are long (:class:`_Matcher`: same blocks, a third of the
time).
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
    sm = _Matcher(None, a, b, autojunk=False)
    return sm.quick_ratio() >= threshold and sm.ratio() >= threshold


class _Matcher(difflib.SequenceMatcher):
    """difflib's matcher, finding a long matching block by substring search instead of position by position.

    Without junk (no ``isjunk``, no ``autojunk``), difflib's longest matching block in a range is the longest
    common substring, the one starting earliest in ``a`` and then earliest in ``b``; for two long, nearly equal
    texts that is found by a binary search on its length with sets of substrings, far faster than difflib's
    scan of every pair of equal characters.  Short ranges (the rest of the recursion) stay with difflib.
    """

    SEARCH_FROM = 64  # characters in both ranges

    def find_longest_match(self, alo=0, ahi=None, blo=0, bhi=None):
        ahi = len(self.a) if ahi is None else ahi
        bhi = len(self.b) if bhi is None else bhi
        if self.bjunk or self.bpopular or min(ahi - alo, bhi - blo) < self.SEARCH_FROM:
            return super().find_longest_match(alo, ahi, blo, bhi)
        a, b = self.a[alo:ahi], self.b[blo:bhi]
        low = _common_end(a, b)        # the common prefix or suffix: a common substring, so a lower bound
        high = min(len(a), len(b))     # a common substring of every length up to the longest exists
        while low < high:
            mid = (low + high + 1) // 2
            if _first_common(a, b, mid) is not None:
                low = mid
            else:
                high = mid - 1
        if low == 0:
            return difflib.Match(alo, blo, 0)
        i = _first_common(a, b, low)
        return difflib.Match(alo + i, blo + b.find(a[i:i + low]), low)


def _common_end(a: str, b: str) -> int:
    """Length of the longer of the common prefix and the common suffix."""
    n = min(len(a), len(b))
    prefix = 0
    while prefix < n and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < n and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    return max(prefix, suffix)


def _first_common(a: str, b: str, k: int) -> int | None:
    """The first position in ``a`` of a substring of length ``k`` that ``b`` contains, or None."""
    found = {b[j:j + k] for j in range(len(b) - k + 1)}
    return next((i for i in range(len(a) - k + 1) if a[i:i + k] in found), None)


class FirstSimilar:
    """Texts added in order; :meth:`first` finds the first of them :func:`similar` to a query."""

    def __init__(self, threshold: float, shortest: int):
        self.threshold, self.shortest = threshold, shortest
        self.texts: list[str] = []
        self._first_at: dict[str, int] = {}          # text → its first position (identical texts are similar)
        self._alphabet: dict[str, int] = {}          # character → column of the counts
        self._lengths = np.zeros(64, dtype=np.int64)
        self._counts = np.zeros((64, 32), dtype=np.int32)
        self._masks: dict[int, tuple[int, dict[str, bytes]]] = {}  # position → its bit field (see _masks_of)
        self._last_counted: tuple[str | None, Counter] = (None, Counter())

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
        counts = self._counted(text)
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

    def _counted(self, text: str) -> Counter:
        """Character counts of a text (the last one remembered: a text is looked up, then added)."""
        if self._last_counted[0] != text:
            self._last_counted = (text, Counter(text))
        return self._last_counted[1]

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
        counts = self._counted(text)
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
        lcs = self._lcs(text, positions)
        return [p for p, n in zip(positions, lcs) if 2.0 * n / (la + len(self.texts[p])) >= threshold]

    def _masks_of(self, position: int) -> tuple[int, dict[str, bytes]]:
        """A text as a bit field: its width in bytes (one guard bit at least) and, per character, the bytes of
        the mask of its positions."""
        found = self._masks.get(position)
        if found is None:
            text = self.texts[position]
            width = len(text) // 8 + 1
            masks: dict[str, int] = {}
            for i, ch in enumerate(text):
                masks[ch] = masks.get(ch, 0) | (1 << i)
            found = self._masks[position] = (width, {ch: m.to_bytes(width, "little") for ch, m in masks.items()})
        return found

    def _lcs(self, query: str, positions: list[int]) -> list[int]:
        """Length of the longest common subsequence of ``query`` and each text, all computed together.

        Bit-parallel LCS: each text is a byte-aligned field of bits in one integer, with a zero guard bit above
        it that takes the carry of the addition, so the fields never disturb one another.
        """
        fields = [self._masks_of(p) for p in positions]
        lengths = [len(self.texts[p]) for p in positions]
        v = self._steps(query, *self._packed(fields, lengths, set(query)))
        return _counts(v, fields, lengths)

    @staticmethod
    def _packed(fields, lengths, chars) -> tuple[int, int, dict[str, int]]:
        """The fields side by side: the state (all ones to start), the mask of the text bits, the char masks."""
        full = int.from_bytes(b"".join(((1 << n) - 1).to_bytes(w, "little") for (w, _), n in zip(fields, lengths)),
                              "little")
        combined = {ch: int.from_bytes(b"".join([m.get(ch) or bytes(w) for w, m in fields]), "little") for ch in chars}
        return full, full, combined

    @staticmethod
    def _steps(chars: str, v: int, full: int, combined: dict[str, int]) -> int:
        for mask in [combined[ch] for ch in chars]:
            u = v & mask
            v = ((v + u) | (v - u)) & full
        return v


def _offsets(fields) -> list[int]:
    out = [0]
    for width, _ in fields:
        out.append(out[-1] + width)
    return out


def _counts(v: int, fields, lengths) -> list[int]:
    """LCS of each field from the final state: its length less the ones left in it."""
    offsets = _offsets(fields)
    data = v.to_bytes(offsets[-1], "little")
    return [n - int.from_bytes(data[offsets[i]:offsets[i + 1]], "little").bit_count() for i, n in enumerate(lengths)]
