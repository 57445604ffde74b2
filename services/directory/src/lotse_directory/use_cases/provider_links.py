"""An offer's provider confirms or corrects it without an account. A maintainer of the offer makes a link,
signed with a key of the directory and valid for ``valid_days``; whoever holds it sees the offer as the public
sees it and answers once: "still right" (the offer counts as confirmed, by the provider through that link,
an audited change like any other) or what is wrong (a note for the offer's maintainers, listed until one of
them has dealt with it). The link names only the offer and who made it; the directory keeps no one's data
from the answer but the provider's words."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Conflict, Forbidden, Gone, NotFound

from lotse_directory.adapters.ports import DirectoryStore, Row
from lotse_directory.domain.verification import confirmation, utc_stamp
from lotse_directory.use_cases import access
from lotse_directory.use_cases.entries import Entries
from lotse_directory.use_cases.open_data import OpenData

SALT = "lotse-provider-confirmation"
CONFIRMED, CORRECTION = "confirmed", "correction"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Link:
    service_id: str
    link_id: str
    issued_by: str
    expires_at: datetime


class ProviderLinks:
    def __init__(
        self,
        store: DirectoryStore,
        entries: Entries,
        open_data: OpenData,
        key: bytes,
        valid_days: int = 30,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.entries = entries
        self.open_data = open_data
        self.signer = URLSafeTimedSerializer(key, salt=SALT)
        self.valid_days = valid_days
        self.clock = clock

    def issue(self, claims: TokenClaims, service_id: str) -> dict[str, Any]:
        """A new link to the offer (only its maintainers make one)."""
        service = self.entries.get(claims, "service", service_id).values
        with self.store.transaction() as session:
            access.require_maintainer(session, claims, "service", access.owners(session, "service", service))
        link_id = str(uuid.uuid4())
        token = self.signer.dumps({"s": service_id, "l": link_id, "b": claims.subject})
        expires = self.clock() + timedelta(days=self.valid_days)
        return {"token": token, "link_id": link_id, "expires_at": utc_stamp(expires)}

    def _read(self, token: str) -> Link:
        try:
            found, signed_at = self.signer.loads(token, max_age=self.valid_days * 86400, return_timestamp=True)
        except SignatureExpired:
            raise Gone("the confirmation link has expired: ask the directory's maintainers for a new one") from None
        except BadSignature:
            raise NotFound("confirmation link", "(not one the directory made)") from None
        expires = signed_at.astimezone(UTC) + timedelta(days=self.valid_days)
        return Link(str(found["s"]), str(found["l"]), str(found["b"]), expires)

    def show(self, token: str) -> dict[str, Any]:
        """The offer as the public sees it, until when the link holds, and the answer given, if any."""
        link = self._read(token)
        with self.store.transaction() as session:
            reply = session.provider_reply(link.link_id)
        return {
            "service": self.open_data.service(link.service_id),
            "expires_at": utc_stamp(link.expires_at),
            "answer": _answer(reply) if reply else None,
        }

    def answer(self, token: str, still_right: bool, correction: str | None) -> dict[str, Any]:
        """The provider's one answer: the offer is still right (it is confirmed now), or what is wrong."""
        link = self._read(token)
        now = self.clock()
        provider = TokenClaims(f"provider-link:{link.link_id}", Role.ADMIN, None, "Anbieter über Bestätigungslink")
        with self.store.transaction() as session:
            if session.provider_reply(link.link_id) is not None:
                raise Conflict("this link has been answered already")
            service = session.get("service", link.service_id)
            if service is None:
                raise NotFound("service", link.service_id)
            if still_right:
                fields = confirmation("service", provider.subject, now)
                self.entries.update_in(session, provider, "service", link.service_id, fields, None)
            row = {
                "link_id": link.link_id,
                "service_id": link.service_id,
                "organization_id": str(service.get("organization_id") or ""),
                "kind": CONFIRMED if still_right else CORRECTION,
                "text": None if still_right else correction,
                "created_at": now,
                "issued_by": link.issued_by,
            }
            session.add_provider_reply(row)
        return _answer(row)

    def replies(self, claims: TokenClaims, service_id: str | None, open_only: bool) -> list[dict[str, Any]]:
        """The answers about the offers the caller maintains (or one of them), newest first."""
        with self.store.transaction() as session:
            rows = session.provider_replies(self._maintained(session, claims), service_id, open_only)
            names = {
                str(s["id"]): s.get("name")
                for s in session.select("service", {"id": {str(r["service_id"]) for r in rows}}, fields=("name",))
            }
        return [_answer(r) | {"service_name": names.get(str(r["service_id"]))} for r in rows]

    def close(self, claims: TokenClaims, link_id: str) -> None:
        """A maintainer has dealt with a correction."""
        with self.store.transaction() as session:
            reply = session.provider_reply(link_id)
            kept = self._maintained(session, claims)
            if reply is None or (kept is not None and str(reply["organization_id"]) not in kept):
                raise NotFound("provider reply", link_id)
            if not session.close_provider_reply(link_id, claims.subject, self.clock()):
                raise Conflict("this answer has been dealt with already")

    @staticmethod
    def _maintained(session: Any, claims: TokenClaims) -> set[str] | None:
        """The organisations whose offers' answers the caller sees (None: an admin's, all)."""
        if claims.role is Role.ADMIN:
            return None
        if claims.role is not Role.MAINTAINER or not claims.organization_id:
            raise Forbidden(f"role {claims.role.value} maintains no offers")
        return set(session.maintainable_by(claims.organization_id))


def _answer(row: Row) -> dict[str, Any]:
    done = row.get("done_at")
    return {
        "link_id": row["link_id"],
        "service_id": row["service_id"],
        "kind": row["kind"],
        "text": row.get("text"),
        "answered_at": utc_stamp(row["created_at"]),
        "issued_by": row["issued_by"],
        "done_at": utc_stamp(done) if done else None,
        "done_by": row.get("done_by"),
    }
