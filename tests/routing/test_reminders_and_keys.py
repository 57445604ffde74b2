"""Reminders in NRW working days, swept from stored rows; the client's data under rotating keys."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from lotse_kit.schema_errors import event_validator
from lotse_routing.adapters.sealing import key_id
from lotse_routing.adapters.storage.tables import outbox, referral
from lotse_routing.bootstrap import build, nrw_holiday
from lotse_routing.domain.working_days import BERLIN, add_working_days
from sqlalchemy import select

from tests.routing.conftest import Api
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
    clock = referrals.now
    try:
        referrals.now = lambda: clock() + timedelta(days=8)
        assert referrals.sweep_reminders() == 1
        assert referrals.sweep_reminders() == 0  # a timer fires once
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
    moved = 0
    while done := rotating.referrals.reseal(batch=2):
        moved += done
    assert moved == 3  # the referral, its consent and the decline's note
    with rotating.engine.connect() as conn:
        assert set(conn.execute(select(referral.c.sealed_with)).scalars()) == {key_id(new)}

    only_new = build(replace(settings, data_keys=(new,)))  # the old key can go now
    seen = only_new.referrals.get(recipient, ident)
    assert seen["client"] == CLIENT and seen["history"][-1]["note"] == "Zuständig ist das Land"
    assert seen["consent"]["given_by"] == "Mutter, Samira Beispiel"
