"""Each plan's monthly limits: the one place they are defined (the names are in vocabulary)."""

from __future__ import annotations

from dataclasses import dataclass

from podnex.vocabulary import Plan

__all__ = ["PLAN_LIMITS", "Plan", "PlanLimits", "limits_for"]


@dataclass(frozen=True)
class PlanLimits:
    """Monthly limits. `None` means unlimited."""

    podcasts: int | None
    minutes: int | None

    @property
    def unlimited(self) -> bool:
        return self.podcasts is None and self.minutes is None


PLAN_LIMITS: dict[Plan, PlanLimits] = {
    Plan.FREE: PlanLimits(podcasts=5, minutes=25),
    Plan.STARTER: PlanLimits(podcasts=50, minutes=250),
    Plan.PRO: PlanLimits(podcasts=200, minutes=1000),
    Plan.BUSINESS: PlanLimits(podcasts=None, minutes=None),
}


def limits_for(plan: Plan | str) -> PlanLimits:
    return PLAN_LIMITS[Plan(plan)]
