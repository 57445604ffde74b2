"""The routing benchmark: "who is responsible?" in-process and over HTTP, and referral creation over HTTP in
embedded and in RabbitMQ mode, on the NRW demo directory.

1. Loads the demo data into a fresh embedded directory and serves it; serves routing beside it (each
   with LOTSE_*_WORKERS processes and threads, as `make run` does).
2. In-process: routing's use case with a warm cache asks a seeded mix of questions (NRW PLZ, every
   legal domain) over and over; decisions per second.
3. Over HTTP: client threads send the same mix to ``GET /api/v1/responsible`` on keep-alive
   connections; latency percentiles and throughput.
4. Creates referrals over HTTP (``POST /api/v1/referrals``) from client threads, first embedded, then
   with routing relaying to the local RabbitMQ (exchange ``lotse.events``, a queue of this run bound to
   ``referral.#``, which must receive every event, counted by id); latency percentiles.

    python bench/routing.py                   # what `make bench` runs after bench/run.py
    python bench/routing.py --seconds 5 --referrals 100
"""

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lotse_contracts import LegalDomain, Role
from lotse_directory.adapters.geocoding.gazetteer import packaged_gazetteer
from lotse_kit.errors import UseCaseError
from lotse_kit.settings import embedded_secret
from lotse_kit.tokens import HmacTokenVerifier
from lotse_routing.bootstrap import Container, build
from lotse_routing.settings import Settings
from lotse_routing.use_cases.responsibility import Question, ResidenceOf
from run import BIN, Request, _free_port, _stats, machine, pace, send, write_result

