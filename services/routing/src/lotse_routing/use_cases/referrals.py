"""Referrals: created with consent by case managers, carried through their lifecycle by both sides, audited.

Visibility (docs/architecture.md, Promises): case managers see the referrals their organisation sent, agencies the
ones addressed (or forwarded) to theirs, admins all; coordinators see none, only figures
(:mod:`lotse_routing.use_cases.figures`). A referral the caller may not see is "not found" to them, so
that ids reveal nothing. Every read and write, and every refused attempt, leaves an audit row.

Retention: a referral's client data (and the notes in its history, and who gave the consent once no
referral needs it) is erased ``retention_days`` after the referral closed; what figures need stays.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from lotse_contracts import (
    CONSENT_AGE,
    CancelReason,
    ConsentRole,
    DeclineReason,
    EventEnvelope,
    Informed,
    LegalDomain,
    ReferralEvent,
    ReferralStatus,
    Role,
    TokenClaims,
    age_on,
    routing_key,
)
from lotse_kit.errors import Conflict, FieldViolation, Forbidden, Invalid, NotFound, Unavailable, invalid

from lotse_routing.adapters.ports import Directory, DirectoryUnavailable, ReferralSession, ReferralStore, Sealer
from lotse_routing.domain.lifecycle import (
    Action,
    IllegalTransition,
    Side,
    Transition,
    allowed,
    cancelled_by_withdrawal,
    transition,
)
from lotse_routing.domain.subjects import person_key
from lotse_routing.domain.working_days import BERLIN, add_working_days
from lotse_routing.use_cases.audit import audit_row
from lotse_routing.use_cases.responsibility import Answer, Candidate, Question, Responsibility
from lotse_routing.use_cases.timestamps import iso

SOURCE = "lotse-routing"
S = ReferralStatus
RETENTION = TokenClaims("system:retention", Role.SERVICE, None, "Löschfrist")
"""Who erases expired data, in the audit log."""


class ConsentForm(StrEnum):
    WRITTEN = "written"
    VERBAL_DOCUMENTED = "verbal_documented"
    ELECTRONIC = "electronic"


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


DATA_CATEGORIES = ("name", "birth_date", "contact", "reason")
"""What a consent can cover; every piece of the client's data given must be covered."""

_CATEGORY = {"name": "name", "birth_date": "birth_date", "phone": "contact", "email": "contact", "address": "contact"}


