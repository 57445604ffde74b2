"""Figures for strategic coordination: referrals counted by domain, region, status and decline reason, and
the median time to acknowledgement and acceptance. No personal data, no referral ids."""

from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median
from typing import Any

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Forbidden

from lotse_routing.adapters.ports import ReferralStore
from lotse_routing.use_cases.audit import audit_row

DIMENSIONS = ("legal_domain", "region_key", "status", "decline_reason")
MIN_CELL = 5
"""Counts below this are not shown (small-cell suppression): a 1 for a Gemeinde, a status and a reason can
name a family to those who know the place."""


def _hours(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return (end - start).total_seconds() / 3600


@dataclass
class Figures:
    store: ReferralStore
    min_cell: int = MIN_CELL

    def counts(self, actor: TokenClaims, legal_domain: str | None = None) -> dict[str, Any]:
        if actor.role not in (Role.COORDINATOR, Role.ADMIN):
            raise Forbidden("figures are for coordinators")
        where = {"legal_domain": legal_domain} if legal_domain else {}
        with self.store.transaction() as session:
            rows = session.counts(DIMENSIONS, where)
            durations = session.durations(where)
            session.add_audit([audit_row(actor, "figures", datetime.now(UTC))])
        per_domain: dict[str, dict[str, list[float]]] = {}
        for d in durations:
            slot = per_domain.setdefault(d["legal_domain"], {"acknowledged": [], "accepted": []})
            for what in ("acknowledged", "accepted"):
                hours = _hours(d["requested_at"], d[f"{what}_at"])
                if hours is not None:
                    slot[what].append(hours)
        return {
            "min_cell": self.min_cell,
            "counts": sorted(
                ({**{k: r[k] for k in DIMENSIONS}, **self._cell(int(r["count"]))} for r in rows),
                key=lambda r: tuple(str(r[k] or "") for k in DIMENSIONS),
            ),
            "median_hours": {
                domain: self._medians(slots, sum(1 for d in durations if d["legal_domain"] == domain))
                for domain, slots in sorted(per_domain.items())
            },
        }

    def _cell(self, count: int) -> dict[str, Any]:
        """A count, or none where it is below ``min_cell`` (``suppressed``: there were fewer)."""
        return {"count": count, "suppressed": False} if count >= self.min_cell else {"count": None, "suppressed": True}

    def _medians(self, slots: dict[str, list[float]], referrals: int) -> dict[str, Any]:
        if referrals < self.min_cell:  # a median of one or two referrals is their own time
            return {"to_acknowledged": None, "to_accepted": None, **self._referrals(referrals)}
        return {
            **{
                f"to_{what}": round(median(values), 2) if len(values) >= self.min_cell else None
                for what, values in slots.items()
            },
            **self._referrals(referrals),
        }

    def _referrals(self, count: int) -> dict[str, Any]:
        cell = self._cell(count)
        return {"referrals": cell["count"], "suppressed": cell["suppressed"]}