DOMAINS = (LegalDomain.SGB_II, LegalDomain.SGB_III, LegalDomain.SGB_VIII, LegalDomain.AUFENTHG, LegalDomain.STAG)
SENDER_ORG = "b0b0b0b0-0000-4000-8000-00000000be4c"
AMQP_URL = os.environ.get("LOTSE_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
WORKERS, THREADS = "2", "4"
WARM_CLIENTS = 16
"""Warming up: this many connections, so that every server process gets some and fills its cache."""


def questions(count: int, seed: int = 11) -> list[Question]:
    """A seeded mix: NRW PLZ (as typed, with or without the place name), every legal domain."""
    gazetteer = packaged_gazetteer()
    places = sorted({(p.postal_code, p.name) for p in gazetteer.postal_places("05") if p.ags and p.postal_code})
    rng = random.Random(seed)
    chosen = rng.sample(places, count)
    out = []
    for i, (code, name) in enumerate(chosen):
        domain = DOMAINS[i % len(DOMAINS)]
        location = code if i % 2 else f"{code} {name}"
        residence = ResidenceOf.PARENTS if domain is LegalDomain.SGB_VIII else ResidenceOf.CLIENT
        out.append(Question(domain, location, residence))
    return out


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    host, port = url.removeprefix("http://").split(":")
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not start")


def start(command: str, env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([BIN / command, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(url, process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(30)


def in_process(container: Container, mix: list[Question], rounds: int) -> dict[str, Any]:
    ask = container.responsibility.ask
    for q in mix:  # warm the cache: places, jurisdictions, authorities
        ask(q)
    start_at = time.perf_counter()
    for _ in range(rounds):
        for q in mix:
            ask(q)
    seconds = time.perf_counter() - start_at
    count = rounds * len(mix)
    return {"decisions": count, "seconds": round(seconds, 2), "decisions_per_s": round(count / seconds)}


def decision_path(q: Question) -> str:
    from urllib.parse import urlencode

    query = {"legal_domain": q.legal_domain.value, "location": q.location, "residence_of": q.residence_of.value}
    return "/api/v1/responsible?" + urlencode(query)


def referral_bodies(container: Container, mix: list[Question], count: int) -> list[bytes]:
    """Referrals to the authority each question's answer names (ambiguous places left out)."""
    bodies = []
    for q in mix:
        try:
            answer = container.responsibility.ask(q)
        except UseCaseError:
            continue
        if answer.outcome != "responsible":
            continue
        recipient = answer.candidates[0].match.jurisdiction.authority_id
        body = {
            "legal_domain": q.legal_domain.value,
            "location": q.location,
            "residence_of": q.residence_of.value,
            "urgency": "normal",
            "reason": "Benchmark: Beratung gewünscht",
            "client": {"name": "Bench Klient", "birth_date": "1990-01-01", "phone": "+49 000 0"},
            "consent": {
                "given_by": "Bench Klient",
                "given_at": datetime.now(UTC).isoformat(),
                "form": "written",
                "recipient_organization_id": recipient,
                "data_categories": ["name", "birth_date", "contact", "reason"],
                "informed_of": ["purpose", "refusal", "withdrawal"],
            },
        }
        bodies.append(json.dumps(body).encode())
    return [bodies[i % len(bodies)] for i in range(count)]


def warm(base: str, requests: Sequence[Request], headers: dict[str, str]) -> None:
    """Fill every server process's cache (places, jurisdictions, authorities) as a running service has
    it: many connections, twice over the mix."""
    send(base, [*requests, *requests], WARM_CLIENTS, 300, headers, ok=lambda _status, _body: True)


def timed(samples: list[tuple[int, float]], wall: float, errors: int) -> dict[str, Any]:
    return {
        **_stats([ms for _, ms in samples]),
        "per_s": round(len(samples) / wall),
        "errors": errors,
        "pace_s": pace(),
    }


def create_referrals(
    base: str, bodies: list[bytes], token: str, decisions: Sequence[Request], clients: int
) -> dict[str, Any]:
    """Referral creation, timed on caches warmed with the decisions the referrals need."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    warm(base, decisions, headers)
    created = lambda status, _body: status == 201  # noqa: E731 (a one-line check)
    return timed(*send(base, [("POST", "/api/v1/referrals", b) for b in bodies], clients, 600, headers, created))


def rabbitmq_queue() -> tuple[Callable[[], list[str]], Callable[[], None]]:
    """A queue of this run bound to referral.#; a function reading the ids it got, and one deleting it."""
    import pika
    from lotse_kit.rabbitmq import connection_parameters

    name = f"lotse.bench.referrals.{os.getpid()}"
    connection = pika.BlockingConnection(connection_parameters(AMQP_URL))
    channel = connection.channel()
    channel.exchange_declare("lotse.events", exchange_type="topic", durable=True)
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(name, "lotse.events", routing_key="referral.#")

    def ids() -> list[str]:
        got: list[str] = []
        while True:
            method, properties, _ = channel.basic_get(name, auto_ack=True)
            if method is None:
                return got
            got.append(properties.message_id)

    def delete() -> None:
        channel.queue_delete(name)
        connection.close()

    return ids, delete


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=50, help="in-process passes over the questions")
    parser.add_argument("--seconds", type=float, default=30, help="HTTP decisions: how long")
    parser.add_argument("--referrals", type=int, default=1000, help="referrals created per mode")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="lotse-bench-routing-"))
    directory_port, routing_port = _free_port(), _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")},
        "LOTSE_VAR_DIR": str(var),
        "LOTSE_DIRECTORY_PORT": str(directory_port),
        "LOTSE_DIRECTORY_WORKERS": WORKERS,
        "LOTSE_DIRECTORY_THREADS": THREADS,
        "LOTSE_ROUTING_PORT": str(routing_port),
        "LOTSE_ROUTING_WORKERS": WORKERS,
        "LOTSE_ROUTING_THREADS": THREADS,
        "LOTSE_ROUTING_DIRECTORY_URL": f"http://127.0.0.1:{directory_port}",
    }
    result: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "pace_s": pace(),
        "clients": args.clients,
    }
    for step in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([BIN / "lotse-directory", *step], env=env, check=True, capture_output=True)
    subprocess.run([BIN / "lotse-routing", "db", "upgrade"], env=env, check=True, capture_output=True)
    directory = start("lotse-directory", env, f"http://127.0.0.1:{directory_port}")
    routing_url = f"http://127.0.0.1:{routing_port}"
    token = HmacTokenVerifier(embedded_secret(var)).issue("bench", Role.CASE_MANAGER, SENDER_ORG, "Bench")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        mix = questions(args.questions)
        local = build(Settings.from_env(env))  # routing's use cases in this process, on the served directory
        result["in_process"] = {**in_process(local, mix, args.rounds), "pace_s": pace()}
        print("in-process", result["in_process"])

        routing = start("lotse-routing", env, routing_url)
        try:
            decisions: list[Request] = [("GET", decision_path(q), None) for q in mix]
            warm(routing_url, decisions, headers)
            result["http_decisions"] = timed(
                *send(routing_url, decisions * 10_000, args.clients, args.seconds, headers)
            )
            print("http decisions", result["http_decisions"])
            bodies = referral_bodies(local, mix, args.referrals)
            result["create_embedded"] = create_referrals(routing_url, bodies, token, decisions, args.clients)
            print("create (embedded)", result["create_embedded"])
        finally:
            stop(routing)

        received, delete_queue = rabbitmq_queue()
        routing = start("lotse-routing", {**env, "LOTSE_AMQP_URL": AMQP_URL}, routing_url)
        try:
            result["create_rabbitmq"] = create_referrals(routing_url, bodies, token, decisions, args.clients)
            expected = args.referrals
            got: list[str] = []
            deadline = time.monotonic() + 60
            while len(set(got)) < expected and time.monotonic() < deadline:
                got += received()
                time.sleep(0.2)
            result["create_rabbitmq"]["events_received"] = len(set(got))
            result["create_rabbitmq"]["events_expected"] = expected
            print("create (rabbitmq)", result["create_rabbitmq"])
        finally:
            stop(routing)
            delete_queue()
    finally:
        stop(directory)
        if not args.keep:
            shutil.rmtree(var, ignore_errors=True)

    write_result(result, "routing", report(result))


