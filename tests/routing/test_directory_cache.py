"""Routing keeps the directory's answers and drops them when the directory says they changed; a PLZ that
spans Gemeinden with different authorities gives an ambiguous answer, and the case manager chooses."""

import uuid
from collections.abc import Iterator

import pytest
from lotse_contracts import Role, TokenClaims

from tests.routing.conftest import ADMIN, Api
from tests.routing.test_referrals_api import SENDER_ORG, body


@pytest.fixture
def heinsberg_jugendamt(sqlite_api: Api) -> Iterator[str]:
    """A Jugendamt of the city of Heinsberg, added to the directory (the demo data has the Kreis's only)."""
    entries = sqlite_api.directory.container.entries
    org = str(uuid.uuid4())
    entries.create(
        ADMIN,
        "organization",
        {
            "id": org,
            "name": "Jugendamt der Stadt Heinsberg (Test)",
            "description": "Testeintrag",
            "authority_for": ["SGB_VIII", "SGB_XII"],
        },
    )
    proposed = entries.create(
        ADMIN,
        "jurisdiction",
        {
            "organization_id": org,
            "legal_domain": "SGB_VIII",
            "region_key": "05370016",
            "source": "Test: eigenes Jugendamt",
            "verified_on": "2026-11-01",
        },
    )
    # the city takes over from the Kreis's Jugendamt: a second person confirms it
    assert proposed.values["status"] == "proposed"
    second = TokenClaims("admin-2", Role.ADMIN, None, "Zweite Admin")
    entries.update(second, "jurisdiction", proposed.values["id"], {}, proposed.etag, confirm=True)
    yield org
    directory = sqlite_api.directory.container
    entries.delete(ADMIN, "organization", org, "*")  # its jurisdiction goes with it
    directory.outbox.relay(directory.bus, batch=1000)


def ask(api: Api, location: str) -> dict:  # type: ignore[type-arg]
    response = api.get(
        "/responsible",
        api.token(Role.CASE_MANAGER, SENDER_ORG),
        legal_domain="SGB_VIII",
        location=location,
        residence_of="parents",
    )
    assert response.status_code == 200, response.json
    return dict(response.json)


def no_longer_youth_welfare(api: Api, org: str) -> None:
    """The directory changes the organisation's jurisdiction to another legal domain."""
    entries = api.directory.container.entries
    [held] = entries.page(ADMIN, "jurisdiction", {"organization_id": org}, 1, 10)[0]
    etag = entries.get(ADMIN, "jurisdiction", held["id"]).etag
    entries.update(ADMIN, "jurisdiction", held["id"], {"legal_domain": "SGB_XII"}, etag)


def test_a_changed_jurisdiction_is_seen_once_the_directory_says_so(sqlite_api: Api, heinsberg_jugendamt: str) -> None:
    directory = sqlite_api.directory.container
    # 52525 lies in Heinsberg and in Waldfeucht; the cache still holds the directory's answer from before
    sqlite_api.container.directory.forget()
    directory.outbox.relay(directory.bus, batch=1000)  # (events of the fixture's change, heard by routing)
    before = ask(sqlite_api, "52525")
    assert before["outcome"] == "ambiguous" and before["decides"] == "gemeinde"
    names = {c["name"] for c in before["candidates"]}
    assert names == {"Jugendamt der Stadt Heinsberg (Test)", "Jugendamt Kreis Heinsberg (Demo)"}
    assert "die Gemeinde entscheidet" in before["explanation"]
    assert ask(sqlite_api, "52525 Waldfeucht")["candidates"][0]["name"] == "Jugendamt Kreis Heinsberg (Demo)"

    # the city's jurisdiction becomes another domain's: routing answers from its cache until the event comes
    no_longer_youth_welfare(sqlite_api, heinsberg_jugendamt)
    assert ask(sqlite_api, "52525")["outcome"] == "ambiguous"
    directory.outbox.relay(directory.bus, batch=1000)  # directory.jurisdiction.changed reaches routing
    after = ask(sqlite_api, "52525")
    assert after["outcome"] == "responsible"
    assert after["candidates"][0]["name"] == "Jugendamt Kreis Heinsberg (Demo)"


def test_without_a_broker_the_directorys_change_feed_carries_the_change(
    sqlite_api: Api, heinsberg_jugendamt: str
) -> None:
    """As in `make run`: the directory in another process, no broker; nothing is relayed to routing here."""
    feed = sqlite_api.container.directory_changes
    feed.poll()  # where it starts, or the fixture's new entries
    assert ask(sqlite_api, "52525")["outcome"] == "ambiguous"
    no_longer_youth_welfare(sqlite_api, heinsberg_jugendamt)
    assert ask(sqlite_api, "52525")["outcome"] == "ambiguous"  # from the cache
    assert feed.poll() == 1
    assert ask(sqlite_api, "52525")["outcome"] == "responsible"
    assert feed.poll() == 0


