"""Near-duplicate texts: for each text of a sequence, the first earlier one (nearly) the same.

:func:`similar` is the test the reconciliation uses for paragraphs and proposals: identical, or both at
least ``shortest`` characters long and sharing, in the same order, at least ``threshold`` of their
characters — ``2·LCS / (la + lb) ≥ threshold`` with LCS the length of their longest common subsequence
(the normalised Indel similarity: one minus the share of characters to delete and insert to turn one
text into the other).  A copied paragraph with another executor's name in front, or with a few figures
changed, keeps well above 0.9; two texts about the same subject in different words stay far below.

:func:`first_similar` answers, for a whole sequence at once, what scanning every earlier text with
:func:`similar` would answer, without comparing every pair in Python:

1. the lengths rule most pairs out: ``2·LCS / (la + lb) ≤ 2·min(la, lb) / (la + lb)``;
2. then the characters: a common subsequence uses each character at most as often as the rarer text has
   it, so ``LCS ≤ Σ min(ca, cb)`` over the character counts ``ca``, ``cb`` — a matrix product (numpy, a
   block of texts against all earlier ones), as ``min(x, y)`` is the number of thresholds ``t ≥ 1`` both
   counts reach;
3. for the pairs left, the LCS itself (rapidfuzz's bit-parallel LCS in C++, all pairs at once, on every
   core) — the exact test.

With 1,500 hromadas writing about the same measure that is about a million pairs per measure, of which
the bounds leave a few per cent for the exact test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rapidfuzz.distance import LCSseq
from rapidfuzz.process import cpdist

if TYPE_CHECKING:
    import numpy as np

# numpy is imported by the functions that use it, not with this module: ``consolidate --help`` (which
# imports the reconciliation) starts without numpy's ~0.1 s (tests/test_startup.py).

_SLACK = 1e-9  # bounds are compared with a hair of slack: a bound never rules out a borderline pair
_BLOCK = 512  # texts compared at once with all earlier ones (a block × earlier matrix of floats)
_CAP = 64  # thresholds per character in the counts' matrix product (larger counts: a looser bound)
_COLUMNS = 2048  # at most this many columns in it (the cap is halved until they fit)


def similar(a: str, b: str, threshold: float, shortest: int) -> bool:
    """Identical, or both at least ``shortest`` long with ``2·LCS / (la + lb) ≥ threshold``."""
    if a == b:
        return True
    if min(len(a), len(b)) < shortest:
        return False
    return 2.0 * LCSseq.similarity(a, b) / (len(a) + len(b)) >= threshold


def first_similar(
    texts: Sequence[str], threshold: float, shortest: int, *, query_short: bool = True
) -> list[int | None]:
    """For each text, in order, the position of the first earlier *kept* text :func:`similar` to it, or None.

    A text is kept when it has no such earlier text (the reconciliation keeps the first of near-duplicate
    paragraphs and reports the others).  With ``query_short=False`` texts shorter than ``shortest`` are not
    looked up at all: they are always kept (and only an identical text can be similar to them).
    """
    import numpy as np

    n = len(texts)
    result: list[int | None] = [None] * n
    if n == 0:
        return result
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    pairs = _similar_pairs(texts, lengths, threshold, shortest)
    kept = bytearray(n)
    first_kept: dict[str, int] = {}
    for i, text in enumerate(texts):
        long = lengths[i] >= shortest
        if long or query_short:
            limit = first_kept.get(text, i)  # an identical kept text is similar: nothing after it matters
            found = next((j for j in pairs.get(i, ()) if j < limit and kept[j]), None) if long else None
            if found is None and limit < i:
                found = limit
            result[i] = found
        if result[i] is None:
            kept[i] = 1
            first_kept.setdefault(text, i)
    return result


def _similar_pairs(texts: Sequence[str], lengths: np.ndarray, threshold: float, shortest: int) -> dict[int, list[int]]:
    """Every pair (i, j), j < i, of texts at least ``shortest`` long with ``2·LCS / (la + lb) ≥ threshold``,
    as i → [j, …] in order."""
    import numpy as np

    positions = np.flatnonzero(lengths >= shortest)
    if positions.size < 2:
        return {}
    long_texts = [texts[p] for p in positions.tolist()]
    thresholds, rest, columns = _count_thresholds(long_texts)
    columns_first = np.ascontiguousarray(thresholds.T)  # the right operand, laid out for the product
    size = lengths[positions].astype(np.float64)
    bound = threshold - _SLACK
    rows_kept, cols_kept = [], []
    for start in range(1, positions.size, _BLOCK):
        stop = min(start + _BLOCK, positions.size)
        la, lb = size[start:stop, None], size[None, :stop]
        total = la + lb
        keep = 2.0 * np.minimum(la, lb) / total >= bound
        keep &= np.arange(start, stop)[:, None] > np.arange(stop)[None, :]  # earlier texts only
        matches = (thresholds[start:stop] @ columns_first[:, :stop]).astype(np.float64)  # Σ min(ca, cb) to the cap
        if rest is not None:  # counts above the cap: Σ min(ra, rb) ≤ Σ √(ra·rb), with room for rounding
            matches += (rest[start:stop] @ rest[:stop].T) * (1 + 1e-9) + 1e-6
        keep &= 2.0 * matches / total >= bound
        rows, cols = np.nonzero(keep)
        rows_kept.append(rows + start)
        cols_kept.append(cols)
    rows, cols = np.concatenate(rows_kept), np.concatenate(cols_kept)
    if rows.size:
        if columns.max(initial=0) < 256:  # one byte a character: rapidfuzz's fastest path, and the same LCS
            mapped = columns.astype(np.uint8).tobytes().decode("latin-1")
            ends = np.cumsum([len(t) for t in long_texts]).tolist()
            long_texts = [mapped[e - len(t) : e] for t, e in zip(long_texts, ends)]
        lcs = cpdist(
            [long_texts[i] for i in rows.tolist()],
            [long_texts[j] for j in cols.tolist()],
            scorer=LCSseq.similarity,
            dtype=np.int64,
            workers=-1,
        )
        ok = 2.0 * lcs / (size[rows] + size[cols]) >= threshold  # the test itself, in similar()'s arithmetic
        rows, cols = rows[ok], cols[ok]
    out: dict[int, list[int]] = {}
    for i, j in zip(positions[rows].tolist(), positions[cols].tolist()):
        out.setdefault(i, []).append(j)  # rows come in order, and columns in order within a row
    return out


def _count_thresholds(texts: list[str]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Each text's character counts as 0/1 columns "count of c ≥ t" for t = 1 … cap, so that the product of
    two rows is Σ min(ca, cb); the square roots of what is left above the cap (None if nothing is); and
    every character of the texts, one after another, as its number in their alphabet."""
    import numpy as np

    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    alphabet, columns = np.unique(codes, return_inverse=True)
    rows = np.repeat(np.arange(len(texts)), [len(t) for t in texts])
    counts = np.bincount(rows * alphabet.size + columns, minlength=len(texts) * alphabet.size)
    counts = counts.reshape(len(texts), alphabet.size)
    most = counts.max(axis=0)
    cap = _CAP
    while cap > 1 and np.minimum(most, cap).sum() > _COLUMNS:
        cap //= 2
    widths = np.minimum(most, cap)
    steps = np.concatenate([np.arange(w) for w in widths])  # t − 1 of each column
    owner = np.repeat(np.arange(alphabet.size), widths)  # its character
    thresholds = (counts[:, owner] > steps[None, :]).astype(np.float32)  # sums of 0/1: exact in float32
    above = np.maximum(counts - cap, 0)
    return thresholds, (np.sqrt(above) if above.any() else None), columns
