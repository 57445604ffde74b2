"""A deterministic directory of N offers spread over NRW, as one HSDS 3.0 JSON document (our import format).

Providers sit at real PLZ places of NRW (denser where PLZ are dense: in the cities); each runs one to
three offices and offers built from realistic German titles and sentences. Word frequencies span
very common ("Beratung" in most offers) to rare (specialist terms, small Gemeinden in a few dozen
offers), so that searches meet both long and short posting lists. The same seed gives the same file.

    python bench/generate.py --offers 100000 --out var/bench/offers-100000.json
"""

import argparse
import json
import random
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from lotse_directory.adapters.geocoding.gazetteer import Gazetteer, Place, packaged_gazetteer
from lotse_directory.use_cases import demo
from lotse_directory.use_cases.demo import TARGET_GROUPS, TOPICS, taxonomies, taxonomy_terms

NS = uuid.UUID("0f6d1c8e-41c2-4bb4-8a35-b3a1f0d7e9a2")
TODAY = date(2026, 11, 1)
OFFERS_PER_PROVIDER = 20

# (title, topics, legal domains, target groups)
KINDS: list[tuple[str, list[str], list[str], list[str]]] = [
    ("Integrationskurs", ["Sprache"], ["AUFENTHG"], ["Neuzugewanderte"]),
    ("Integrationskurs mit Alphabetisierung", ["Sprache"], ["AUFENTHG"], ["Geflüchtete"]),
    ("Berufssprachkurs", ["Sprache", "Arbeit"], ["SGB_II", "SGB_III"], ["Fachkräfte"]),
    ("Deutschkurs für Frauen mit Kinderbetreuung", ["Sprache", "Familie"], [], ["Frauen"]),
    ("Sprachcafé", ["Sprache", "Soziale Teilhabe"], [], ["Neuzugewanderte"]),
    ("Migrationsberatung für Erwachsene", ["Beratung", "Aufenthalt"], ["AUFENTHG", "SGB_II"], ["Neuzugewanderte"]),
    ("Jugendmigrationsdienst", ["Ausbildung", "Kita/Schule"], ["SGB_VIII"], ["Jugendliche"]),
    ("Anerkennungsberatung", ["Arbeit"], ["SGB_III"], ["Fachkräfte"]),
    ("Sozialberatung für Geflüchtete", ["Existenzsicherung", "Aufenthalt"], ["SGB_II", "ASYLBLG"], ["Geflüchtete"]),
    ("Asylverfahrensberatung", ["Aufenthalt", "Beratung"], ["AUFENTHG", "ASYLBLG"], ["Geflüchtete"]),
    ("Familienzentrum Elterncafé", ["Familie", "Kita/Schule"], ["SGB_VIII"], ["Familien"]),
    ("Erziehungsberatung", ["Familie", "Beratung"], ["SGB_VIII"], ["Familien", "Jugendliche"]),
    ("Frauenberatungsstelle", ["Beratung", "Gesundheit"], [], ["Frauen"]),
    ("Wohnraumberatung", ["Wohnen"], ["SGB_II", "SGB_XII"], ["Familien"]),
    ("Gesundheitslotsen", ["Gesundheit"], [], ["Ältere Menschen"]),
    ("Einbürgerungsberatung", ["Einbürgerung"], ["STAG"], ["Neuzugewanderte"]),
    ("Ausbildungsbegleitung", ["Ausbildung"], ["SGB_III"], ["Jugendliche", "Geflüchtete"]),
    ("Pflegeberatung für Zugewanderte", ["Pflege", "Gesundheit"], ["SGB_IX"], ["Ältere Menschen"]),
    ("Beratung für EU-Zugewanderte", ["Arbeit", "Existenzsicherung"], ["SGB_II", "SGB_III"], ["EU-Bürger*innen"]),
    ("Schuldnerberatung", ["Existenzsicherung", "Beratung"], ["SGB_II", "SGB_XII"], ["Familien"]),
    ("Suchtberatung", ["Gesundheit", "Beratung"], [], ["Jugendliche"]),
    ("Hausaufgabenhilfe", ["Kita/Schule"], ["SGB_VIII"], ["Jugendliche"]),
    ("Bewerbungstraining", ["Arbeit"], ["SGB_II", "SGB_III"], ["Neuzugewanderte"]),
    ("Jobcoaching", ["Arbeit"], ["SGB_II"], ["Fachkräfte", "Frauen"]),
    ("Berufsorientierung für junge Zugewanderte", ["Ausbildung", "Arbeit"], ["SGB_III"], ["Jugendliche"]),
    ("Psychosoziale Beratung für Geflüchtete", ["Gesundheit", "Beratung"], ["ASYLBLG"], ["Geflüchtete"]),
    ("Schwangerschaftsberatung", ["Gesundheit", "Familie"], [], ["Frauen", "Familien"]),
    ("Kita-Einstiegsprojekt", ["Kita/Schule", "Familie"], ["SGB_VIII"], ["Familien"]),
    ("Schulsozialarbeit", ["Kita/Schule"], ["SGB_VIII"], ["Jugendliche"]),
    ("Patenschaftsprogramm", ["Soziale Teilhabe"], [], ["Geflüchtete", "Familien"]),
    ("Sprach- und Kulturmittlung", ["Sprache", "Gesundheit"], [], ["Neuzugewanderte"]),
    ("Behördenlotsen", ["Beratung", "Existenzsicherung"], ["SGB_II"], ["Neuzugewanderte", "Ältere Menschen"]),
    ("Mädchentreff", ["Soziale Teilhabe"], ["SGB_VIII"], ["Jugendliche", "Frauen"]),
    ("Computerkurs für Seniorinnen und Senioren", ["Soziale Teilhabe"], [], ["Ältere Menschen"]),
    ("Beratung zum Familiennachzug", ["Aufenthalt", "Familie"], ["AUFENTHG"], ["Familien"]),
    ("Beratung für Studierende aus dem Ausland", ["Aufenthalt", "Ausbildung"], ["AUFENTHG"], ["Studierende"]),
    ("Teilhabeberatung für Menschen mit Behinderung", ["Beratung", "Pflege"], ["SGB_IX"], ["Menschen mit Behinderung"]),
    ("Existenzgründungsberatung", ["Arbeit"], ["SGB_II"], ["Fachkräfte"]),
    ("Elternkurs Starke Eltern", ["Familie"], ["SGB_VIII"], ["Familien"]),
    ("Nähcafé und Frauentreff", ["Soziale Teilhabe"], [], ["Frauen"]),
]
QUALIFIERS = [
    "",
    "",
    "",
    " am Abend",
    " am Wochenende",
    " online",
    " für Anfängerinnen und Anfänger",
    " (A1)",
    " (B1)",
    " mit Kinderbetreuung",
    " in Teilzeit",
    " für Frauen",
]
SENTENCES = [
    "Wir beraten vertraulich, kostenlos und auf Wunsch anonym.",
    "Die Beratung findet in unserer Beratungsstelle oder telefonisch statt.",
    "Termine nach Vereinbarung, offene Sprechstunde einmal in der Woche.",
    "Wir helfen beim Ausfüllen von Anträgen und erklären Bescheide des Jobcenters.",
    "Unterstützung bei Fragen zu Aufenthaltstitel, Duldung und Niederlassungserlaubnis.",
    "Begleitung zu Behörden, Ärztinnen und Ärzten, Schulen und Kindertagesstätten.",
    "Das Angebot richtet sich an Menschen mit Einwanderungsgeschichte jeden Alters.",
    "Eine Kinderbetreuung während der Kurszeiten ist möglich.",
    "Die Kurse werden vom Bundesamt für Migration und Flüchtlinge gefördert.",
    "Wir arbeiten eng mit dem Jugendamt, dem Jobcenter und der Ausländerbehörde zusammen.",
    "Die Teilnahme ist für Leistungsberechtigte nach dem SGB II kostenfrei.",
    "Ehrenamtliche Sprachpatinnen und Sprachpaten begleiten die Gruppe.",
    "Wir vermitteln in Praktika, Ausbildung und Arbeit und begleiten die ersten Monate im Betrieb.",
    "Auf Wunsch vermitteln wir Dolmetscherinnen und Dolmetscher.",
    "Barrierefreier Zugang, ein Aufzug ist vorhanden.",
    "Bitte bringen Sie Ihren Ausweis und vorhandene Bescheide mit.",
    "Gemeinsam klären wir, welche Leistungen Ihnen zustehen.",
    "Wir beraten zu Kindergeld, Elterngeld und Kinderzuschlag.",
    "Unterstützung bei der Wohnungssuche und bei Fragen zum Mietvertrag.",
    "Vorbereitung auf den Test Leben in Deutschland und den Einbürgerungstest.",
    "Hilfe bei der Anerkennung ausländischer Berufsabschlüsse und Zeugnisse.",
    "Frauen in Krisensituationen finden bei uns Schutz und Begleitung.",
    "Das Angebot ist Teil des Kommunalen Integrationsmanagements.",
    "Jugendliche erhalten Unterstützung bei Schule, Ausbildung und Berufswahl.",
    "Wir informieren über Sprachkurse, Integrationskurse und Berufssprachkurse in der Region.",
]
# Rare words: each in a small share of the offers.
RARE = [
    "Chancenkarte",
    "Beschäftigungsduldung",
    "Westbalkanregelung",
    "Verpflichtungserklärung",
    "Wohnberechtigungsschein",
    "Bildungs- und Teilhabepaket",
    "Blaue Karte EU",
    "Ausbildungsduldung",
    "Härtefallkommission",
    "Traumatherapie",
    "Anpassungsqualifizierung",
    "Meisterbrief",
    "Gesundheitskarte",
    "Mutterschutz",
    "Unterhaltsvorschuss",
    "Schulanmeldung",
    "Sprachstandsfeststellung",
    "Fahrradwerkstatt",
    "Stadtteilmütter",
    "Hebammensprechstunde",
    "Impfsprechstunde",
    "Mietschuldenberatung",
    "Rentenversicherung",
    "Krankenversicherung",
    "Führerscheinumschreibung",
    "Schwimmkurs",
    "Lernpatenschaft",
    "Wohnungsnotfallhilfe",
    "Opferberatung",
    "Antidiskriminierungsberatung",
]
PROVIDERS = [
    *demo.PROVIDERS,
    "Malteser Hilfsdienst",
    "Johanniter",
    "Jugendhilfe e. V.",
    "Bildungswerk",
    "Verband binationaler Familien",
    "Multikulturelles Forum",
    "Migrantenselbstorganisation",
    "Sprachschule",
]
LANGUAGES = ["ar", "fa", "tr", "ru", "uk", "en", "fr", "pl", "ro", "bg", "ku", "ti", "so", "sq", "bs", "es", "it", "ps"]
CONTACT_ROLES = ["Sozialarbeiterin", "Sozialpädagoge", "Integrationslotsin", "Kursleitung", "Fachberatung Migration"]


