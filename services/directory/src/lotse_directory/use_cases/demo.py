"""The NRW demo data set: authorities for every Kreis and offers for the four KIM model regions.

Everything here is invented and marked as demo data (``demo: true``, names with "(Demo)"):
addresses, phone numbers and e-mail addresses are placeholders, not real ones.
Locations sit at the centroid of a real PLZ so that geo search and routing behave realistically.
"""

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

from lotse_directory.adapters.geocoding.gazetteer import Gazetteer, Place

NS = uuid.UUID("6c1b8a52-3f55-4d8e-9a39-2f9d1f0c5a11")
VERIFIED_ON = "2026-10-01"

# Seat (Kreisstadt) of each Kreis in NRW; kreisfreie Städte are their own seat.
KREIS_SEATS = {
    "05154": "Kleve",
    "05158": "Mettmann",
    "05162": "Neuss",
    "05166": "Viersen",
    "05170": "Wesel",
    "05334": "Aachen",
    "05358": "Düren",
    "05362": "Bergheim",
    "05366": "Euskirchen",
    "05370": "Heinsberg",
    "05374": "Gummersbach",
    "05378": "Bergisch Gladbach",
    "05382": "Siegburg",
    "05554": "Borken",
    "05558": "Coesfeld",
    "05562": "Recklinghausen",
    "05566": "Steinfurt",
    "05570": "Warendorf",
    "05754": "Gütersloh",
    "05758": "Herford",
    "05762": "Höxter",
    "05766": "Detmold",
    "05770": "Minden",
    "05774": "Paderborn",
    "05954": "Schwelm",
    "05958": "Meschede",
    "05962": "Lüdenscheid",
    "05966": "Olpe",
    "05970": "Siegen",
    "05974": "Soest",
    "05978": "Unna",
}

# kreisangehörige Städte with a Jugendamt of their own (demo selection for the KIM regions).
OWN_JUGENDAMT = {
    "05954": ["Ennepetal", "Gevelsberg", "Hattingen", "Herdecke", "Schwelm", "Sprockhövel", "Wetter (Ruhr)", "Witten"],
    "05766": ["Detmold", "Lemgo", "Bad Salzuflen"],
    "05334": ["Aachen", "Alsdorf", "Eschweiler", "Herzogenrath", "Stolberg", "Würselen"],
}

KIM_REGIONS = {
    "05119": "Oberhausen",
    "05766": "Kreis Lippe",
    "05954": "Ennepe-Ruhr-Kreis",
    "05334": "StädteRegion Aachen",
}

TOPICS = [
    "Sprache",
    "Arbeit",
    "Ausbildung",
    "Wohnen",
    "Gesundheit",
    "Aufenthalt",
    "Einbürgerung",
    "Familie",
    "Kita/Schule",
    "Pflege",
    "Soziale Teilhabe",
    "Beratung",
    "Existenzsicherung",
]
TARGET_GROUPS = [
    "Geflüchtete",
    "Neuzugewanderte",
    "Frauen",
    "Jugendliche",
    "Familien",
    "Ältere Menschen",
    "EU-Bürger*innen",
    "Menschen mit Behinderung",
    "Studierende",
    "Fachkräfte",
]

