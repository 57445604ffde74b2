"""Figures for strategic coordination: referrals counted by domain, region, status and decline reason, per
month and forwarded, and the median time to acknowledgement and acceptance, for a legal domain, a region and a
period. No personal data, no referral ids."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Forbidden

from lotse_routing.adapters.ports import FigureScope, ReferralStore
from lotse_routing.use_cases.audit import audit_row

DIMENSIONS = ("legal_domain", "region_key", "status", "decline_reason")
MIN_CELL = 5
"""Counts below this are not shown (small-cell suppression): a 1 for a Gemeinde, a status and a reason can
name a family to those who know the place."""
LOCAL = ZoneInfo("Europe/Berlin")


def _hours(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return (end - start).total_seconds() / 3600


@dataclass
class Figures:
    store: ReferralStore
    min_cell: int = MIN_CELL

    def counts(self, actor: TokenClaims, scope: FigureScope | None = None) -> dict[str, Any]:
        if actor.role not in (Role.COORDINATOR, Role.ADMIN):
            raise Forbidden("figures are for coordinators")
        scope = scope or FigureScope()
        with self.store.transaction() as session:
            rows = session.counts(DIMENSIONS, scope)
            durations = session.durations(scope)
            session.add_audit([audit_row(actor, "figures", datetime.now(UTC))])
        months = Counter((d["requested_at"].astimezone(LOCAL).strftime("%Y-%m"), d["legal_domain"]) for d in durations)
        forwards = Counter(d["legal_domain"] for d in durations if d["forwarded"])
        sent = Counter(d["legal_domain"] for d in durations)
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
            "months": [
                {"month": month, "legal_domain": domain, **self._cell(n)}
                for (month, domain), n in sorted(months.items())
            ],
            "forwarded": {
                domain: {**self._cell(forwards[domain]), "of": self._cell(n)["count"]}
                for domain, n in sorted(sent.items())
            },
            "median_hours": {
                domain: self._medians(slots, sum(1 for d in durations if d["legal_domain"] == domain))
                for domain, slots in sorted(per_domain.items())
            },
        }

    def _cell(self, count: int) -> dict[str, Any]:
        """A count, or none where it is below ``min_cell`` (``suppressed``: there were fewer)."""
        if count == 0 or count >= self.min_cell:  # a zero names nobody
            return {"count": count, "suppressed": False}
        return {"count": None, "suppressed": True}

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