def _latency(x: dict[str, Any]) -> str:
    timing = f"p50 {x['p50_ms']} / p95 {x['p95_ms']} / p99 {x['p99_ms']} / max {x['max_ms']} ms"
    return f"{timing}, {x['per_s']}/s, {x['errors']} errors (pace {x['pace_s']} s)"


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    d, q = r["in_process"], r["create_rabbitmq"]
    rows = [
        (
            "decisions in-process",
            f"{d['decisions_per_s']:,}/s ({d['decisions']:,} in {d['seconds']} s, pace {d['pace_s']} s)",
            "≥ 10,000/s",
        ),
        ("decisions over HTTP", _latency(r["http_decisions"]), "p95 ≤ 20 ms"),
        ("referral creation over HTTP, embedded", _latency(r["create_embedded"]), "p95 ≤ 50 ms"),
        (
            "referral creation over HTTP, RabbitMQ",
            f"{_latency(q)}; events on the broker: {q['events_received']} of {q['events_expected']}",
            "p95 ≤ 50 ms",
        ),
    ]
    table = "\n".join(f"| {what} | {result} | {target} |" for what, result, target in rows)
    return f"""# Routing benchmark, {r["date"]}

Machine: {m["cpu"]}, {m["cores"]} cores, {m["memory_gib"]} GiB, {m["os"]},
Python {m["python"]}, SQLite {m["sqlite"]}. Pace (a fixed Python loop; lower is faster): {r["pace_s"]} s
at the start. Directory and routing served as `make run` serves them (2 processes with 4 threads
each), NRW demo data, {r["clients"]} client threads on keep-alive connections, caches warm.

| what | result | target |
|---|---|---|
{table}
"""


if __name__ == "__main__":
    main()
