"""Migration carries the suppression list: plan (counts), copy, verify.

Every address the source will not send to (its own list and the shared lists it reports:
bounces, complaints, unsubscribes, manual entries) is added to the target's account list, so
that a migration does not make bounced or complained addresses mailable again on day one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from ._limits import Feature

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["SuppressionPlan", "SuppressionResult", "copy_suppressions", "plan_suppressions"]


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(value)


@frozen
class SuppressionPlan:
    """``source`` suppressed addresses, ``already_on_target`` of them suppressed there, ``to_copy`` the rest."""

    source: int
    already_on_target: int
    to_copy: tuple[str, ...] = field(converter=_strs)
    by_reason: dict[str, int] = field(factory=dict)
    notes: tuple[str, ...] = field(default=(), converter=_strs)

    @property
    def supported(self) -> bool:
        return not self.notes

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "already_on_target": self.already_on_target,
            "to_copy": len(self.to_copy),
            "by_reason": dict(self.by_reason),
            "notes": list(self.notes),
        }


@frozen
class SuppressionResult:
    """What was copied and what the target's list lacks afterwards (read back)."""

    copied: int
    missing_on_target: tuple[str, ...] = field(default=(), converter=_strs)

    @property
    def equal(self) -> bool:
        return not self.missing_on_target

    def as_dict(self) -> dict[str, Any]:
        return {"copied": self.copied, "missing_on_target": list(self.missing_on_target), "equal": self.equal}


def plan_suppressions(source: Client, target: Client) -> SuppressionPlan:
    """Read both lists; nothing is written."""
    notes = [
        f"{c.provider} has no suppression list API; suppressions are not copied"
        for c in (source, target)
        if not c.limits.supports(Feature.SUPPRESSIONS)
    ]
    if notes:
        return SuppressionPlan(0, 0, (), {}, notes)
    on_target = target.suppressed_keys()
    unique: dict[str, str] = {}
    reasons: dict[str, int] = {}
    for item in source.suppressions():
        if item.key not in unique:
            unique[item.key] = item.address
            reasons[item.reason.value] = reasons.get(item.reason.value, 0) + 1
    to_copy = [a for k, a in unique.items() if k not in on_target]
    return SuppressionPlan(len(unique), len(unique) - len(to_copy), to_copy, reasons)


def copy_suppressions(source: Client, target: Client, plan: SuppressionPlan) -> SuppressionResult:
    """Suppress the planned addresses on the target, then check that every source address is there."""
    if not plan.supported:
        return SuppressionResult(0)
    if plan.to_copy:
        target.suppress(plan.to_copy)
    on_target = target.suppressed_keys()
    missing = sorted(s.address for s in source.suppressions() if s.key not in on_target)
    return SuppressionResult(len(plan.to_copy), missing)
