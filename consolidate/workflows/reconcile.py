"""``reconcile``, ``explain``, ``adjust`` (and its undo): national figures by rule, their sources, the clerk's corrections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConsolidateError
from ..ledger import Ledger
from ..model import ERROR
from ..reconcile import IndicatorResult, Reconciliation, explain_lines, reconcile_ledger, summary_dict
from ..workspace import Workspace
from .base import ExitCode, Result
from .common import operator_name, resolve_period, thresholds


@dataclass
class Reconciled(Result):
    period: str
    rec: Reconciliation
    _catalogue: Any = field(default=None, repr=False)
    adjustments: list = field(default_factory=list)  # ledger.Adjustment of the period, oldest first (undone too)

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.rec.conflicts:
            counts[c.kind] = counts.get(c.kind, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def exit_code(self) -> ExitCode:
        """1 when the reconciliation found errors (conflicts a clerk must resolve before the figures are signed)."""
        return ExitCode.PROBLEMS if any(c.severity == ERROR for c in self.rec.conflicts) else ExitCode.CLEAN

    def complete_indicators(self) -> int:
        return sum(1 for r in self.rec.indicators if r.value is not None and not r.incomplete)

    def to_dict(self) -> dict[str, Any]:
        return summary_dict(self._catalogue, self.rec)


def reconcile(ws: Workspace, period: str | None = None, include_unapproved: bool = False) -> Reconciled:
    """Merge the approved returns (or, for a draft, the latest ones) by each indicator's rule."""
    period = resolve_period(ws, period)
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(ws.catalogue, ledger, period, include_unapproved, thresholds(ws))
        adjustments = ledger.adjustments(period=period)
    return Reconciled(period, rec, ws.catalogue, adjustments)


@dataclass
class Explained(Result):
    period: str
    item: str
    lines: list[str]
    adjustments: list = field(default_factory=list)  # ledger.Adjustment of the item, oldest first
    bounds: tuple[float, float] | None = None  # what an adjustment of an indicator may set (None: no bounds)


def explain(ws: Workspace, item: str, period: str | None = None, include_unapproved: bool = False) -> Explained:
    """Where a national figure comes from: every claim with its file, sheet and cell; the adjustments made."""
    period = resolve_period(ws, period)
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(ws.catalogue, ledger, period, include_unapproved, thresholds(ws))
        history = ledger.adjustments(period=period, item=item)
    from ..review import adjustment_bounds

    lines = explain_lines(ws.catalogue, rec, item)
    if not lines:
        raise ConsolidateError(f"Немає показника, рядка фінансування чи заходу з ідентифікатором «{item}»")
    found = rec.find(item)
    bounds = adjustment_bounds(found) if isinstance(found, IndicatorResult) else None
    return Explained(period, item, lines, history, bounds)


@dataclass
class Adjusted(Result):
    period: str
    item: str
    operator: str
    adjustment: Any = None  # ledger.Adjustment made (None when undone)
    undone: bool = False


def adjust(
    ws: Workspace,
    item: str,
    value: float | None,
    reason: str = "",
    *,
    period: str | None = None,
    operator: str | None = None,
    force: bool = False,
) -> Adjusted:
    """Set a national figure by hand, within the bounds the claims allow (audited)."""
    from ..review import adjust as record_adjustment

    period = resolve_period(ws, period)
    who = operator_name(ws, operator)
    if value is None:
        raise ConsolidateError("Вкажіть значення: consolidate adjust ID ЗНАЧЕННЯ --reason «…» (або --undo).")
    with Ledger(ws.ledger_path) as ledger:
        rec = reconcile_ledger(ws.catalogue, ledger, period, False, thresholds(ws))
        made = record_adjustment(ws.catalogue, ledger, rec, item, value, reason, who, force=force)
    return Adjusted(period, item, who, made)


def undo_adjustment(ws: Workspace, item: str, *, period: str | None = None, operator: str | None = None) -> Adjusted:
    """Undo the active adjustment of a figure (the record stays)."""
    from ..review import undo

    period = resolve_period(ws, period)
    who = operator_name(ws, operator)
    with Ledger(ws.ledger_path) as ledger:
        undo(ledger, period, item, who)
    return Adjusted(period, item, who, None, undone=True)