@dataclass(frozen=True, slots=True)
class ClientData:
    name: str
    birth_date: date | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None

    def given(self) -> dict[str, str]:
        values = {
            "name": self.name,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "phone": self.phone,
            "email": self.email,
            "address": self.address,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    given_by: str
    """Who consented: the client, or who may consent for them."""
    given_at: datetime
    form: ConsentForm
    recipient_organization_id: str
    data_categories: tuple[str, ...]
    onward_transfer: bool = False
    """The client agreed that the recipient may pass the referral, with these data, to the body competent
    instead (SGB I § 16). Without it a forward waits for a consent naming the new recipient."""
    given_by_role: ConsentRole = ConsentRole.CLIENT
    informed_of: tuple[str, ...] = ()
    """What the client was told before consenting (:class:`~lotse_contracts.Informed`: all of it is needed)."""


@dataclass(frozen=True, slots=True)
class NewReferral:
    question: Question
    client: ClientData
    consent: ConsentRecord | None
    reason: str
    urgency: Urgency = Urgency.NORMAL
    recipient_organization_id: str | None = None
    """Where the answer is ambiguous: which of the candidates the case manager chose."""
    draft: bool = False
    service_id: str | None = None
    """An offer of the directory the case manager chose: its organisation receives the referral (no
    jurisdiction decides it), the client's place counts for the figures only."""


@dataclass(frozen=True, slots=True)
class Step:
    """One action on a referral with what it needs: a coded reason, a note, an outcome, a new recipient."""

    action: Action
    reason_code: str | None = None
    note: str | None = None
    to_organization_id: str | None = None


@dataclass
class Referrals:
    store: ReferralStore
    responsibility: Responsibility
    directory: Directory
    sealer: Sealer
    is_holiday: Callable[[date], bool]
    acknowledge_within_days: int = 3
    retention_days: int = 365
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    # -- creating ---------------------------------------------------------------------------------------

    def create(self, actor: TokenClaims, new: NewReferral) -> dict[str, Any]:
        now = self.now()
        consent_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
        row: dict[str, Any] = {
            "id": referral_id,
            "consent_id": consent_id,
            **self._decided(actor, new),
            "status": S.DRAFT.value,
            "sender_organization_id": actor.organization_id,
            "sender_subject": actor.subject,
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }
        assert new.consent is not None  # checked by _decided
        consent_row = self._consent_row(consent_id, actor, new.consent, now)
        with self.store.transaction() as session:
            session.add_consent(consent_row)
            if new.draft:
                session.add_referral(row)
                history = [self._history(session, referral_id, actor, Side.SENDER, "create", None, S.DRAFT, now)]
            else:  # written submitted: one statement where an insert and an update would be two
                step, values = self._submission(row, Side.SENDER, now)
                row = _changed(row, values)
                session.add_referral(row)
                history = [
                    self._history(session, referral_id, actor, Side.SENDER, "create", None, S.DRAFT, now),
                    self._submitted(session, row, actor, Side.SENDER, step, now),
                ]
            session.add_audit([audit_row(actor, "create", now, referral_id, consent_id)])
        # what was written is the whole referral: no notification can be recorded before its event is out
        return self._view(row, actor, {**consent_row, "withdrawn_at": None}, history, [])

    def revise(self, actor: TokenClaims, referral_id: str, new: NewReferral, revision: int) -> dict[str, Any]:
        """A draft written anew by its sender (as creating it: the recipient decided again, the consent checked
        again and recorded anew), read at ``revision``; submitted at once unless ``new.draft``. A forwarded
        draft keeps what was forwarded (it only takes a consent)."""
        now = self.now()
        row = self._senders(actor, referral_id, "revise", now)
        if row["status"] != S.DRAFT.value or row.get("parent_id"):
            raise Conflict("only a draft its sender wrote can be changed", {"status": row["status"]})
        if row["revision"] != revision:
            raise Conflict("the draft was changed meanwhile; read it again", {"revision": row["revision"]})
        values = self._decided(actor, new)
        assert new.consent is not None  # checked by _decided
        consent_id = str(uuid.uuid4())
        values |= {"consent_id": consent_id, "updated_at": now}
        with self.store.transaction() as session:
            session.add_consent(self._consent_row(consent_id, actor, new.consent, now))
            if not session.update_referral(referral_id, revision, values):
                raise Conflict("the draft was changed meanwhile; read it again")
            row = _changed(row, values)
            self._history(session, referral_id, actor, Side.SENDER, "revise", S.DRAFT, S.DRAFT, now)
            if not new.draft:
                row, _ = self._submit(session, row, actor, now)
            session.add_audit([audit_row(actor, "revise", now, referral_id, consent_id)])
        return self._read_view(row, actor)

    def _senders(self, actor: TokenClaims, referral_id: str, action: str, now: datetime) -> dict[str, Any]:
        """The referral, read for a change only its sender's case managers make; for anyone else it does not
        exist (404, the attempt audited)."""
        with self.store.reading() as reading:
            row = reading.referral(referral_id)
        if row is None or actor.role is not Role.CASE_MANAGER or _side(actor, row) is not Side.SENDER:
            with self.store.transaction() as session:
                session.add_audit([audit_row(actor, action, now, referral_id, allowed=False)])
            raise NotFound("referral", referral_id)
        return row

    def _decided(self, actor: TokenClaims, new: NewReferral) -> dict[str, Any]:
        """What a referral's row takes from what the case manager wrote: who is responsible (decided now), the
        place, and the client's data sealed; the consent checked to name that recipient and cover the data."""
        if actor.role is not Role.CASE_MANAGER or not actor.organization_id:
            raise Forbidden("only case managers of an organisation create referrals")
        if new.consent is None:
            raise invalid("consent", "is required: a referral needs the client's documented consent (SGB X § 67b)")
        _check_birth_date(new.client.birth_date, self.now())
        if new.service_id:
            return self._to_offer(new)
        answer = self.responsibility.ask(new.question)
        chosen = _chosen(answer, new.recipient_organization_id)
        needed = {_CATEGORY[k] for k in new.client.given()} | ({"reason"} if new.reason else set())
        self._check_consent(new.consent, chosen.match.jurisdiction.authority_id, needed, new.client.birth_date)
        recipient = chosen.match.jurisdiction.authority_id
        decision = answer.record()
        if answer.outcome == "ambiguous":
            decision["chosen_by_case_manager"] = True
            decision["explanation"] += f" Gewählt: {chosen.authority.name if chosen.authority else recipient}."
        return {
            "legal_domain": new.question.legal_domain.value,
            "region_key": chosen.match.place.region_key,
            "postal_code": chosen.match.place.postal_code,
            "place_name": chosen.match.place.name,
            "residence_of": new.question.residence_of.value,
            "topic": None,  # free text that could name the client: sealed with the client's data
            "language": new.question.language,
            "urgency": new.urgency.value,
            "recipient_organization_id": recipient,
            "recipient_name": chosen.authority.name if chosen.authority else recipient,
            "decision": decision,
            "explanation": decision["explanation"],
            **self._sealed_client(new),
        }

    def _to_offer(self, new: NewReferral) -> dict[str, Any]:
        """A referral to an offer the case manager chose: its organisation receives it."""
        assert new.service_id is not None and new.consent is not None
        offer = self.directory.offer(new.service_id)
        if offer is None:
            raise invalid("service_id", "is no public offer of the directory")
        domain = new.question.legal_domain.value
        if offer.legal_domains and domain not in offer.legal_domains:
            raise invalid("legal_domain", f"the offer serves {', '.join(offer.legal_domains)}, not {domain}")
        found = self.directory.places(new.question.location)
        if not found:
            raise invalid("location", "is no place the gazetteer knows")
        place = max(found, key=lambda f: f.place.weight).place
        needed = {_CATEGORY[k] for k in new.client.given()} | ({"reason"} if new.reason else set())
        self._check_consent(new.consent, offer.organization_id, needed, new.client.birth_date)
        provider = self.directory.authority(offer.organization_id)
        name = provider.name if provider else offer.organization_id
        explanation = f"Angebot „{offer.name}“ von {name}, im Verzeichnis gewählt (keine Zuständigkeitsregel)."
        return {
            "legal_domain": domain,
            "region_key": place.region_key,
            "postal_code": place.postal_code,
            "place_name": place.name,
            "residence_of": new.question.residence_of.value,
            "topic": None,
            "language": new.question.language,
            "urgency": new.urgency.value,
            "recipient_organization_id": offer.organization_id,
            "recipient_name": name,
            "decision": {
                "outcome": "offer",
                "service_id": offer.id,
                "service_name": offer.name,
                "explanation": explanation,
            },
            "explanation": explanation,
            **self._sealed_client(new),
        }

    def _sealed_client(self, new: NewReferral) -> dict[str, Any]:
        """The client's data, the reason and the topic sealed, and the blind index to find the person by."""
        return {
            "sealed": self.sealer.seal(
                {"client": new.client.given(), "reason": new.reason, "topic": new.question.topic}
            ),
            "sealed_with": self.sealer.current,
            "client_index": self.sealer.index(person_key(new.client.name, new.client.birth_date)),
        }

    def _check_consent(self, c: ConsentRecord, recipient: str, needed: set[str], born: date | None) -> None:
        """The consent names the recipient and covers every kind of data given; the client was told what
        SGB X § 67b Abs. 2 asks, and a client under 15 did not consent alone (§ 36 SGB I)."""
        problems = []
        untold = [item.value for item in Informed if item.value not in c.informed_of]
        if untold:
            problems.append(
                (
                    "consent.informed_of",
                    "the client must be told the purpose, the consequences of refusing and how to withdraw "
                    f"(SGB X § 67b Abs. 2); missing: {', '.join(untold)}",
                )
            )
        consented_on = c.given_at.astimezone(BERLIN).date()
        if c.given_by_role is ConsentRole.CLIENT and born is not None and age_on(born, consented_on) < CONSENT_AGE:
            problems.append(
                (
                    "consent.given_by_role",
                    f"a client under {CONSENT_AGE} does not consent alone: the person with custody or a legal "
                    "representative does (§ 36 SGB I)",
                )
            )
        if c.recipient_organization_id != recipient:
            problems.append(("consent.recipient_organization_id", f"names another recipient than {recipient}"))
        unknown = sorted(set(c.data_categories) - set(DATA_CATEGORIES))
        if unknown:
            problems.append(("consent.data_categories", f"unknown: {', '.join(unknown)}"))
        missing = sorted(needed - set(c.data_categories))
        if missing:
            problems.append(("consent.data_categories", f"the consent does not cover: {', '.join(missing)}"))
        if c.given_at > self.now() + timedelta(minutes=5):
            problems.append(("consent.given_at", "lies in the future"))
        if problems:
            raise Invalid([FieldViolation(f, r) for f, r in problems])

    def _consent_row(self, ident: str, actor: TokenClaims, c: ConsentRecord, now: datetime) -> dict[str, Any]:
        return {
            "id": ident,
            "organization_id": actor.organization_id,
            "recorded_by": actor.subject,
            "given_at": c.given_at,
            "form": c.form.value,
            "recipient_organization_id": c.recipient_organization_id,
            "data_categories": list(c.data_categories),
            "onward_transfer": c.onward_transfer,
            "given_by_role": c.given_by_role.value,
            "informed_of": list(c.informed_of),
            "sealed": self.sealer.seal({"given_by": c.given_by}),
            "sealed_with": self.sealer.current,
            "created_at": now,
        }

    def record_consent(self, actor: TokenClaims, referral_id: str, c: ConsentRecord) -> dict[str, Any]:
        """A consent for a draft's recipient: a forward the first consent did not cover waits for it."""
        self._refuse_role(actor, "record_consent", referral_id)
        now = self.now()
        row = self._senders(actor, referral_id, "record_consent", now)
        if row["status"] != S.DRAFT.value:
            raise Conflict("a consent is recorded for a draft only", {"status": row["status"]})
        sealed = self.sealer.open(row["sealed"]) if row["sealed"] else {}
        assert isinstance(sealed, dict)
        given = sealed.get("client") or {}
        needed = {_CATEGORY[k] for k in given} | ({"reason"} if sealed.get("reason") else set())
        born = date.fromisoformat(given["birth_date"]) if given.get("birth_date") else None
        self._check_consent(c, row["recipient_organization_id"], needed, born)
        consent_id = str(uuid.uuid4())
        with self.store.transaction() as session:
            session.add_consent(self._consent_row(consent_id, actor, c, now))
            if not session.update_referral(row["id"], row["revision"], {"consent_id": consent_id, "updated_at": now}):
                raise Conflict("the referral was changed meanwhile; read it again")
            row = _changed(row, {"consent_id": consent_id, "updated_at": now})
            self._history(session, referral_id, actor, Side.SENDER, "record_consent", S.DRAFT, S.DRAFT, now)
            session.add_audit([audit_row(actor, "record_consent", now, referral_id, consent_id)])
        return self._read_view(row, actor)

    def _submit(
        self, session: ReferralSession, row: dict[str, Any], actor: TokenClaims, now: datetime, side: Side = Side.SENDER
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Submit a stored referral; its row and its history entry after it. Its consent must name its
        recipient (a forwarded draft's first consent names another) and must not have been withdrawn."""
        consent = session.consent(row["consent_id"])
        if row["status"] == S.DRAFT.value and (
            consent is None
            or consent["recipient_organization_id"] != row["recipient_organization_id"]
            or consent["withdrawn_at"] is not None
        ):
            raise invalid(
                "consent",
                f"record the client's consent for {row['recipient_name']} first "
                f"(POST /api/v1/referrals/{row['id']}/consent)",
            )
        step, values = self._submission(row, side, now)
        if not session.update_referral(row["id"], row["revision"], values):
            raise Conflict("the referral was changed meanwhile; read it again")
        row = _changed(row, values)
        return row, self._submitted(session, row, actor, side, step, now)

    @staticmethod
    def _submission(row: dict[str, Any], side: Side, now: datetime) -> tuple[Transition, dict[str, Any]]:
        """The submit step a draft takes and the values it changes."""
        step = transition(S(row["status"]), Action.SUBMIT, side)
        first = row.get("first_received_on") or now.astimezone(BERLIN).date()
        return step, {"status": step.after.value, "requested_at": now, "first_received_on": first, "updated_at": now}

    def _submitted(
        self,
        session: ReferralSession,
        row: dict[str, Any],
        actor: TokenClaims,
        side: Side,
        step: Transition,
        now: datetime,
    ) -> dict[str, Any]:
        """What a submission writes besides the row: its history entry (returned), the reminder to acknowledge
        the referral and its event."""
        entry = self._history(session, row["id"], actor, side, Action.SUBMIT.value, step.before, step.after, now)
        due = add_working_days(now, self.acknowledge_within_days, self.is_holiday)
        session.set_reminder(row["id"], "acknowledge", due)
        session.add_event(*_event(row, ReferralEvent.REQUESTED, step.before))
        return entry

    # -- reading ----------------------------------------------------------------------------------------

    def _refuse_role(self, actor: TokenClaims, action: str, referral_id: str) -> None:
        """Coordinators, maintainers and services handle no referrals at all: 403, audited."""
        if actor.role in (Role.CASE_MANAGER, Role.AGENCY, Role.ADMIN):
            return
        with self.store.transaction() as session:
            session.add_audit([audit_row(actor, action, self.now(), referral_id, allowed=False)])
        raise Forbidden(f"role {actor.role.value} sees no referrals (coordinators see figures only)")

    def get(self, actor: TokenClaims, referral_id: str) -> dict[str, Any]:
        self._refuse_role(actor, "read", referral_id)
        with self.store.reading() as session:
            row = session.referral(referral_id)
            visible = row is not None and _side(actor, row) is not None
            view = self.full_view(session, row, actor) if row is not None and visible else None
        with self.store.transaction() as writing:  # the read is audited before its answer leaves
            writing.add_audit([audit_row(actor, "read", self.now(), referral_id, allowed=visible)])
        if view is None:
            raise NotFound("referral", referral_id)
        return view

    def page(
        self,
        actor: TokenClaims,
        status: ReferralStatus | None,
        page: int,
        per_page: int,
        sort: str = "changed",
        overdue: bool = False,
    ) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
        """The caller's referrals: sent by their organisation (case managers) or addressed to it (agencies),
        ``overdue`` only those whose acknowledgement is overdue; and how many of them are in each status and
        overdue (whatever ``status`` and ``overdue`` select)."""
        where: dict[str, Any] = {}
        drafts = False
        if actor.role is Role.CASE_MANAGER and actor.organization_id:
            where["sender_organization_id"] = actor.organization_id
            drafts = True
        elif actor.role is Role.AGENCY and actor.organization_id:
            where["recipient_organization_id"] = actor.organization_id
        elif actor.role is not Role.ADMIN:
            raise Forbidden(f"role {actor.role.value} sees no referrals (coordinators see figures only)")
        hidden = () if drafts else (S.DRAFT.value,)
        now = self.now()
        with self.store.transaction() as session:
            counts = session.status_counts(where, hidden, overdue_at=now)
            if status is not None:
                where["status"] = status.value
            rows, total = session.page(where, page, per_page, hidden, sort, now if overdue else None)
            session.add_audit([audit_row(actor, "list", now, r["id"]) for r in rows])
            found = []
            for r in rows:
                due = r.get("acknowledge_by")  # only while the referral waits for its acknowledgement
                overdue = due is not None and due <= now
                found.append({**self._summary(r, actor), "acknowledge_by": iso(due), "overdue": overdue})
            return found, total, counts

    # -- acting -----------------------------------------------------------------------------------------

    def act(self, actor: TokenClaims, referral_id: str, step: Step) -> dict[str, Any]:
        audit = f"action:{step.action.value}"
        self._refuse_role(actor, audit, referral_id)
        _check_step(step)
        target = self._forward_target(actor, referral_id, step) if step.action is Action.FORWARD else None
        try:
            with self.store.transaction() as session:
                row = session.referral(referral_id, for_update=True)
                side = _side(actor, row, step.action) if row else None
                done = self._act(session, actor, row, side, step, target) if row and side else None
                if done is None:
                    session.add_audit([audit_row(actor, audit, self.now(), referral_id, allowed=False)])
        except (Conflict, Invalid):
            with self.store.transaction() as session:  # the refused attempt is audited; its change is not made
                session.add_audit([audit_row(actor, audit, self.now(), referral_id, allowed=False)])
            raise
        if done is None:
            raise NotFound("referral", referral_id)
        return self._read_view(done, actor)

    def _read_view(self, row: dict[str, Any], actor: TokenClaims) -> dict[str, Any]:
        """The referral as the caller sees it, read after the change committed (outside the write lock)."""
        with self.store.reading() as session:
            return self.full_view(session, row, actor)

    def full_view(self, session: ReferralSession, row: dict[str, Any], actor: TokenClaims) -> dict[str, Any]:
        """The referral in full as ``actor`` sees it, read in ``session``."""
        consent = session.consent(row["consent_id"])
        assert consent is not None
        return self._view(row, actor, consent, session.history(row["id"]), session.reports(row["id"]))

    def _act(
        self,
        session: ReferralSession,
        actor: TokenClaims,
        row: dict[str, Any],
        side: Side,
        step: Step,
        target: tuple[str, str] | None,
    ) -> dict[str, Any]:
        """Take the step; the referral's row after it."""
        referral_id = row["id"]
        now = self.now()
        try:
            if step.action is Action.SUBMIT:
                row, _ = self._submit(session, row, actor, now)
            else:
                row = self._apply(session, row, actor, side, step, now, target)
        except IllegalTransition as refused:
            raise Conflict(
                str(refused),
                {"status": refused.status.value, "allowed_actions": [a.value for a in refused.allowed]},
            ) from None
        session.add_audit([audit_row(actor, f"action:{step.action.value}", now, referral_id)])
        return row

    def _forward_target(self, actor: TokenClaims, referral_id: str, step: Step) -> tuple[str, str] | None:
        """The body to forward to: one competent in the referral's legal domain (SGB I § 16: passing the
        matter to the competent body), not a charity, not a body of another domain, not the sender. None if
        the caller may not see the referral."""
        assert step.to_organization_id is not None
        with self.store.reading() as session:
            row = session.referral(referral_id)
        if row is None or _side(actor, row, step.action) is None:
            return None
        domain = LegalDomain(row["legal_domain"])
        try:
            authority = self.directory.authority(step.to_organization_id)
            competent = authority is not None and self.directory.holds_jurisdiction(domain, authority.id)
        except DirectoryUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        if authority is None:
            raise invalid("to_organization_id", "is no organisation in the directory")
        if not competent:
            raise invalid(
                "to_organization_id",
                f"{authority.name} is responsible nowhere for {domain.value}: forward only to a body competent "
                "for the referral's legal domain (GET /api/v1/responsible names it)",
            )
        return authority.id, authority.name

    def _apply(
        self,
        session: ReferralSession,
        row: dict[str, Any],
        actor: TokenClaims,
        side: Side,
        step: Step,
        now: datetime,
        target: tuple[str, str] | None,
    ) -> dict[str, Any]:
        before = S(row["status"])
        held = S(row["held_from"]) if row.get("held_from") else None
        change = transition(before, step.action, side, held)
        if step.action is Action.FORWARD:
            assert target is not None
            if target[0] == row["recipient_organization_id"]:
                raise invalid("to_organization_id", "is the referral's recipient already")
        values: dict[str, Any] = {"status": change.after.value, "held_from": change.held_from, "updated_at": now}
        if step.action in (Action.ACKNOWLEDGE, Action.ACCEPT, Action.DECLINE, Action.FORWARD) and not row.get(
            "acknowledged_at"
        ):
            values["acknowledged_at"] = now  # acting on it shows it arrived
        if step.action is Action.ACCEPT:
            values["accepted_at"] = now
        if step.action is Action.DECLINE:
            values["decline_reason"] = step.reason_code
        if change.after in (S.DECLINED, S.FORWARDED, S.COMPLETED, S.FAILED, S.CANCELLED, S.ENTERED_IN_ERROR):
            values["closed_at"] = now
        child: dict[str, Any] | None = None
        child_step: Transition | None = None
        if step.action is Action.FORWARD:
            assert target is not None
            consent = session.consent(row["consent_id"])
            onward = bool(consent and consent["onward_transfer"] and consent["withdrawn_at"] is None)
            child = self._child(row, target, now, onward)
            if onward:  # submitted at once; else a draft until the sender records a consent for the new body
                child_step, child_values = self._submission(child, Side.SYSTEM, now)
                child = _changed(child, child_values)
            session.add_referral(child)  # before the parent names it
            values["forwarded_to_id"] = child["id"]
        if not session.update_referral(row["id"], row["revision"], values):
            raise Conflict("the referral was changed meanwhile; read it again")
        row = _changed(row, values)
        self._history(
            session, row["id"], actor, side, step.action.value, before, change.after, now, step.reason_code, step.note
        )
        if "acknowledged_at" in values or "closed_at" in values:
            session.close_reminders(row["id"], now)  # the reminder asks for a sign of life only
        event = _EVENT_OF.get(step.action)
        if event is not None:
            session.add_event(*_event(row, event, before, step.reason_code))
        if child is not None:
            self._history(session, child["id"], actor, side, "forwarded_from", None, S.DRAFT, now)
            if child_step is not None:
                self._submitted(session, child, actor, Side.SYSTEM, child_step, now)
        return row

    def _child(self, parent: dict[str, Any], target: tuple[str, str], now: datetime, onward: bool) -> dict[str, Any]:
        explanation = (
            f"Weitergeleitet von {parent['recipient_name']} an {target[1]} (§ 16 SGB I); "
            f"zuerst eingegangen am {parent['first_received_on'].isoformat()}."
        )
        if not onward:
            explanation += (
                f" Die Einwilligung deckt keine Weitergabe: Die Vermittlung wartet, bis die Einwilligung für "
                f"{target[1]} erfasst ist."
            )
        return {
            **{k: parent[k] for k in _COPIED},
            "id": str(uuid.uuid4()),
            "parent_id": parent["id"],
            "status": S.DRAFT.value,
            "recipient_organization_id": target[0],
            "recipient_name": target[1],
            "decision": {"outcome": "forwarded", "from_referral_id": parent["id"], "explanation": explanation},
            "explanation": explanation,
            "sealed": self.sealer.reseal(parent["sealed"]),
            "sealed_with": self.sealer.current,
            "client_index": parent["client_index"],
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }

    # -- consent ----------------------------------------------------------------------------------------

    def withdraw_consent(self, actor: TokenClaims, consent_id: str) -> list[str]:
        """The client withdrew consent: record it and cancel every draft and open referral resting on it."""
        with self.store.transaction() as session:
            found = session.consent(consent_id, for_update=True)
            mine = found is not None and (
                actor.role is Role.ADMIN
                or (actor.role is Role.CASE_MANAGER and actor.organization_id == found["organization_id"])
            )
            if found is not None and mine:
                return self._withdraw(session, actor, found)
            session.add_audit([audit_row(actor, "withdraw_consent", self.now(), None, consent_id, allowed=False)])
        raise NotFound("consent", consent_id)

    def _withdraw(self, session: ReferralSession, actor: TokenClaims, found: dict[str, Any]) -> list[str]:
        consent_id = found["id"]
        if found["withdrawn_at"] is not None:
            raise Conflict("the consent was withdrawn already", {"withdrawn_at": found["withdrawn_at"].isoformat()})
        now = self.now()
        session.update_consent(consent_id, {"withdrawn_at": now, "withdrawn_by": actor.subject})
        rows = session.referrals_of_consent(consent_id)
        cancelled = set(cancelled_by_withdrawal((r["id"], S(r["status"])) for r in rows))
        step = Step(Action.CANCEL, CancelReason.CONSENT_WITHDRAWN.value)
        for row in rows:
            if row["id"] in cancelled:
                self._apply(session, row, actor, Side.SYSTEM, step, now, None)
        session.add_audit(
            [audit_row(actor, "withdraw_consent", now, r["id"], consent_id) for r in rows]
            or [audit_row(actor, "withdraw_consent", now, None, consent_id)]
        )
        return sorted(cancelled)

    # -- timers -----------------------------------------------------------------------------------------

    def sweep_reminders(self, limit: int = 500) -> int:
        """Emit ``referral.reminder_due`` for every referral not acknowledged by its due time; return how many."""
        now = self.now()
        with self.store.transaction() as session:
            due = session.due_reminders(now, limit)
            for reminder in due:
                row = session.referral(reminder["referral_id"])
                if row is not None and row["status"] == S.REQUESTED.value:
                    session.add_event(*_event(row, ReferralEvent.REMINDER_DUE, S.REQUESTED, due_at=reminder["due_at"]))
                session.fire_reminder(reminder["referral_id"], reminder["kind"], now)
            return len(due)

    def seal_plain_topics(self, limit: int = 500) -> int:
        """Seal up to ``limit`` topics stored in the clear before topics were sealed (at ``db upgrade``);
        return how many (0: none is left)."""
        with self.store.transaction() as session:
            found = session.plain_topics(limit)
            for referral_id, topic, sealed in found:
                held = self.sealer.open(sealed) if sealed else {}
                assert isinstance(held, dict)
                session.seal_topic(referral_id, self.sealer.seal({**held, "topic": topic}), self.sealer.current)
            return len(found)

    def erase_expired(self, limit: int = 500) -> int:
        """Erase the client data of up to ``limit`` referrals closed more than ``retention_days`` ago;
        return how many (0: none is due)."""
        now = self.now()
        with self.store.transaction() as session:
            due = session.expired(now - timedelta(days=self.retention_days), limit)
            if due:
                session.erase(due, now)
                session.add_audit([audit_row(RETENTION, "erase", now, referral_id) for referral_id in due])
            return len(due)

    # -- keys -------------------------------------------------------------------------------------------

    def sealed_with_older_keys(self) -> int:
        """How many stored values are sealed with another key than the newest (what ``reseal`` will do)."""
        with self.store.transaction() as session:
            return session.count_sealed_with_other_key(self.sealer.current)

    def reseal(self, batch: int = 500) -> int:
        """Re-encrypt up to ``batch`` stored values with the newest key; return how many (0: all done)."""
        with self.store.transaction() as session:
            found = session.sealed_with_other_key(self.sealer.current, batch)
            for table, key, sealed in found:
                index = self._client_index(sealed) if table == "referral" else None
                session.reseal(table, key, self.sealer.reseal(sealed), self.sealer.current, index)
            return len(found)

    def index_clients(self, batch: int = 500) -> int:
        """Give up to ``batch`` referrals stored before the blind index theirs (at ``db upgrade``); return how
        many (0: none is left)."""
        with self.store.transaction() as session:
            found = session.unindexed(batch)
            for referral_id, sealed in found:
                session.set_client_index(referral_id, self._client_index(sealed))
            return len(found)

    def _client_index(self, sealed: str) -> str:
        """The blind index, under the newest key, of the person a sealed referral is about."""
        client = self._opened(sealed).get("client") or {}
        born = date.fromisoformat(client["birth_date"]) if client.get("birth_date") else None
        return self.sealer.index(person_key(str(client.get("name") or ""), born))

    # -- shaping ----------------------------------------------------------------------------------------

    def _history(
        self,
        session: ReferralSession,
        referral_id: str,
        actor: TokenClaims,
        side: Side,
        action: str,
        before: S | None,
        after: S,
        at: datetime,
        reason_code: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Write a history entry; the entry."""
        entry = {
            "referral_id": referral_id,
            "at": at,
            "action": action,
            "status_before": before.value if before else None,
            "status_after": after.value,
            "side": side.value,
            "actor_subject": actor.subject,
            "actor_role": actor.role.value,
            "actor_organization_id": actor.organization_id,
            "reason_code": reason_code,
            "sealed": self.sealer.seal({"note": note}) if note else None,
            "sealed_with": self.sealer.current if note else None,
        }
        session.add_history(entry)
        return entry

    def _summary(self, row: dict[str, Any], actor: TokenClaims, opened: dict[str, Any] | None = None) -> dict[str, Any]:
        side = _side(actor, row)
        return {
            "id": row["id"],
            "status": row["status"],
            "legal_domain": row["legal_domain"],
            "region_key": row["region_key"],
            "place_name": row["place_name"],
            "topic": (self._opened(row["sealed"]) if opened is None else opened).get("topic") or row["topic"],
            "urgency": row["urgency"],
            "sender_organization_id": row["sender_organization_id"],
            "recipient_organization_id": row["recipient_organization_id"],
            "recipient_name": row["recipient_name"],
            "parent_id": row.get("parent_id"),
            "forwarded_to_id": row.get("forwarded_to_id"),
            "first_received_on": iso(row.get("first_received_on")),
            "requested_at": iso(row.get("requested_at")),
            "updated_at": iso(row["updated_at"]),
            "revision": row["revision"],
            "allowed_actions": [a.value for a in allowed(S(row["status"]), side)] if side else [],
        }

    def _opened(self, sealed: str | None) -> dict[str, Any]:
        """What was sealed; nothing if nothing was, or it was erased."""
        opened = self.sealer.open(sealed) if sealed else {}
        assert isinstance(opened, dict)
        return opened

    def _view(
        self,
        row: dict[str, Any],
        actor: TokenClaims,
        consent: dict[str, Any],
        history: list[dict[str, Any]],
        reports: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The referral in full as ``actor`` sees it, with its consent, history and delivery reports."""
        sealed = self._opened(row["sealed"])
        given_by = self._opened(consent["sealed"])
        entries = []
        for h in history:
            note = self._opened(h["sealed"])
            entries.append(
                {
                    "at": iso(h["at"]),
                    "action": h["action"],
                    "status_before": h["status_before"],
                    "status_after": h["status_after"],
                    "side": h["side"],
                    "by": {
                        "subject": h["actor_subject"],
                        "role": h["actor_role"],
                        "organization_id": h["actor_organization_id"],
                    },
                    "reason_code": h["reason_code"],
                    "reason_label": _label(h["reason_code"]),
                    "note": note.get("note"),
                }
            )
        return {
            **self._summary(row, actor, sealed),
            "postal_code": row["postal_code"],
            "residence_of": row["residence_of"],
            "language": row["language"],
            "decision": row["decision"],
            "explanation": row["explanation"],
            "decline_reason": row.get("decline_reason"),
            "acknowledged_at": iso(row.get("acknowledged_at")),
            "accepted_at": iso(row.get("accepted_at")),
            "closed_at": iso(row.get("closed_at")),
            "erased_at": iso(row.get("erased_at")),
            "client": sealed.get("client"),
            "reason": sealed.get("reason"),
            "consent": {
                "id": consent["id"],
                "given_by": given_by.get("given_by"),
                "given_at": iso(consent["given_at"]),
                "form": consent["form"],
                "recipient_organization_id": consent["recipient_organization_id"],
                "data_categories": consent["data_categories"],
                "onward_transfer": bool(consent["onward_transfer"]),
                "given_by_role": consent.get("given_by_role"),
                "informed_of": consent.get("informed_of"),
                "withdrawn_at": iso(consent["withdrawn_at"]),
            },
            "history": entries,
            "notifications": [
                {
                    "organization_id": n["organization_id"],
                    "side": n["side"],
                    "channel": n["channel_kind"],
                    "about": n["referral_event"],
                    "outcome": n["outcome"],
                    "attempts": n["attempts"],
                    "at": iso(n["at"]),
                }
                for n in reports
            ],
        }


_COPIED = (
    "consent_id",
    "legal_domain",
    "region_key",
    "postal_code",
    "place_name",
    "residence_of",
    "topic",
    "language",
    "urgency",
    "sender_organization_id",
    "sender_subject",
    "first_received_on",
)

_EVENT_OF = {
    Action.ACKNOWLEDGE: ReferralEvent.ACKNOWLEDGED,
    Action.ACCEPT: ReferralEvent.ACCEPTED,
    Action.START: ReferralEvent.IN_PROGRESS,
    Action.DECLINE: ReferralEvent.DECLINED,
    Action.FORWARD: ReferralEvent.FORWARDED,
    Action.HOLD: ReferralEvent.ON_HOLD,
    Action.RESUME: ReferralEvent.RESUMED,
    Action.COMPLETE: ReferralEvent.COMPLETED,
    Action.FAIL: ReferralEvent.FAILED,
    Action.CANCEL: ReferralEvent.CANCELLED,
    Action.ENTERED_IN_ERROR: ReferralEvent.ENTERED_IN_ERROR,
}

_SENDER_ACTIONS = (Action.SUBMIT, Action.CANCEL, Action.ENTERED_IN_ERROR)


def _side(actor: TokenClaims, row: dict[str, Any], action: Action | None = None) -> Side | None:
    """The side the caller acts on for this referral, or None if they may not see it. A draft exists only
    for its sender until it is submitted: not for the recipient, not for admins."""
    if actor.role is Role.CASE_MANAGER and row["sender_organization_id"] == actor.organization_id:
        return Side.SENDER if actor.organization_id else None
    if row["status"] == S.DRAFT.value:
        return None
    if actor.role is Role.ADMIN:
        return Side.SENDER if action in _SENDER_ACTIONS else Side.RECIPIENT
    recipient = row["recipient_organization_id"]
    if actor.role is Role.AGENCY and actor.organization_id and recipient == actor.organization_id:
        return Side.RECIPIENT
    return None


def _check_birth_date(born: date | None, now: datetime) -> None:
    if born is None:
        return
    if born > now.astimezone(BERLIN).date():
        raise invalid("client.birth_date", "lies in the future")
    if born < date(1900, 1, 1):
        raise invalid("client.birth_date", "lies before 1900")


def _chosen(answer: Answer, wanted: str | None) -> Candidate:
    if answer.outcome == "no_jurisdiction":
        raise invalid("location", answer.explanation())
    if wanted is None:
        # ambiguous with one candidate too: part of the place may have no authority in the directory at all
        if answer.outcome == "ambiguous":
            ids = ", ".join(c.match.jurisdiction.authority_id for c in answer.candidates)
            raise invalid("recipient_organization_id", f"{answer.explanation()} Choose one of: {ids}")
        return answer.candidates[0]
    for candidate in answer.candidates:
        if candidate.match.jurisdiction.authority_id == wanted:
            return candidate
    raise invalid("recipient_organization_id", f"is not responsible here: {answer.explanation()}")


def _check_step(step: Step) -> None:
    if step.action is Action.DECLINE:
        if step.reason_code not in DeclineReason._value2member_map_:
            raise invalid("reason_code", f"a decline needs one of: {', '.join(r.value for r in DeclineReason)}")
        if step.reason_code == DeclineReason.SONSTIGES and not step.note:
            raise invalid("note", "'sonstiges' needs a text saying why")
    elif step.action is Action.CANCEL:
        choices = [r.value for r in CancelReason if r is not CancelReason.CONSENT_WITHDRAWN]
        if step.reason_code not in choices:
            raise invalid("reason_code", f"a cancellation needs one of: {', '.join(choices)} (consent: withdraw it)")
    elif step.action is Action.FORWARD:
        if not step.to_organization_id:
            raise invalid("to_organization_id", "forwarding needs the organisation to forward to")
    elif step.action in (Action.COMPLETE, Action.FAIL):
        if not step.note:
            raise invalid("note", f"{step.action.value} needs the outcome")
    elif step.reason_code is not None:
        raise invalid("reason_code", f"{step.action.value} takes no reason code")


def _changed(row: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A referral's row after a change of ``values``, at its next revision."""
    return {**row, **values, "revision": row["revision"] + 1}


def _event(
    row: dict[str, Any],
    event: ReferralEvent,
    previous: S | None,
    reason_code: str | None = None,
    due_at: datetime | None = None,
) -> tuple[EventEnvelope, str]:
    first = row.get("first_received_on")
    data = {
        "referral_id": row["id"],
        "parent_referral_id": row.get("parent_id"),
        "forwarded_to_referral_id": row.get("forwarded_to_id"),
        "legal_domain": row["legal_domain"],
        "region_key": row["region_key"],
        "status": row["status"],
        "previous_status": previous.value if previous else None,
        "sender_organization_id": row["sender_organization_id"],
        "recipient_organization_id": row["recipient_organization_id"],
        "reason_code": reason_code,
        "urgency": row["urgency"],
        "first_received_on": first.isoformat() if first else None,
        "due_at": iso(due_at),
    }
    envelope = EventEnvelope(type=event.event_type, source=SOURCE, data=data)
    return envelope, routing_key("referral", event.value, row["legal_domain"], row["region_key"])


def _label(code: str | None) -> str | None:
    if code is None:
        return None
    if code in DeclineReason._value2member_map_:
        return DeclineReason(code).label_de
    return _CANCEL_LABELS.get(code)


_CANCEL_LABELS = {
    CancelReason.CONSENT_WITHDRAWN.value: "Einwilligung widerrufen",
    CancelReason.CLIENT_MOVED.value: "Klient*in verzogen",
    CancelReason.NO_LONGER_NEEDED.value: "nicht mehr nötig",
}
