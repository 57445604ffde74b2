"""The Merkliste as a PDF: checked as the client gets it, by its text (poppler's pdftotext), its fonts and tags
(pdffonts, pdfinfo), and by rendering its pages to images (pdftoppm) from which the QR codes are read back."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import server_missing
from tests.routing.conftest import Directory
from tests.web.conftest import csrf, signed_in


def poppler(tool: str, *args: str) -> str:
    """What a poppler tool prints (skipped without poppler-utils on a laptop, failed in CI)."""
    if shutil.which(tool) is None:
        server_missing(f"poppler's {tool}", "apt-get install -y poppler-utils")
    return subprocess.run([tool, *args], check=True, capture_output=True, text=True).stdout


def _keep_offers(client: FlaskClient, how_many: int) -> dict[str, str]:
    """Keeps the first offers of a search on the list: their names by id."""
    results = client.get("/angebote?q=Beratung&ort=58453&umkreis=25").get_data(as_text=True)
    links = list(dict.fromkeys(re.findall(r'href="(/angebote/[0-9a-f-]{36})"', results)))[:how_many]
    kept = {}
    for link in links:
        page = client.get(link).get_data(as_text=True)
        ident = link.rsplit("/", 1)[1]
        client.post("/merkliste", data={"csrf_token": csrf(page), "angebot": ident})
        kept[ident] = re.findall(r'<h1 class="kern-heading-large">([^<]+)</h1>', page)[0]
    return kept


def test_the_list_downloads_as_a_tagged_pdf_with_its_text_headings_fonts_and_readable_qr_codes(
    web_app: Flask, directory: Directory, tmp_path: Path
) -> None:
    import zxingcpp
    from PIL import Image

    client = signed_in(web_app, "cm.witten")
    kept = _keep_offers(client, 3)
    assert len(kept) == 3
    listed = client.get("/merkliste?sprache=ar").get_data(as_text=True)
    assert 'href="/merkliste.pdf?sprache=ar" download>Merkliste als PDF herunterladen</a>' in listed

    answer = client.get("/merkliste.pdf?sprache=ar")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="merkliste.pdf"'
    assert answer.headers["Cache-Control"] == "no-store"
    document = tmp_path / "merkliste.pdf"
    document.write_bytes(answer.data)

    text = poppler("pdftotext", "-enc", "UTF-8", str(document), "-")
    flat = " ".join(text.split())
    assert "Angebote für Sie" in flat and "Wo?" in flat
    for ident, name in kept.items():
        assert " ".join(name.split()) in flat
        assert f"http://localhost/oeffentlich/angebote/{ident}" in flat
    assert re.search(r"Lotse · Merkliste vom \d\d\.\d\d\.\d{4} · Seite 1 von \d", flat)
    fonts = poppler("pdffonts", str(document))
    assert "Fira-Sans" in fonts and "Noto-Sans-Arabic" in fonts  # the Arabic headings in a font that has them
    info = poppler("pdfinfo", str(document))
    assert re.search(r"^Tagged:\s+yes$", info, re.M)  # for screen readers (PDF/UA-1)
    assert re.search(r"^Title:\s+Angebote für Sie · عروض لك$", info, re.M)

    poppler("pdftoppm", "-r", "150", "-png", str(document), str(tmp_path / "seite"))
    pages = sorted(tmp_path.glob("seite*.png"))
    assert pages
    read = {code.text for page in pages for code in zxingcpp.read_barcodes(Image.open(page))}
    assert read == {f"http://localhost/oeffentlich/angebote/{ident}" for ident in kept}


def test_the_pdf_of_an_empty_list_is_the_list_and_without_the_renderer_the_case_manager_is_told_to_print(
    web_app: Flask, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(web_app, "cm.witten")
    empty = client.get("/merkliste.pdf")
    assert empty.status_code == 302 and empty.headers["Location"] == "/merkliste"
    _keep_offers(client, 1)
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as on a machine without it: the import fails
    missing = client.get("/merkliste.pdf?sprache=fa")
    assert missing.status_code == 302 and missing.headers["Location"] == "/merkliste?sprache=fa"
    assert "Das PDF kann gerade nicht erstellt werden" in client.get("/merkliste").get_data(as_text=True)
    assert web_app.test_client().get("/merkliste.pdf").status_code == 302  # signed out: to the login


def test_the_renderer_reads_no_file_outside_the_application_s_own_and_nothing_from_the_network(
    tmp_path: Path,
) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from lotse_web.adapters.pdf import render
    from PIL import Image

    own = tmp_path / "own"
    own.mkdir()
    Image.new("RGB", (8, 8), "red").save(own / "mark.png")
    Image.new("RGB", (8, 8), "blue").save(tmp_path / "secret.png")
    asked: list[str] = []

    class Counting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write((own / "mark.png").read_bytes())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    Thread(target=server.serve_forever, daemon=True).start()
    document = tmp_path / "out.pdf"

    def images(src: str) -> int:
        document.write_bytes(render(f'<html lang="de"><title>t</title><img src="{src}" alt="Bild">', own))
        return len(poppler("pdfimages", "-list", str(document)).splitlines()) - 2  # two header lines

    try:
        assert images("mark.png") == 1  # the application's own file
        assert images((own / "mark.png").as_uri()) == 1
        assert images("../secret.png") == 0
        assert images((tmp_path / "secret.png").as_uri()) == 0
        assert images(f"http://127.0.0.1:{server.server_port}/mark.png") == 0
        assert asked == []
    finally:
        server.shutdown()
        server.server_close()