# (name, description, topics, legal domains, target groups, languages besides German)
OFFER_TEMPLATES: list[tuple[str, str, list[str], list[str], list[str], list[str]]] = [
    (
        "Integrationskurs mit Alphabetisierung",
        "Deutschkurs nach dem Integrationskursgesetz mit Alphabetisierung, Kinderbetreuung während des Kurses.",
        ["Sprache"],
        ["AUFENTHG"],
        ["Neuzugewanderte", "Geflüchtete"],
        ["ar", "fa"],
    ),
    (
        "Berufssprachkurs B2",
        "Berufsbezogene Deutschsprachförderung (DeuFöV) für Menschen in Arbeit oder auf "
        "Arbeitssuche; Zulassung über Jobcenter oder Agentur für Arbeit.",
        ["Sprache", "Arbeit"],
        ["SGB_II", "SGB_III"],
        ["Neuzugewanderte", "Fachkräfte"],
        ["en", "uk"],
    ),
    (
        "Migrationsberatung für Erwachsene (MBE)",
        "Beratung zu Aufenthalt, Sprache, Arbeit, Wohnen und Gesundheit für Zugewanderte über 27 Jahre.",
        ["Beratung", "Aufenthalt"],
        ["AUFENTHG", "SGB_II"],
        ["Neuzugewanderte"],
        ["ar", "tr", "ru"],
    ),
    (
        "Jugendmigrationsdienst",
        "Begleitung junger Menschen zwischen 12 und 27 Jahren bei Schule, Ausbildung und Beruf.",
        ["Ausbildung", "Kita/Schule"],
        ["SGB_VIII"],
        ["Jugendliche"],
        ["ar", "fa", "uk"],
    ),
    (
        "Anerkennungsberatung ausländischer Berufsabschlüsse",
        "Beratung zur Anerkennung von Abschlüssen und zu Anpassungsqualifizierungen (IQ Netzwerk).",
        ["Arbeit"],
        ["SGB_III"],
        ["Fachkräfte"],
        ["en", "ru", "bs"],
    ),
    (
        "Sozialberatung für Geflüchtete",
        "Unterstützung bei Anträgen, Bescheiden des Jobcenters und Fragen zum Asylverfahren.",
        ["Existenzsicherung", "Aufenthalt"],
        ["SGB_II", "ASYLBLG", "AUFENTHG"],
        ["Geflüchtete"],
        ["ar", "fa", "fr"],
    ),
    (
        "Familienzentrum – Elterncafé",
        "Offener Treff für Eltern mit Kindern bis sechs Jahre, Beratung zu Kita-Anmeldung und Elterngeld.",
        ["Familie", "Kita/Schule"],
        ["SGB_VIII"],
        ["Familien"],
        ["tr", "ar", "uk"],
    ),
    (
        "Erziehungsberatung",
        "Beratung für Eltern, Kinder und Jugendliche bei Erziehungsfragen und Familienkonflikten (§ 28 SGB VIII).",
        ["Familie"],
        ["SGB_VIII"],
        ["Familien", "Jugendliche"],
        ["tr", "ru"],
    ),
    (
        "Frauenberatungsstelle",
        "Beratung und Begleitung für Frauen in Krisen, bei Gewalt und in Trennungssituationen; anonym möglich.",
        ["Beratung", "Gesundheit"],
        ["SGB_II"],
        ["Frauen"],
        ["ar", "tr", "fa"],
    ),
    (
        "Wohnraumberatung",
        "Hilfe bei der Wohnungssuche, bei Mietproblemen und drohendem Wohnungsverlust.",
        ["Wohnen"],
        ["SGB_II", "SGB_XII"],
        ["Neuzugewanderte", "Familien"],
        ["en", "bs", "ru"],
    ),
    (
        "Gesundheitslotsen",
        "Mehrsprachige Begleitung zu Ärztinnen und Ärzten, Erklärung des Gesundheitssystems.",
        ["Gesundheit"],
        [],
        ["Neuzugewanderte", "Ältere Menschen"],
        ["ar", "tr", "ru", "uk"],
    ),
    (
        "Einbürgerungsberatung",
        "Vorbereitung auf den Einbürgerungsantrag, Einbürgerungstest und nötige Unterlagen.",
        ["Einbürgerung"],
        ["STAG"],
        ["Neuzugewanderte"],
        ["tr", "en", "bs"],
    ),
    (
        "Ausbildungsbegleitung für junge Geflüchtete",
        "Unterstützung bei Bewerbung, Ausbildungsduldung und Berufsschule.",
        ["Ausbildung", "Aufenthalt"],
        ["SGB_III", "AUFENTHG"],
        ["Jugendliche", "Geflüchtete"],
        ["ar", "fa", "fr"],
    ),
    (
        "Pflegeberatung für Zugewanderte",
        "Kultursensible Beratung zu Pflegegrad, Pflegekasse und Entlastungsangeboten.",
        ["Pflege", "Gesundheit"],
        ["SGB_IX"],
        ["Ältere Menschen"],
        ["tr", "ru", "bs"],
    ),
    (
        "Sprachcafé",
        "Deutsch sprechen üben in lockerer Runde, ehrenamtlich begleitet, ohne Anmeldung.",
        ["Sprache", "Soziale Teilhabe"],
        [],
        ["Neuzugewanderte", "Geflüchtete"],
        ["uk", "ar", "en"],
    ),
    (
        "Beratung für EU-Zugewanderte",
        "Beratung zu Freizügigkeit, Arbeitnehmerrechten und Leistungsansprüchen.",
        ["Arbeit", "Existenzsicherung"],
        ["SGB_II", "SGB_III"],
        ["EU-Bürger*innen"],
        ["en", "fr", "bs"],
    ),
]

PROVIDERS = [
    "AWO",
    "Caritasverband",
    "Diakonie",
    "DRK",
    "Volkshochschule",
    "Kommunales Integrationszentrum",
    "Internationaler Bund",
    "Der Paritätische",
]


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NS, "/".join(parts)))


def _seat_place(gazetteer: Gazetteer, kreis_key: str, seat: str) -> Place:
    for g in gazetteer.gemeinden_in(kreis_key):
        if g.name.split(",")[0].startswith(seat):
            place = gazetteer.gemeinde(g.ags)
            if place is not None:
                return place
    found = gazetteer.kreis(kreis_key)
    assert found is not None, kreis_key
    return found