def _id(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(str(p) for p in parts)))


def _city(place: Place) -> str:
    return place.name.split(",")[0]


def _schedules(owner_key: str, owner_id: str, rng: random.Random) -> list[dict[str, Any]]:
    days = rng.choice(["MO,TU,WE,TH,FR", "MO,TU,WE,TH", "TU,TH", "MO,WE,FR", "WE"])
    opens = rng.choice(["08:00", "08:30", "09:00", "10:00"])
    out = [
        {
            "id": _id(owner_id, "schedule", "day"),
            owner_key: owner_id,
            "freq": "WEEKLY",
            "byday": days,
            "opens_at": opens,
            "closes_at": rng.choice(["12:00", "13:00", "15:00", "16:30"]),
            "closed_on_public_holidays": True,
        }
    ]
    if rng.random() < 0.5:
        out.append(
            {
                "id": _id(owner_id, "schedule", "late"),
                owner_key: owner_id,
                "freq": "WEEKLY",
                "byday": rng.choice(["TU", "TH", "WE"]),
                "opens_at": "16:00",
                "closes_at": rng.choice(["18:00", "19:30", "20:00"]),
                "description": "Abendsprechstunde",
                "closed_on_public_holidays": True,
            }
        )
    return out


def _verified(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    days = rng.randrange(0, 300) if roll < 0.8 else rng.randrange(366, 1500)  # a fifth are stale
    return f"{TODAY - timedelta(days=days)}T09:00:00Z"


class Generator:
    def __init__(self, gazetteer: Gazetteer, seed: int) -> None:
        self.rng = random.Random(seed)
        self.places = [p for p in gazetteer.postal_places("05") if p.ags]
        self.by_kreis: dict[str, list[Place]] = {}
        for p in self.places:
            self.by_kreis.setdefault(p.kreis_key, []).append(p)
        _, self.term_ids = taxonomies()

    def _location(self, org_id: str, provider: str, place: Place, n: int) -> dict[str, Any]:
        rng = self.rng
        loc_id = _id(org_id, "location", n)
        assert place.postal_code is not None
        confidential = rng.random() < 0.02  # shelters and similar: known to case managers only
        return {
            "id": loc_id,
            "location_type": "physical",
            "name": f"{provider} {_city(place)} – {rng.choice(['Beratungszentrum', 'Begegnungsstätte', 'Büro'])}",
            "latitude": round(place.latitude + rng.uniform(-0.01, 0.01), 6),
            "longitude": round(place.longitude + rng.uniform(-0.015, 0.015), 6),
            "addresses": [
                {
                    "id": _id(loc_id, "address"),
                    "address_1": f"{rng.choice(['Haupt', 'Bahnhof', 'Kirch', 'Schul', 'Markt'])}straße {n + 1}",
                    "city": _city(place),
                    "state_province": "Nordrhein-Westfalen",
                    "postal_code": place.postal_code,
                    "country": "DE",
                    "address_type": "physical",
                    "visibility": "case_managers" if confidential else "public",
                }
            ],
            "schedules": _schedules("location_id", loc_id, rng),
        }

    def _offer(self, org_id: str, city: str, locations: list[dict[str, Any]], n: int) -> dict[str, Any]:
        rng = self.rng
        title, topics, domains, groups = rng.choice(KINDS)
        svc_id = _id(org_id, "service", n)
        topics = sorted({*topics, *rng.sample(TOPICS, rng.choice([0, 0, 1]))})
        groups = sorted({*groups, *rng.sample(TARGET_GROUPS, rng.choice([0, 1]))})
        words = rng.sample(SENTENCES, rng.randint(2, 4))
        if rng.random() < 0.15:
            words.append(f"Schwerpunkt: {rng.choice(RARE)}.")
        words.append(f"Angebot in {city}.")
        languages = ["de", *rng.sample(LANGUAGES, rng.randint(1, 4))]
        offer: dict[str, Any] = {
            "id": svc_id,
            "organization_id": org_id,
            "name": f"{title}{rng.choice(QUALIFIERS)}",
            "description": " ".join(words),
            "status": "active" if rng.random() < 0.98 else "inactive",
            "legal_domains": domains,
            "email": f"angebot-{n}@bench.lotse.invalid",
            "languages": [{"id": _id(svc_id, "lang", code), "code": code} for code in languages],
            "attributes": [
                {
                    "id": _id(svc_id, "attr", term),
                    "taxonomy_term_id": self.term_ids[term],
                    "link_entity": "service",
                    "link_type": "topic" if term in TOPICS else "target_group",
                    "value": term,
                }
                for term in [*topics, *groups]
            ],
            "service_at_locations": [
                {"id": _id(svc_id, "sal", loc["id"]), "location_id": loc["id"]}
                for loc in rng.sample(locations, 1 if len(locations) == 1 or rng.random() < 0.8 else 2)
            ],
        }
        verified = _verified(rng)
        if verified:
            offer["verified_at"] = verified
            offer["verified_by"] = "bench"
        if rng.random() < 0.2:
            offer["schedules"] = _schedules("service_id", svc_id, rng)
        if rng.random() < 0.3:
            offer["contacts"] = [
                {
                    "id": _id(svc_id, "contact"),
                    "title": rng.choice(CONTACT_ROLES),
                    "email": f"kontakt-{n}@bench.lotse.invalid",
                    "visibility": "public",
                }
            ]
        return offer

    def providers(self, offers: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        rng = self.rng
        made = 0
        n = 0
        while made < offers:
            n += 1
            home = rng.choice(self.places)
            provider = rng.choice(PROVIDERS)
            org_id = _id("provider", n)
            nearby = self.by_kreis[home.kreis_key]
            sites = [home, *rng.sample(nearby, min(len(nearby), rng.choice([0, 0, 1, 2])))]
            locations = [self._location(org_id, provider, place, i) for i, place in enumerate(sites)]
            count = min(offers - made, rng.randint(OFFERS_PER_PROVIDER // 2, OFFERS_PER_PROVIDER * 3 // 2))
            services = [self._offer(org_id, _city(home), locations, made + i) for i in range(count)]
            made += count
            organization = {
                "id": org_id,
                "name": f"{provider} {_city(home)} {n}",
                "description": f"Träger von Angeboten für Zugewanderte im {home.kreis_name}.",
                "email": f"info-{n}@bench.lotse.invalid",
                "verified_at": f"{TODAY}T09:00:00Z",
                "verified_by": "bench",
                "locations": locations,
            }
            yield organization, services


def document(offers: int, seed: int = 2026) -> dict[str, Any]:
    organizations, services = [], []
    for organization, offered in Generator(packaged_gazetteer(), seed).providers(offers):
        organizations.append(organization)
        services.extend(offered)
    taxes, _ = taxonomies()
    return {
        "organizations": organizations,
        "services": services,
        "taxonomies": taxes,
        "taxonomy_terms": taxonomy_terms(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document(args.offers, args.seed), ensure_ascii=False), "utf-8")
    print(f"{args.offers} offers written to {args.out}")


if __name__ == "__main__":
    main()
