"""Taking in referral events on SQLite and PostgreSQL: one notification per event and organisation and one
delivery per channel, however often (and however concurrently) the event arrives; the schema matches the
migrations.

The channels come from a table in the test here; reading them from the directory is not built yet."""

import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from lotse_contracts import EventEnvelope
from lotse_contracts.webhooks import new_secret
from lotse_notify.adapters.storage.sql_store import SqlNotifyStore
from lotse_notify.adapters.storage.tables import delivery, metadata, notification, processed_event
from lotse_notify.domain.channels import Channel, Kind
from lotse_notify.use_cases.intake import Intake
from sqlalchemy import Engine, func, select

from tests.notify.conftest import JUGENDAMT, KIM_TEAM, ChannelTable, referral_event

CHANNELS = ChannelTable(
    [
        Channel("ch-hook", JUGENDAMT, Kind.WEBHOOK, "https://jugendamt.example/hooks/lotse", 3, (new_secret(),)),
        Channel("ch-mail", JUGENDAMT, Kind.EMAIL, "eingang@jugendamt.example", 1),
        Channel("ch-kim", KIM_TEAM, Kind.EMAIL, "kim@kreis.example", 2),
    ]
)


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_migrated_database_matches_the_tables_in_code(engine: Engine) -> None:
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_an_event_becomes_one_notification_with_a_delivery_per_channel_however_often_it_comes(engine: Engine) -> None:
    intake = Intake(SqlNotifyStore(engine), CHANNELS)
    requested = referral_event("requested")
    made = intake.take(requested)
    assert len(made) == 2
    assert intake.take(requested) == []  # redelivered, or re-published by routing's relay
    with engine.connect() as conn:
        [inbox] = conn.execute(select(notification)).mappings().all()
        sent = conn.execute(select(delivery).order_by(delivery.c.channel_id)).mappings().all()
    assert inbox["organization_id"] == JUGENDAMT and inbox["side"] == "recipient"
    assert (inbox["referral_status"], inbox["region_key"], inbox["read_at"]) == ("requested", "05954036", None)
    assert [(d["channel_id"], d["kind"], d["target"], d["state"], d["attempts"]) for d in sent] == [
        ("ch-hook", "webhook", "https://jugendamt.example/hooks/lotse", "pending", 0),
        ("ch-mail", "email", "eingang@jugendamt.example", "pending", 0),
    ]
    assert {d["id"] for d in sent} == set(made) and sent[0]["channel_revision"] == 3

    accepted = intake.take(referral_event("accepted"))  # the sender learns what became of its referral
    assert len(accepted) == 1
    assert intake.take(referral_event("in_progress")) == []  # tells nobody
    assert intake.take(EventEnvelope(type="directory.service.changed", source="x", data={})) == []
    assert count(engine, notification) == 2 and count(engine, delivery) == 3
    assert count(engine, processed_event) == 4


def test_the_same_event_taken_in_at_once_by_several_consumers_has_effect_once(engine: Engine) -> None:
    intake = Intake(SqlNotifyStore(engine), CHANNELS)
    events = [referral_event("requested", referral_id=f"5b9d0c1e-0000-4000-8000-{i:012d}") for i in range(20)]
    made: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        for event in events:
            ids = intake.take(event)
            with lock:
                made.extend(ids)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 40 and len(set(made)) == 40
    assert count(engine, notification) == 20 and count(engine, delivery) == 40