def _postal_code(gazetteer: Gazetteer, place: Place) -> tuple[str, float, float]:
    """A real PLZ of the place, and its coordinates."""
    best: tuple[str, float, float] | None = None
    for p in gazetteer.postal_places(place.land_key):
        assert p.postal_code is not None
        if place.ags and p.ags == place.ags:
            return p.postal_code, p.latitude, p.longitude
        if best is None and p.kreis_key == place.kreis_key:
            best = (p.postal_code, p.latitude, p.longitude)
    assert best is not None
    return best


def _weekday_schedules(owner_key: str, owner_id: str, late_day: str = "TH") -> list[dict[str, Any]]:
    return [
        {
            "id": _id(owner_id, "schedule", "am"),
            owner_key: owner_id,
            "freq": "WEEKLY",
            "byday": "MO,TU,WE,TH,FR",
            "opens_at": "08:00",
            "closes_at": "12:00",
            "description": "Mo–Fr 8–12 Uhr",
            "closed_on_public_holidays": True,
        },
        {
            "id": _id(owner_id, "schedule", "pm"),
            owner_key: owner_id,
            "freq": "WEEKLY",
            "byday": late_day,
            "opens_at": "14:00",
            "closes_at": "18:00",
            "description": "Nachmittags nach Vereinbarung",
            "by_appointment": True,
            "closed_on_public_holidays": True,
        },
    ]


def _office(gazetteer: Gazetteer, org_id: str, name: str, place: Place, number: int) -> dict[str, Any]:
    code, lat, lon = _postal_code(gazetteer, place)
    loc_id = _id(org_id, "location")
    city = place.name.split(",")[0]
    return {
        "id": loc_id,
        "location_type": "physical",
        "name": name,
        "latitude": lat,
        "longitude": lon,
        "verified_at": f"{VERIFIED_ON}T09:00:00Z",
        "verified_by": "demo",
        "addresses": [
            {
                "id": _id(loc_id, "address"),
                "address_1": f"Demostraße {number}",
                "city": city,
                "state_province": "Nordrhein-Westfalen",
                "postal_code": code,
                "country": "DE",
                "address_type": "physical",
                "visibility": "public",
            }
        ],
        "phones": [
            {
                "id": _id(loc_id, "phone"),
                "number": f"+49 000 {number:04d}-0",
                "type": "voice",
                "description": "Demonummer (keine echte Rufnummer)",
                "visibility": "public",
            }
        ],
        "schedules": _weekday_schedules("location_id", loc_id),
    }


def authorities(gazetteer: Gazetteer) -> Iterator[dict[str, Any]]:
    """One HSDS organization per responsible authority, with office, hours and jurisdiction."""
    number = 0
    for kreis_key, kreis_name in gazetteer.iter_kreise("05"):
        gemeinden = gazetteer.gemeinden_in(kreis_key)
        kreisfrei = len(gemeinden) == 1
        seat_name = gemeinden[0].name.split(",")[0] if kreisfrei else KREIS_SEATS[kreis_key]
        seat = _seat_place(gazetteer, kreis_key, seat_name)
        label = seat_name if kreisfrei else kreis_name
        kinds = [
            ("SGB_II", f"Jobcenter {label}", "nach § 36 SGB II"),
            ("SGB_III", f"Agentur für Arbeit {seat_name}", "nach § 327 SGB III"),
            (
                "SGB_VIII",
                f"Jugendamt {'der Stadt ' + seat_name if kreisfrei else kreis_name}",
                "nach § 86 SGB VIII, § 69 SGB VIII i. V. m. AG-KJHG NRW",
            ),
            ("AUFENTHG", f"Ausländerbehörde {label}", "nach § 71 AufenthG i. V. m. ZustAVO NRW"),
            ("STAG", f"Einbürgerungsbehörde {label}", "nach § 1 StAGZustVO NRW"),
        ]
        for domain, name, rule in kinds:
            number += 1
            yield _authority(gazetteer, domain, name, rule, kreis_key, seat, number)
        for city in OWN_JUGENDAMT.get(kreis_key, []):
            place = _seat_place(gazetteer, kreis_key, city)
            if place.ags is None:
                continue
            number += 1
            yield _authority(
                gazetteer,
                "SGB_VIII",
                f"Jugendamt der Stadt {city}",
                "eigenes Jugendamt nach § 2 AG-KJHG NRW",
                place.ags,
                place,
                number,
            )


