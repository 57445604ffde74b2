"""A person's right to know what Lotse holds on them (DSGVO Art. 15) and to its erasure (Art. 17), for admins.

Routing is the only service that holds a client's data (the directory and notify hold none: events and
notifications carry ids and codes only), sealed. A person is found by the blind index of their normalised
name and birth date (:mod:`lotse_routing.domain.subjects`); referrals stored with the name but no birth date
are found too and marked, for the admin to check that it is the same person.

What is found: every referral about the person with its consent, history and delivery reports, and every
audit entry on those referrals and consents. Searching is itself audited, per referral found.

Erasure on request takes the client's data, reason, notes and who consented out of closed referrals at once,
as the retention period would later (what the figures need stays). An open referral is not erased: it is the
processing the person consented to, ended by withdrawing the consent (which cancels it), after which it can
be erased. The audit log stays; it names staff, not the person.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Conflict, Forbidden, Invalid, invalid

from lotse_routing.domain.subjects import person_key
from lotse_routing.use_cases.audit import audit_row
from lotse_routing.use_cases.referrals import Referrals
from lotse_routing.use_cases.timestamps import iso


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    birth_date: date


@dataclass
class SubjectAccess:
    referrals: Referrals

    def _indexes(self, person: Person) -> tuple[set[str], set[str]]:
        """The blind indexes (under every configured key) of the person with their birth date, and of the name
        stored without a birth date."""
        sealer = self.referrals.sealer
        return (
            set(sealer.indexes(person_key(person.name, person.birth_date))),
            set(sealer.indexes(person_key(person.name, None))),
        )

    def report(self, actor: TokenClaims, person: Person) -> dict[str, Any]:
        """Everything routing holds about the person: referrals, consents, audit entries."""
        _admins_only(actor)
        dated, undated = self._indexes(person)
        now = self.referrals.now()
        with self.referrals.store.transaction() as session:
            rows = session.about_person(sorted(dated | undated))
            found = [
                {
                    **self.referrals.full_view(session, row, actor),
                    "matched_by": "name_and_birth_date" if row["client_index"] in dated else "name_only",
                    "erasable": row["closed_at"] is not None,
                }
                for row in rows
            ]
            consent_ids = sorted({row["consent_id"] for row in rows})
            trail = session.audit_of([row["id"] for row in rows], consent_ids)
            session.add_audit(
                [audit_row(actor, "subject_access", now, row["id"], row["consent_id"]) for row in rows]
                or [audit_row(actor, "subject_access", now)]  # a search that found nothing is on record too
            )
        consents = {view["consent"]["id"]: view["consent"] for view in found}
        return {
            "name": person.name,
            "birth_date": person.birth_date.isoformat(),
            "produced_at": iso(now),
            "produced_by": actor.subject,
            "retention_days": self.referrals.retention_days,
            "referrals": found,
            "consents": [consents[c] for c in sorted(consents)],
            "audit": [
                {
                    "at": iso(r["at"]),
                    "subject": r["subject"],
                    "role": r["role"],
                    "organization_id": r["organization_id"],
                    "action": r["action"],
                    "referral_id": r["referral_id"],
                    "consent_id": r["consent_id"],
                    "allowed": r["allowed"],
                }
                for r in trail
            ],
        }

    def erase(self, actor: TokenClaims, person: Person, referral_ids: list[str]) -> list[str]:
        """Erase the client's data of these referrals about the person, all or none: each must be about them
        (422) and closed (409: withdraw the consent first); the referrals erased."""
        _admins_only(actor)
        dated, undated = self._indexes(person)
        now = self.referrals.now()
        try:
            with self.referrals.store.transaction() as session:
                about = {row["id"]: row for row in session.about_person(sorted(dated | undated))}
                strangers = [i for i in referral_ids if i not in about]
                if strangers:
                    raise invalid("referral_ids", f"not about this person (or erased already): {', '.join(strangers)}")
                still_open = [i for i in referral_ids if about[i]["closed_at"] is None]
                if still_open:
                    raise Conflict(
                        "an open referral is erased once it is closed: withdraw the consent first, which cancels it",
                        {"open_referrals": still_open},
                    )
                session.erase(referral_ids, now)
                session.add_audit([audit_row(actor, "erase_on_request", now, i) for i in referral_ids])
        except (Conflict, Invalid):
            with self.referrals.store.transaction() as session:  # the refused attempt is on record
                session.add_audit([audit_row(actor, "erase_on_request", now, i, allowed=False) for i in referral_ids])
            raise
        return referral_ids


def _admins_only(actor: TokenClaims) -> None:
    if actor.role is not Role.ADMIN:
        raise Forbidden("a person's data is looked up and erased by admins")
