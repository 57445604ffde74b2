"""The Merkliste: a case manager keeps offers from the search, sees them with what the client needs, with
the headings in the client's language beside the German ones, removes and clears them; nobody else has one."""

import re

from flask import Flask
from lotse_contracts import Role

from tests.routing.conftest import Directory
from tests.web.conftest import WITTEN, add_user, csrf, signed_in


def _offer_links(page: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'href="(/angebote/[0-9a-f-]{36})"', page)))


def test_a_case_manager_keeps_offers_and_prints_them_with_headings_in_the_client_s_language(
    web_app: Flask, directory: Directory
) -> None:
    client = signed_in(web_app, "cm.witten")
    assert "Merkliste (" not in client.get("/").get_data(as_text=True)  # nothing kept: no link
    results = client.get("/angebote?q=Beratung&ort=58453&umkreis=25").get_data(as_text=True)
    links = _offer_links(results)[:2]
    assert len(links) == 2
    names = []
    for link in links:
        offer = client.get(link).get_data(as_text=True)
        names.append(re.findall(r'<h1 class="kern-heading-large">([^<]+)</h1>', offer)[0])
        kept = client.post(
            "/merkliste", data={"csrf_token": csrf(offer), "angebot": link.rsplit("/", 1)[1], "zurueck": link}
        )
        assert kept.status_code == 302 and kept.headers["Location"] == link
    again = client.post("/merkliste", data={"csrf_token": csrf(offer), "angebot": links[1].rsplit("/", 1)[1]})
    assert again.status_code == 302  # kept once only
    start = client.get("/").get_data(as_text=True)
    assert 'href="/merkliste">Merkliste (2)</a>' in start

    listed = client.get("/merkliste?sprache=ar").get_data(as_text=True)
    for name in names:
        assert f">{name}</h3>" in listed
    assert 'Angebote für Sie · <span lang="ar" dir="rtl">عروض لك</span>' in listed
    assert 'Wo? · <span lang="ar" dir="rtl">أين؟</span>' in listed
    ukrainian = client.get("/merkliste?sprache=uk").get_data(as_text=True)
    assert 'Angebote für Sie · <span lang="uk" dir="ltr">Пропозиції для вас</span>' in ukrainian
    german = client.get("/merkliste?sprache=xx").get_data(as_text=True)  # unknown: German alone
    assert '<h2 class="kern-heading-large">Angebote für Sie</h2>' in german

    removed = client.post(
        "/merkliste/entfernen",
        data={"csrf_token": csrf(listed), "angebot": links[0].rsplit("/", 1)[1], "zurueck": "/merkliste?sprache=ar"},
    )
    assert removed.headers["Location"] == "/merkliste?sprache=ar"
    left = client.get("/merkliste").get_data(as_text=True)
    assert f">{names[0]}</h3>" not in left and f">{names[1]}</h3>" in left
    client.post("/merkliste/leeren", data={"csrf_token": csrf(left)})
    assert "Die Merkliste ist leer." in client.get("/merkliste").get_data(as_text=True)


def test_a_foreign_return_address_and_a_wrong_id_are_refused_and_only_case_managers_keep_a_list(
    web_app: Flask, directory: Directory
) -> None:
    client = signed_in(web_app, "cm.witten")
    token = csrf(client.get("/merkliste").get_data(as_text=True))
    assert client.post("/merkliste", data={"csrf_token": token, "angebot": "../etwas"}).status_code == 404
    ident = "00000000-0000-4000-8000-000000000000"  # no such offer: kept, but not shown
    elsewhere = client.post("/merkliste", data={"csrf_token": token, "angebot": ident, "zurueck": "//boese.example/"})
    assert elsewhere.headers["Location"] == "/merkliste"
    backslash = client.post("/merkliste", data={"csrf_token": token, "angebot": ident, "zurueck": "/\\boese.example/"})
    assert backslash.headers["Location"] == "/merkliste"
    assert "1 gemerktes Angebot steht nicht mehr im Verzeichnis" in client.get("/merkliste").get_data(as_text=True)
    add_user(directory, "ja.witten", "Jan A.", Role.AGENCY, WITTEN)
    agency = signed_in(web_app, "ja.witten")
    assert agency.get("/merkliste").status_code == 404
    assert (
        agency.post("/merkliste/leeren", data={"csrf_token": csrf(agency.get("/").get_data(as_text=True))}).status_code
        == 404
    )
    signed_out = web_app.test_client().get("/merkliste")
    assert signed_out.status_code == 302 and "/anmelden" in signed_out.headers["Location"]


def test_how_to_get_there_is_on_the_list_where_the_location_says(web_app: Flask, directory: Directory) -> None:
    from tests.routing.conftest import ADMIN
    from tests.web.test_maintain import maintained_offer

    _, offer_id, offer_name = maintained_offer(directory)
    entries = directory.container.entries
    organization_id = entries.get(ADMIN, "service", offer_id).values["organization_id"]
    location = entries.create(
        ADMIN,
        "location",
        {
            "organization_id": organization_id,
            "name": "Beratungsbüro am Rathaus",
            "location_type": "physical",
            "transportation": "Bus 371 bis Haltestelle Rathaus, dann 2 Minuten zu Fuß",
        },
    ).values
    entries.create(ADMIN, "service_at_location", {"service_id": offer_id, "location_id": location["id"]})
    client = signed_in(web_app, "cm.witten")
    page = client.get(f"/angebote/{offer_id}").get_data(as_text=True)
    client.post("/merkliste", data={"csrf_token": csrf(page), "angebot": offer_id})
    listed = client.get("/merkliste?sprache=tr").get_data(as_text=True)
    assert f">{offer_name}</h3>" in listed
    assert 'So kommen Sie hin · <span lang="tr" dir="ltr">Nasıl gidilir</span>' in listed
    assert "Bus 371 bis Haltestelle Rathaus, dann 2 Minuten zu Fuß" in listed


def test_each_offer_on_the_list_has_a_qr_code_of_its_public_page(web_app: Flask, directory: Directory) -> None:
    import html

    import segno

    client = signed_in(web_app, "cm.witten")
    results = client.get("/angebote?q=Beratung&ort=58453&umkreis=25").get_data(as_text=True)
    link = _offer_links(results)[0]
    ident = link.rsplit("/", 1)[1]
    client.post("/merkliste", data={"csrf_token": csrf(client.get(link).get_data(as_text=True)), "angebot": ident})
    listed = client.get("/merkliste").get_data(as_text=True)
    address = f"http://localhost/oeffentlich/angebote/{ident}"
    [image] = re.findall(r'<img src="([^"]+)" alt="QR-Code zur Seite des Angebots im Internet"', listed)
    assert html.unescape(image) == segno.make(address, error="m").svg_data_uri(scale=3, border=2)
    assert address in listed  # the address in writing too

    public = web_app.test_client().get(f"/oeffentlich/angebote/{ident}")  # the client's phone: no login
    page = public.get_data(as_text=True)
    assert public.status_code == 200 and "Nur für Fachkräfte" not in page and "Merkliste" not in page
    assert re.search(r'<h1 class="kern-heading-large">[^<]+</h1>', page)
    assert web_app.test_client().get("/oeffentlich/angebote/00000000-0000-4000-8000-000000000000").status_code == 404
    assert web_app.test_client().get("/oeffentlich/angebote/kein-angebot").status_code == 404
