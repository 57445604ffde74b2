"""Reminders in NRW working days, swept from stored rows; the client's data under rotating keys, and erased
after the retention period."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from lotse_kit.schema_errors import event_validator
from lotse_kit.sealing import key_id
from lotse_routing.adapters.storage.tables import audit, consent, history, outbox, referral
from lotse_routing.bootstrap import build, nrw_holiday
from lotse_routing.domain.working_days import BERLIN, add_working_days
from lotse_routing.entrypoints.cli import main
from sqlalchemy import func, select

from tests.routing.conftest import SECRET, Api
from tests.routing.test_referrals_api import CLIENT, Walk


def test_working_days_skip_weekends_and_the_public_holidays_of_nrw() -> None:
    holiday = nrw_holiday()

    def due(year: int, month: int, day: int, days: int) -> datetime:
        return add_working_days(datetime(year, month, day, 10, 0, tzinfo=BERLIN), days, holiday)

    assert due(2026, 12, 18, 3) == datetime(2026, 12, 23, 10, 0, tzinfo=BERLIN)  # Friday → Wednesday
    assert due(2026, 12, 23, 3) == datetime(2026, 12, 29, 10, 0, tzinfo=BERLIN)  # over Christmas
    assert due(2027, 3, 25, 3) == datetime(2027, 4, 1, 10, 0, tzinfo=BERLIN)  # Good Friday, Easter Monday
    assert due(2027, 5, 26, 1) == datetime(2027, 5, 28, 10, 0, tzinfo=BERLIN)  # Fronleichnam is one in NRW
    # received on a Sunday: counting starts with Monday
    assert due(2026, 11, 22, 1) == datetime(2026, 11, 24, 0, 0, tzinfo=BERLIN)


def test_an_unacknowledged_referral_gets_one_reminder_and_an_acknowledged_one_none(api: Api) -> None:
    walk = Walk(api)
    late = walk.create()["id"]
    on_time = walk.create()["id"]
    walk.act(on_time, "acknowledge", walk.recipient)
    referrals = api.container.referrals
    assert referrals.sweep_reminders() == 0  # nothing is due yet

    def listed() -> dict[str, tuple[bool, str | None]]:
        page = api.get("/referrals", walk.sender).json["contents"]
        return {r["id"]: (r["overdue"], r["acknowledge_by"]) for r in page if r["id"] in (late, on_time)}

    assert listed()[late][0] is False and listed()[late][1] is not None
    assert listed()[on_time] == (False, None)  # acknowledged: nothing is awaited
    clock = referrals.now
    try:
        referrals.now = lambda: clock() + timedelta(days=8)
        assert listed()[late][0] is True  # overdue before the sweep sent its reminder, and after
        only = api.get("/referrals", walk.sender, overdue="true").json
        assert [r["id"] for r in only["contents"]] == [late] and only["total_items"] == 1
        assert only["counts_by_status"]["overdue"] == 1 and only["counts_by_status"]["requested"] >= 1
        assert api.get("/referrals", walk.sender, sort="due").json["contents"][0]["id"] == late  # due soonest
        oldest = [r["id"] for r in api.get("/referrals", walk.sender, sort="oldest").json["contents"]]
        assert oldest.index(late) < oldest.index(on_time)
        assert api.get("/referrals", walk.sender, sort="anders").status_code == 400
        assert referrals.sweep_reminders() == 1
        assert referrals.sweep_reminders() == 0  # a timer fires once
        assert listed()[late][0] is True and listed()[on_time] == (False, None)
        counts = api.container.store.reminder_counts(referrals.now())
        assert counts == {"due": 0, "overdue": 1}  # what /metrics shows
        walk.act(late, "acknowledge", walk.recipient)
        assert listed()[late] == (False, None)
        assert api.get("/referrals", walk.sender).json["counts_by_status"]["overdue"] == 0
        assert api.container.store.reminder_counts(referrals.now()) == {"due": 0, "overdue": 0}
    finally:
        referrals.now = clock
    with api.container.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.routing_key, outbox.c.payload).where(outbox.c.event_type == "referral.reminder_due")
        )
        [(key, payload)] = [(k, json.loads(p)) for k, p in rows]
    assert key == "referral.reminder_due.sgb_viii.05954036"
    assert payload["data"]["referral_id"] == late and payload["data"]["status"] == "requested"
    assert datetime.fromisoformat(payload["data"]["due_at"]) > datetime.now(UTC)
    assert not list(event_validator("referral.reminder_due", 1).iter_errors(payload))


def test_a_new_key_seals_at_once_and_rotation_reseals_what_is_stored(sqlite_api: Api) -> None:
    walk = Walk(sqlite_api)
    ident = walk.create()["id"]
    walk.act(ident, "decline", walk.recipient, reason_code="sonstiges", note="Zuständig ist das Land")
    recipient = sqlite_api.container.verifier.verify(walk.recipient["Authorization"].removeprefix("Bearer "))
    settings = sqlite_api.container.settings
    old, new = settings.keys()[0], Fernet.generate_key().decode()

    rotating = build(replace(settings, data_keys=(new, old)))  # the new key first, the old one still read
    assert rotating.referrals.get(recipient, ident)["client"] == CLIENT
    assert rotating.referrals.sealed_with_older_keys() == 3  # what `keys rotate`'s progress bar counts to
    moved = 0
    while done := rotating.referrals.reseal(batch=2):
        moved += done
    assert moved == 3  # the referral, its consent and the decline's note
    assert rotating.referrals.sealed_with_older_keys() == 0
    with rotating.engine.connect() as conn:
        assert set(conn.execute(select(referral.c.sealed_with)).scalars()) == {key_id(new)}

    only_new = build(replace(settings, data_keys=(new,)))  # the old key can go now
    seen = only_new.referrals.get(recipient, ident)
    assert seen["client"] == CLIENT and seen["history"][-1]["note"] == "Zuständig ist das Land"
    assert seen["consent"]["given_by"] == "Mutter, Samira Beispiel"


def test_client_data_is_erased_after_the_retention_period_and_the_figures_stay(api: Api) -> None:
    walk = Walk(api)
    forwarded = walk.create()["id"]
    child = walk.act(forwarded, "forward", walk.recipient, to_organization_id=walk.kreis, note="örtlich Kreis")[
        "forwarded_to_id"
    ]
    declined = walk.create()["id"]
    walk.act(declined, "decline", walk.recipient, reason_code="sonstiges", note="Zuständig ist das Land")
    still_open = walk.create()["id"]
    figures = api.get("/figures", walk.coordinator).json
    referrals = api.container.referrals
    assert referrals.retention_days == 365
    assert referrals.erase_expired() == 0
    clock = referrals.now
    try:
        referrals.now = lambda: clock() + timedelta(days=366)
        assert referrals.erase_expired() == 2  # the forwarded and the declined one; their days are over
        assert referrals.erase_expired() == 0

        gone = api.get(f"/referrals/{declined}", walk.recipient).json
        assert gone["erased_at"] and gone["client"] is None and gone["reason"] is None
        assert gone["consent"]["given_by"] is None and gone["history"][-1]["note"] is None
        assert gone["status"] == "declined" and gone["decline_reason"] == "sonstiges"
        parent = api.get(f"/referrals/{forwarded}", walk.recipient).json
        assert parent["client"] is None and parent["history"][-1]["note"] is None
        assert parent["consent"]["given_by"] == "Mutter, Samira Beispiel"  # the child still rests on it
        kept = api.get(f"/referrals/{child}", walk.kreis_agency).json
        assert kept["client"] == CLIENT and kept["erased_at"] is None
        assert api.get(f"/referrals/{still_open}", walk.recipient).json["client"] == CLIENT
        assert api.get("/figures", walk.coordinator).json == figures

        walk.act(child, "accept", walk.kreis_agency)
        walk.act(child, "complete", walk.kreis_agency, note="Hilfe eingeleitet")
        referrals.now = lambda: clock() + timedelta(days=2 * 366)
        assert referrals.erase_expired() == 1
    finally:
        referrals.now = clock
    assert api.get(f"/referrals/{forwarded}", walk.recipient).json["consent"]["given_by"] is None
    with api.container.engine.connect() as conn:
        left = conn.execute(select(referral.c.id).where(referral.c.sealed.is_not(None))).scalars().all()
        assert left == [still_open]
        assert conn.execute(select(func.count()).where(consent.c.sealed.is_not(None))).scalar_one() == 1
        notes = conn.execute(select(history.c.referral_id).where(history.c.sealed.is_not(None))).scalars().all()
        assert notes == []
        erasures = conn.execute(
            select(audit.c.subject, audit.c.referral_id).where(audit.c.action == "erase").order_by(audit.c.seq)
        ).all()
    assert {r for _, r in erasures} == {forwarded, declined, child} and len(erasures) == 3
    assert {s for s, _ in erasures} == {"system:retention"}


def test_the_command_line_erases_what_is_due(sqlite_api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    walk = Walk(sqlite_api)
    closed = walk.create()["id"]
    walk.act(closed, "cancel", walk.sender, reason_code="no_longer_needed")
    walk.create()
    settings = sqlite_api.container.settings
    monkeypatch.setenv("LOTSE_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("LOTSE_AUTH_SECRET", SECRET)
    monkeypatch.setenv("LOTSE_ROUTING_DIRECTORY_URL", settings.directory_url)
    monkeypatch.setenv("LOTSE_ROUTING_RETENTION_DAYS", "0")  # everything closed is due
    done = CliRunner().invoke(main, ["retention", "erase"])
    assert done.exit_code == 0, done.output
    assert "erased the client data of 1 referral(s) closed over 0 days ago" in done.output
    assert sqlite_api.get(f"/referrals/{closed}", walk.sender).json["client"] is None