def _authority(
    gazetteer: Gazetteer, domain: str, name: str, rule: str, region_key: str, seat: Place, number: int
) -> dict[str, Any]:
    org_id = _id("authority", domain, region_key)
    location = _office(gazetteer, org_id, f"{name} – Hauptstelle", seat, number)
    return {
        "id": org_id,
        "name": f"{name} (Demo)",
        "description": f"Demodaten: zuständige Stelle ({domain}).",
        "email": f"kontakt-{number}@demo.lotse.invalid",
        "legal_domains": [domain],
        "authority_for": [domain],
        "demo": True,
        "verified_at": f"{VERIFIED_ON}T09:00:00Z",
        "verified_by": "demo",
        "locations": [location],
        "jurisdictions": [
            {
                "id": _id(org_id, "jurisdiction"),
                "legal_domain": domain,
                "region_key": region_key,
                "location_id": location["id"],
                "source": f"Demodaten, {rule}",
                "verified_on": VERIFIED_ON,
                "verified_by": "demo",
            }
        ],
    }


def taxonomies() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The topic and target-group taxonomies, and term name → term id."""
    out, ids = [], {}
    for tax_name, terms in (("Lotse Themen", TOPICS), ("Lotse Zielgruppen", TARGET_GROUPS)):
        tax_id = _id("taxonomy", tax_name)
        out.append({"id": tax_id, "name": tax_name, "description": f"{tax_name} (Lotse-Profil)", "version": "1"})
        for term in terms:
            ids[term] = _id("term", tax_name, term)
    return out, ids


def taxonomy_terms() -> list[dict[str, Any]]:
    terms = []
    for tax_name, names in (("Lotse Themen", TOPICS), ("Lotse Zielgruppen", TARGET_GROUPS)):
        for term in names:
            terms.append(
                {
                    "id": _id("term", tax_name, term),
                    "name": term,
                    "description": term,
                    "taxonomy_id": _id("taxonomy", tax_name),
                    "language": "de",
                }
            )
    return terms


def offers(gazetteer: Gazetteer) -> Iterator[dict[str, Any]]:
    """Providers with offers in the four KIM regions (at least 150 offers in all)."""
    _, term_ids = taxonomies()
    number = 5000
    for kreis_key, region_name in KIM_REGIONS.items():
        cities = list(gazetteer.gemeinden_in(kreis_key))
        for p_index, provider in enumerate(PROVIDERS):
            city = cities[p_index % len(cities)]
            place = gazetteer.gemeinde(city.ags)
            if place is None:
                continue
            city_name = city.name.split(",")[0]
            org_id = _id("provider", provider, kreis_key)
            number += 1
            location = _office(gazetteer, org_id, f"{provider} {city_name} – Beratungszentrum", place, number)
            services = []
            for t_index, template in enumerate(OFFER_TEMPLATES):
                if (t_index + p_index) % 3 == 2:
                    continue  # not every provider offers everything
                title, description, topics, domains, groups, languages = template
                svc_id = _id(org_id, "service", title)
                attributes = [
                    {
                        "id": _id(svc_id, "attr", term),
                        "taxonomy_term_id": term_ids[term],
                        "link_entity": "service",
                        "link_type": "topic" if term in TOPICS else "target_group",
                        "value": term,
                    }
                    for term in [*topics, *groups]
                ]
                services.append(
                    {
                        "id": svc_id,
                        "organization_id": org_id,
                        "name": f"{title} ({city_name})",
                        "description": f"{description} Demodaten.",
                        "status": "active",
                        "demo": True,
                        "legal_domains": domains,
                        "email": f"angebot-{number}-{t_index}@demo.lotse.invalid",
                        "verified_at": f"{VERIFIED_ON}T09:00:00Z" if t_index % 5 else None,
                        "verified_by": "demo",
                        "languages": [
                            {"id": _id(svc_id, "lang", code), "code": code, "name": code} for code in ["de", *languages]
                        ],
                        "attributes": attributes,
                        "service_at_locations": [{"id": _id(svc_id, "sal"), "location_id": location["id"]}],
                        "schedules": _weekday_schedules("service_id", svc_id, "TU" if t_index % 2 else "TH"),
                    }
                )
            yield {
                "organization": {
                    "id": org_id,
                    "name": f"{provider} {region_name} (Demo)",
                    "description": f"Demodaten: Träger von Angeboten in {region_name}.",
                    "demo": True,
                    "verified_at": f"{VERIFIED_ON}T09:00:00Z",
                    "verified_by": "demo",
                    "locations": [location],
                },
                "services": services,
            }


def demo_document(gazetteer: Gazetteer) -> dict[str, Any]:
    """The whole demo data set as one HSDS JSON document (our export format)."""
    taxes, _ = taxonomies()
    organizations = list(authorities(gazetteer))
    services: list[dict[str, Any]] = []
    for provider in offers(gazetteer):
        organizations.append(provider["organization"])
        services.extend(provider["services"])
    for svc in services:
        if svc.get("verified_at") is None:
            svc.pop("verified_at")
    return {
        "organizations": organizations,
        "services": services,
        "taxonomies": taxes,
        "taxonomy_terms": taxonomy_terms(),
        "generated_at": date.today().isoformat(),
    }
