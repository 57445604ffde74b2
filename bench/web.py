"""The web application's benchmark: its pages over HTTP beside the APIs they call, at 100,000 offers.

1. Imports the generated offers (bench/generate.py, as bench/run.py does) and the NRW demo data into a fresh
   embedded directory, gives the demo users their password, and serves directory, routing, notify and the
   web application as `make run` does (2 processes with 4 threads each).
2. Logs in through the login page as the demo case manager and the demo Jugendamt (session cookies, CSRF
   tokens), and sends 60 referrals to the Jugendamt over routing's API.
3. Search page against the API search: the same searches (words, place and radius, two filters, facets,
   some later pages), each sent to ``GET /api/v1/search`` exactly as the search page asks it and to the
   search page itself, alternating which goes first, from 4 client threads on keep-alive connections.
   Target (issue 24): the page's p95 within 1.5 times the API's p95 of the same run.
4. Every other page, each over and over from 4 threads: the case manager's and the agency's (start, empty
   search, an offer, "Wer ist zuständig?" with an answer, the list, a referral, the client's sheet, the
   inbox, a referral and the notification settings), the maintainer's (Verzeichnis pflegen, an offer's edit
   page and opening hours, the jurisdictions, import), the coordinator's figures (three filters) and the
   admin's deliveries. Target: p95 ≤ 150 ms on 2 cores.

    python bench/web.py                          # what `make bench` runs
    python bench/web.py --offers 20000 --searches 300 --pages 100 --keep
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lotse_directory.adapters.geocoding.gazetteer import packaged_gazetteer
from routing import start, stop
from run import (
    BIN,
    FILTERS,
    _free_port,
    _stats,
    import_offers,
    machine,
    offers_file,
    pace,
    send,
    words,
    write_result,
)

WORKERS, THREADS = "2", "4"
PAGE_RADII = (5, 10, 25, 50)
"""The radii the search page offers."""
PAGE_FILTERS = {"legal_domain": "rechtskreis", "language": "sprache", "topic": "thema", "target_group": "zielgruppe"}


class Session:
    """One keep-alive connection to a server, with the cookies it was given (a browser's session)."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
        self.headers = dict(headers or {})
        self.cookies: dict[str, str] = {}

    def cookie(self) -> str:
        """The session's cookies as a ``Cookie`` header (for bench/run.py's ``send``)."""
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def call(self, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, bytes, Any]:
        cookie = self.cookie()
        sent = {**self.headers, **headers, **({"Cookie": cookie} if cookie else {})}
        self.conn.request(method, path, body=body, headers=sent)
        response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data, response.headers


def web_login(base: str, login: str, password: str) -> Session:
    """Log in through the login page, as a browser does (CSRF token from the form, then the session cookie)."""
    session = Session(base)
    _, form, _ = session.call("GET", "/anmelden")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', form)
    assert token, form[:500]
    body = urllib.parse.urlencode({"login": login, "password": password, "csrf_token": token.group(1).decode()})
    status, answer, _ = session.call(
        "POST", "/anmelden", body.encode(), **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    if status != 302:
        raise SystemExit(f"login of {login} failed: {status} {answer[:300]!r}")
    return session


def api_token(directory: str, login: str, password: str) -> str:
    status, body, _ = Session(directory).call(
        "POST",
        "/api/v1/login",
        json.dumps({"login": login, "password": password}).encode(),
        **{"Content-Type": "application/json"},
    )
    assert status == 200, body
    return str(json.loads(body)["token"])


def searches(count: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """(kind, API path, page path) of ``count`` searches: the API's path is exactly the call the page makes."""
    rng = random.Random(seed)
    places = [p for p in packaged_gazetteer().postal_places("05") if p.ags]
    out = []
    for i in range(count):
        kind, text = words(rng)
        place = rng.choice(places)
        near = place.postal_code if rng.random() < 0.6 else f"{place.postal_code} {place.name.split(',')[0]}"
        radius = rng.choice(PAGE_RADII)
        page = 2 if i % 12 == 5 else 1
        api: list[tuple[str, Any]] = [("q", text), ("page", page), ("per_page", 20)]
        web: list[tuple[str, Any]] = [("q", text), ("ort", near), ("umkreis", radius), ("suchen", 1)]
        for name, values in rng.sample([f for f in FILTERS if f[0] in PAGE_FILTERS or f[0] == "open_now"], 2):
            value = rng.choice(values)
            if name == "open_now":
                web.append(("jetzt_offen", 1))
            else:
                api.append((name, value))
                web.append((PAGE_FILTERS[name], value))
        api += [("near", near), ("radius_km", radius)]
        if any(name == "jetzt_offen" for name, _ in web):
            api.append(("open_now", "true"))
        if page > 1:
            web.append(("seite", page))
        api = [(k, v) for k, v in api if v not in ("", None)]
        out.append((kind, "/api/v1/search?" + urllib.parse.urlencode(api), "/angebote?" + urllib.parse.urlencode(web)))
    return out


def side_by_side(
    api_base: str, token: str, web: Callable[[], Session], mix: Sequence[tuple[str, str, str]], clients: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], int]:
    """Each search to the API and to the page, alternating which goes first; latencies by kind."""
    api_ms: dict[str, list[float]] = defaultdict(list)
    page_ms: dict[str, list[float]] = defaultdict(list)
    errors = 0
    lock = threading.Lock()
    position = iter(range(len(mix)))

    def client() -> None:
        nonlocal errors
        api = Session(api_base, {"Authorization": f"Bearer {token}", "Accept": "application/json"})
        page = web()
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                return
            kind, api_path, page_path = mix[i]
            order = [("api", api, api_path), ("page", page, page_path)]
            for side, session, path in order if i % 2 else order[::-1]:
                begun = time.perf_counter()
                status, body, _ = session.call("GET", path)
                elapsed = (time.perf_counter() - begun) * 1000
                ok = status == 200 and (b"total_items" in body if side == "api" else b'id="ergebnisse"' in body)
                with lock:
                    errors += not ok
                    (api_ms if side == "api" else page_ms)[kind].append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return api_ms, page_ms, errors


def prepare(data: Path, var: Path, keep: bool) -> dict[str, Any]:
    env = {**os.environ, "LOTSE_VAR_DIR": str(var)}
    done = var / "prepared.json"
    if keep and done.exists():
        return {"skipped": "database kept from an earlier run"}
    imported = import_offers(data, var)
    for command in (["demo", "load"], ["users", "demo-logins"]):
        subprocess.run([BIN / "lotse-directory", *command], env=env, check=True, capture_output=True)
    done.write_text(json.dumps(imported))
    return imported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=1_000, help="searches, each to the API and the page")
    parser.add_argument("--pages", type=int, default=300, help="requests per other page")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the prepared database for the next run")
    args = parser.parse_args()

    data = offers_file(args.offers)
    var = data.parent / f"web-{args.offers}"
    result: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "offers": args.offers,
        "clients": args.clients,
        "import": prepare(data, var, args.keep),
    }
    password = (var / "demo-password").read_text().strip()
    ports = {name: _free_port() for name in ("directory", "routing", "notify", "web")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")},
        "LOTSE_VAR_DIR": str(var),
        "LOTSE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "LOTSE_ROUTING_DIRECTORY_URL": url["directory"],
        "LOTSE_NOTIFY_DIRECTORY_URL": url["directory"],
        "LOTSE_NOTIFY_ROUTING_URL": url["routing"],
        "LOTSE_ROUTING_NOTIFY_URL": url["notify"],
        "LOTSE_WEB_DIRECTORY_URL": url["directory"],
        "LOTSE_WEB_ROUTING_URL": url["routing"],
        "LOTSE_WEB_NOTIFY_URL": url["notify"],
    }
    for name, port in ports.items():
        prefix = f"LOTSE_{name.upper()}_"
        env |= {f"{prefix}PORT": str(port), f"{prefix}WORKERS": WORKERS, f"{prefix}THREADS": THREADS}
    for service in ("routing", "notify"):
        subprocess.run([BIN / f"lotse-{service}", "db", "upgrade"], env=env, check=True, capture_output=True)
    running = []
    try:
        for name in ("directory", "routing", "notify", "web"):
            running.append(start(f"lotse-{name}", env, url[name]))
        token = api_token(url["directory"], "demo-case-manager", password)
        referral_ids = send_referrals(url, token, 60)

        def case_manager() -> Session:
            return web_login(url["web"], "demo-case-manager", password)

        people = ("demo-case-manager", "demo-agency", "demo-maintainer", "demo-coordinator", "demo-admin")
        cookies = {who: web_login(url["web"], who, password).cookie() for who in people}

        mix = searches(args.searches + 200)
        side_by_side(url["directory"], token, case_manager, mix[:200], args.clients)  # warm-up
        result["pace_s"] = pace()
        api_ms, page_ms, errors = side_by_side(url["directory"], token, case_manager, mix[200:], args.clients)
        every_api = [x for values in api_ms.values() for x in values]
        every_page = [x for values in page_ms.values() for x in values]
        result["search"] = {
            "api": _stats(every_api),
            "page": _stats(every_page),
            "by_kind": {kind: {"api": _stats(api_ms[kind]), "page": _stats(page_ms[kind])} for kind in sorted(api_ms)},
            "errors": errors,
        }
        result["search"]["p95_ratio"] = round(result["search"]["page"]["p95_ms"] / result["search"]["api"]["p95_ms"], 2)
        print("search", result["search"]["api"], result["search"]["page"], result["search"]["p95_ratio"])

        offers = offer_ids(url["directory"], token)
        questions = [
            f"/zustaendigkeit?frage=1&rechtskreis={domain}&ort={plz}"
            + ("&wohnsitz=parents" if domain == "SGB_VIII" else "")
            for plz in ("58453", "58452", "58332", "45525", "58285", "58300", "58313", "58256")
            for domain in ("SGB_II", "SGB_III", "SGB_VIII", "AUFENTHG", "STAG")
        ]
        maintainer_token = api_token(url["directory"], "demo-maintainer", password)
        maintained = offer_ids(url["directory"], maintainer_token, own=True)
        home = json.loads(
            Session(url["directory"], {"Authorization": f"Bearer {maintainer_token}"}).call("GET", "/api/v1/me")[1]
        )["organization_id"]
        links = provider_links(url["directory"], maintainer_token, maintained[:5])
        n = args.pages
        cm, agency = "demo-case-manager", "demo-agency"
        maintainer, coordinator, admin = "demo-maintainer", "demo-coordinator", "demo-admin"
        plan: list[tuple[str, str, list[str], bytes]] = [
            ("Start", cm, ["/"], b"<h1"),
            ("Angebote suchen (leer)", cm, ["/angebote"], b'id="q"'),
            ("Angebot", cm, [f"/angebote/{i}" for i in offers], b"<h1"),
            ("Wer ist zuständig? (Antwort)", cm, questions, b'id="antwort"'),
            ("Meine Vermittlungen", cm, ["/vermittlungen"], b"kern-table"),
            ("Vermittlung (Absender)", cm, [f"/referrals/{i}" for i in referral_ids], b"<h1"),
            ("Merkblatt", cm, [f"/referrals/{i}/merkblatt" for i in referral_ids], b"lotse-sheet"),
            ("Eingang", agency, ["/vermittlungen"], b"kern-table"),
            ("Vermittlung (Empfänger)", agency, [f"/referrals/{i}" for i in referral_ids], b"<h1"),
            ("Benachrichtigungen", agency, ["/einstellungen/benachrichtigungen"], b"<h1"),
            ("Verzeichnis pflegen", maintainer, ["/pflege"], b'id="faellig"'),
            ("Angebot bearbeiten", maintainer, [f"/pflege/angebote/{i}" for i in maintained], b'id="verlauf"'),
            (
                "Öffnungszeiten",
                maintainer,
                [f"/pflege/angebote/{i}/oeffnungszeiten" for i in maintained],
                b"lotse-preview",
            ),
            (
                "Themen, Sprachen, Orte",
                maintainer,
                [f"/pflege/angebote/{i}/einordnung" for i in maintained],
                b'id="sprachen"',
            ),
            ("Alle Angaben", maintainer, [f"/pflege/alle-angaben/services/{i}" for i in maintained], b'id="verlauf"'),
            ("Organisationen", maintainer, ["/pflege/organisationen"], b"<h1"),
            ("Organisation", maintainer, [f"/pflege/organisationen/{home}"], b'id="orte"'),
            ("Zuständigkeiten", maintainer, ["/pflege/zustaendigkeiten"], b'id="liste"'),
            ("Importieren und exportieren", maintainer, ["/pflege/import"], b'id="datei"'),
            (
                "Zahlen",
                coordinator,
                ["/zahlen", "/zahlen?region=Witten", "/zahlen?rechtskreis=SGB_VIII"],
                b"lotse-chart",
            ),
            ("Zustellungen", admin, ["/verwaltung/zustellungen"], b"<h1"),
            ("Benutzer", admin, ["/verwaltung/benutzer"], b"kern-table"),
        ]
        if links:  # the provider's page (no account needed; any session will do)
            plan.append(("Anbieter bestätigt", maintainer, [f"/bestaetigen/{t}" for t in links], b"<h1"))
        result["pages"] = {}
        for name, who, paths, expect in plan:

            def ok(status: int, body: bytes, expect: bytes = expect) -> bool:
                return status == 200 and expect in body

            for count in (max(50, n // 5), n):  # a warm-up, then the measured run
                requests = [("GET", path, None) for path in (paths * n)[:count]]
                samples, _, failed = send(url["web"], requests, args.clients, 600, {"Cookie": cookies[who]}, ok)
            result["pages"][name] = {**_stats([ms for _, ms in samples]), "errors": failed}
            print(name, result["pages"][name])
    finally:
        for process in reversed(running):
            stop(process)
        if not args.keep:
            shutil.rmtree(var, ignore_errors=True)
    write_result(result, "web", report(result))


def send_referrals(url: dict[str, str], token: str, count: int) -> list[str]:
    """``count`` referrals from the demo case management to the Jugendamt Witten, over routing's API."""
    api = Session(url["routing"], {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    _, body, _ = api.call("GET", "/api/v1/responsible?legal_domain=SGB_VIII&location=58453&residence_of=parents")
    [recipient] = [c["organization_id"] for c in json.loads(body)["candidates"]]
    made = []
    for i in range(count):
        referral = {
            "legal_domain": "SGB_VIII",
            "location": "58453",
            "residence_of": "parents",
            "reason": "Beratung zu Hilfen zur Erziehung",
            "client": {"name": f"Person {i}", "birth_date": "1990-04-01"},
            "consent": {
                "given_by": f"Person {i}",
                "given_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "form": "written",
                "recipient_organization_id": recipient,
                "data_categories": ["name", "birth_date", "reason"],
                "informed_of": ["purpose", "refusal", "withdrawal"],
            },
        }
        status, body, _ = api.call("POST", "/api/v1/referrals", json.dumps(referral).encode())
        assert status == 201, body
        made.append(str(json.loads(body)["id"]))
    return made


def offer_ids(directory: str, token: str, own: bool = False) -> list[str]:
    """Offers found by a few words (``own``: the caller's organisation's offers, or those words' if it has
    none; a maintainer reads any public offer's edit page)."""
    session = Session(directory, {"Authorization": f"Bearer {token}"})
    ids: list[str] = []
    if own:
        me = json.loads(session.call("GET", "/api/v1/me")[1])
        query = {"organization_id": me["organization_id"], "per_page": 50}
        ids = [
            hit["id"]
            for hit in json.loads(session.call("GET", "/api/v1/search?" + urllib.parse.urlencode(query))[1])["contents"]
        ]
        if ids:
            return ids
    for word in ("Beratung", "Deutschkurs", "Familie", "Arbeit"):
        _, body, _ = session.call("GET", "/api/v1/search?" + urllib.parse.urlencode({"q": word, "per_page": 25}))
        ids += [hit["id"] for hit in json.loads(body)["contents"]]
    return ids


def provider_links(directory: str, token: str, offers: list[str]) -> list[str]:
    """Confirmation links for a few of the maintainer's offers (their provider's page, no account)."""
    session = Session(directory, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    made = [session.call("POST", f"/api/v1/services/{i}/confirmation_links", b"{}") for i in offers]
    return [json.loads(body)["token"] for status, body, _ in made if status == 201]


def _row(name: str, s: dict[str, Any], target: str) -> str:
    return (
        f"| {name} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['max_ms']} | {s.get('errors', 0)} | {target} |"
    )


def report(r: dict[str, Any]) -> str:
    m, s = r["machine"], r["search"]
    met = "met" if s["p95_ratio"] <= 1.5 else "**not met**"
    rows = [
        _row("search page", {**s["page"], "errors": s["errors"]}, f"p95 ≤ 1.5 × API: {s['p95_ratio']} × ({met})"),
        _row("API search (the same searches)", s["api"], ""),
    ]
    for name, stats in r["pages"].items():
        rows.append(_row(name, stats, "p95 ≤ 150 ms: " + ("met" if stats["p95_ms"] <= 150 else "**not met**")))
    kinds = "\n".join(f"| {kind} | {k['api']['p95_ms']} | {k['page']['p95_ms']} |" for kind, k in s["by_kind"].items())
    table = "\n".join(rows)
    return f"""# Web benchmark, {r["date"]}

Machine: {m["cpu"]}, {m["cores"]} cores, {m["memory_gib"]} GiB, {m["os"]}, Python {m["python"]}, SQLite
{m["sqlite"]}. Pace (a fixed Python loop; lower is faster): {r["pace_s"]} s. {r["offers"]:,} generated offers
and the NRW demo data in the embedded directory; directory, routing, notify and the web application each
served as `make run` serves them (2 processes × 4 threads); {r["clients"]} client threads with their own
sessions (logged in through the login page) on keep-alive connections, on the same machine.

| page | p50 ms | p95 ms | p99 ms | max ms | errors | target |
|---|---|---|---|---|---|---|
{table}

Search by kind, p95 in ms (API / page):

| kind | API | page |
|---|---|---|
{kinds}
"""


if __name__ == "__main__":
    main()
