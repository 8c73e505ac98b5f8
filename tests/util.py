"""Helpers shared by tests: returns as plain data, without files."""

from __future__ import annotations

from consolidate.model import ACCEPTED, CellValue, Submission

KIND_SHEETS = {"funding": "I. Фінансування", "execution": "II. Виконання", "proposals": "III. Пропозиції"}


def cell_values(kinds: dict) -> list[CellValue]:
    out = []
    for kind, rows in kinds.items():
        for n, (key, cols) in enumerate(rows.items()):
            for col, v in cols.items():
                number = float(v) if isinstance(v, (int, float)) else None
                out.append(CellValue(key, col, number, str(v), KIND_SHEETS[kind], f"Z{n + 5}"))
    return out


def make_returns(values: dict[str, dict], period: str = "2024") -> list[tuple[Submission, list[CellValue]]]:
    """(Submission, values) per executor from ``values[executor][kind][key][column]``."""
    out = []
    for i, (code, kinds) in enumerate(sorted(values.items()), start=1):
        sub = Submission(i, code, period, f"{i:064x}", f"{code}.xlsx", "2025-01-10T10:00:00", ACCEPTED, "test")
        out.append((sub, cell_values(kinds)))
    return out


# Where the seed is not self-consistent: the oblasts' own figures in its narrative add up to more than its national
# figure.  The simulated oblasts report their own figures (as the seed's texts state them), so the reconciled
# national figure is their sum, not the seed's.
SEED_NOT_SELF_CONSISTENT = {
    "T2.13.1": "the oblasts' list of meetings adds up to 1008, the indicator says 973",
    "T4.1.1": "Волинська 43 campaigns, Вінницька 3, Кіровоградська 3 (49), the indicator says 43",
}
