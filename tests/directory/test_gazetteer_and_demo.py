"""The offline gazetteer behind geopy's interface, and the NRW demo data set."""

from collections import Counter

from lotse_directory.adapters.geocoding.gazetteer import GazetteerGeocoder, packaged_gazetteer
from lotse_directory.use_cases.demo import KIM_REGIONS, demo_document


def test_geocoder_answers_plz_plz_ort_gemeinde_and_ags() -> None:
    geocoder = GazetteerGeocoder()
    assert geocoder.geocode("58452").raw["ags"] == "05954036"
    assert geocoder.geocode("58452 Witten").raw["kreis_key"] == "05954"
    assert geocoder.geocode("Wetter (Ruhr)").raw["ags"] == "05954032"
    assert geocoder.geocode("05954036").raw["name"].startswith("Witten")
    assert geocoder.geocode("Muenchen").raw["ags"] == "09162000"
    assert geocoder.geocode("99999") is None
    # a postal address: the gazetteer knows no streets, its "PLZ Ort" part decides
    assert geocoder.geocode("Ruhrstraße 1, 58452 Witten").raw["ags"] == "05954036"
    assert geocoder.geocode("c/o Muster, Hauptstr. 5, 58300 Wetter (Ruhr)").raw["ags"] == "05954032"
    location = geocoder.geocode("46045")
    assert 51.4 < location.latitude < 51.6 and 6.7 < location.longitude < 7.0


def test_demo_data_covers_every_nrw_kreis_and_the_kim_regions() -> None:
    document = demo_document(packaged_gazetteer())
    kreise = {k for k, _ in packaged_gazetteer().iter_kreise("05")}
    assert len(kreise) == 53
    by_domain: Counter[str] = Counter()
    for org in document["organizations"]:
        assert org["demo"] is True and "(Demo)" in org["name"]
        for jurisdiction in org.get("jurisdictions", []):
            if len(jurisdiction["region_key"]) == 5:
                by_domain[jurisdiction["legal_domain"]] += 1
    assert all(by_domain[d] == 53 for d in ("SGB_II", "SGB_III", "SGB_VIII", "AUFENTHG", "STAG"))
    cities = [
        j["region_key"]
        for o in document["organizations"]
        for j in o.get("jurisdictions", [])
        if len(j["region_key"]) == 8 and j["region_key"].startswith("05954")
    ]
    assert len(cities) >= 8  # the cities of the Ennepe-Ruhr-Kreis with their own Jugendamt
    offers = [s for o in document["organizations"] for s in o.get("services", [])] + document["services"]
    assert len(offers) >= 150
    languages = {lang["code"] for s in offers for lang in s["languages"]}
    assert {"de", "en", "ar", "tr", "ru", "uk", "bs", "fr", "fa"} <= languages
    assert len(KIM_REGIONS) == 4


def test_demo_data_loads_through_the_import(sqlite_api) -> None:  # type: ignore[no-untyped-def]
    from lotse_contracts import Role, TokenClaims

    admin = TokenClaims("t", Role.ADMIN, None)
    report = sqlite_api.container.exchange.import_json(admin, demo_document(packaged_gazetteer()))
    assert report.created["service"] >= 150 and report.created["jurisdiction"] >= 265


def test_a_large_recipients_plz_is_a_place_per_gemeinde_or_kreis_not_a_firm() -> None:
    geocoder = GazetteerGeocoder()
    found = geocoder.geocode("32046", exactly_one=False)  # 13 firms in the Kreis Herford, one in Bielefeld
    assert [(f.address, f.raw["ags"], f.raw["kreis_key"], f.raw["rows"], f.raw["large_recipient"]) for f in found] == [
        ("32046 Kreis Herford", None, "05758", 13, True),
        ("32046 Bielefeld", "05711000", "05711", 1, True),
    ]
    # the town of "PLZ Ort" keeps the places in the Kreis of a Gemeinde of that name
    assert [f.raw["kreis_key"] for f in geocoder.geocode("Hauptstr. 1, 32046 Herford", exactly_one=False)] == ["05758"]
    assert geocoder.geocode("58452").raw["large_recipient"] is False


def test_every_postal_code_resolves_to_a_gemeinde_or_at_least_its_kreis() -> None:
    gazetteer = packaged_gazetteer()
    geocoder = GazetteerGeocoder(gazetteer)
    codes = {p.postal_code for p in gazetteer.postal_places()}
    assert len(codes) > 8000
    for code in codes:
        for found in geocoder.geocode(code, exactly_one=False):
            key = found.raw["ags"] or found.raw["kreis_key"]
            assert len(key) in (5, 8) and key.startswith(found.raw["kreis_key"]), (code, found.raw)
            assert gazetteer.kreis(found.raw["kreis_key"]) is not None


def test_kreise_and_places_that_are_no_gemeinde_are_found_by_name() -> None:
    geocoder = GazetteerGeocoder()
    for name, key in [("Kreis Herford", "05758"), ("Ennepe-Ruhr-Kreis", "05954"), ("Lippe", "05766")]:
        found = geocoder.geocode(name)
        assert (found.raw["kind"], found.raw["kreis_key"], found.raw["ags"]) == ("kreis", key, None)
    # GeoNames shortens "Emmerich am Rhein" and "Fröndenberg/Ruhr"; both still get their Gemeinde
    assert geocoder.geocode("Emmerich").raw["ags"] == "05154008"
    assert geocoder.geocode("58730").raw["ags"] == "05978012"
    assert geocoder.geocode("Herford").raw["ags"] == "05758012"  # a Gemeinde wins over the Kreis of its name