def test_an_ambiguous_answer_needs_the_case_managers_choice(sqlite_api: Api, heinsberg_jugendamt: str) -> None:
    directory = sqlite_api.directory.container
    directory.outbox.relay(directory.bus, batch=1000)
    sender = sqlite_api.token(Role.CASE_MANAGER, SENDER_ORG)
    unsure = body(heinsberg_jugendamt, location="52525")
    refused = sqlite_api.post("/referrals", unsure, sender)
    assert refused.status_code == 422 and refused.json["errors"][0]["name"] == "recipient_organization_id"
    assert heinsberg_jugendamt in refused.json["errors"][0]["reason"]
    wrong = sqlite_api.post("/referrals", {**unsure, "recipient_organization_id": SENDER_ORG}, sender)
    assert wrong.status_code == 422 and wrong.json["errors"][0]["name"] == "recipient_organization_id"
    chosen = sqlite_api.post("/referrals", {**unsure, "recipient_organization_id": heinsberg_jugendamt}, sender)
    assert chosen.status_code == 201, chosen.json
    assert chosen.json["region_key"] == "05370016" and chosen.json["decision"]["chosen_by_case_manager"]
    assert "Gewählt: Jugendamt der Stadt Heinsberg (Test)" in chosen.json["explanation"]


def test_a_proposed_jurisdiction_is_not_used_until_confirmed_and_the_answer_names_who(sqlite_api: Api) -> None:
    entries = sqlite_api.directory.container.entries
    directory = sqlite_api.directory.container
    org = str(uuid.uuid4())
    entries.create(
        ADMIN,
        "organization",
        {"id": org, "name": "Jugendamt Erkelenz (Test)", "description": "x", "authority_for": ["SGB_VIII"]},
    )
    keeper = TokenClaims("ki-hs-1", Role.MAINTAINER, None, "KI Heinsberg, Frau A.", regions=("05370",))
    proposal = entries.create(
        keeper,
        "jurisdiction",
        {
            "organization_id": org,
            "legal_domain": "SGB_VIII",
            "region_key": "05370004",
            "source": "Test",
            "verified_on": "2026-11-01",
        },
    )
    try:
        assert proposal.values["status"] == "proposed"
        sqlite_api.container.directory.forget()
        directory.outbox.relay(directory.bus, batch=1000)
        before = ask(sqlite_api, "Erkelenz")
        assert before["outcome"] == "responsible"
        assert before["candidates"][0]["name"] == "Jugendamt Kreis Heinsberg (Demo)"
        second = TokenClaims("ki-hs-2", Role.MAINTAINER, None, "KI Heinsberg, Herr B.", regions=("05370",))
        entries.update(second, "jurisdiction", proposal.values["id"], {}, proposal.etag, confirm=True)
        directory.outbox.relay(directory.bus, batch=1000)
        after = ask(sqlite_api, "Erkelenz")
        [chosen] = after["candidates"]
        assert chosen["name"] == "Jugendamt Erkelenz (Test)"
        assert chosen["jurisdiction"]["declared_by"] == "KI Heinsberg, Frau A."
        assert chosen["jurisdiction"]["confirmed_by"] == "KI Heinsberg, Herr B."
        assert "eingetragen von KI Heinsberg, Frau A., bestätigt von KI Heinsberg, Herr B." in after["explanation"]
    finally:
        entries.delete(ADMIN, "organization", org, "*")
        directory.outbox.relay(directory.bus, batch=1000)


def test_the_cache_finds_by_region_key_exactly_the_jurisdictions_a_prefix_test_would(sqlite_api: Api) -> None:
    from lotse_contracts import LegalDomain
    from lotse_directory.adapters.geocoding.gazetteer import packaged_gazetteer

    cache = sqlite_api.container.directory
    every = cache._origin.all_jurisdictions()
    gazetteer = packaged_gazetteer()
    keys = [g.ags for k, _ in gazetteer.iter_kreise("05") for g in gazetteer.gemeinden_in(k) if g.ags]
    assert len(keys) == 396  # every Gemeinde of NRW
    for domain in LegalDomain:
        for key in keys:
            expected = {j.id for j in every if j.legal_domain is domain and key.startswith(j.region_key)}
            assert {j.id for j in cache.jurisdictions(domain, [key])} == expected, (domain, key)
