"""The floor under notify's throughput target: what each step of a referral's way costs in CPU on this
machine when the bare components the design prescribes do it with no Lotse code, the rate their sum allows on
this machine's cores, and Lotse's CPU per referral on the same path against it.

A referral in RabbitMQ mode takes one HTTP request (the case manager's POST, answered after its
transaction), two events over RabbitMQ (``referral.created`` to notify, ``notification.delivered`` back to
routing), one webhook POST (the consumer's first attempt: since issue 26 no Celery job on the way) and a number
of further database transactions (``bench/notify.py`` counts them under its sustained load; ``--transactions``).
Each step is run here on its own, open loop at ``--rate`` per second (the sustained target) for ``--count``
units after a warm-up, and the CPU that every process used meanwhile (ours, PostgreSQL's, RabbitMQ's) is
divided by the units:

- http: gunicorn as the services run it (:class:`lotse_kit.server.ServiceServer`, 2 processes, 4 threads each)
  serving a bare Flask app whose POST inserts one row in one transaction on PostgreSQL and answers 201
  with JSON; client threads on keep-alive connections (``bench/notify.py``'s load generator);
- event: persistent messages to a quorum queue, as Lotse's relays and consumers pass them: each published
  with a confirm, or those due at once in one transaction; consumed with a prefetch of 50, those that wait
  together and acknowledged at once;
- job (measured, not on the path any more): Celery configured as notify's (acks late, publisher confirms,
  prefetch 1), a worker with notify's threads pool of 8 running a task that only notes its argument;
- webhook: a small JSON body POSTed with urllib3 (as notify sends) from 4 threads to a receiver process
  (``bench/notify.py``'s);
- transaction: one row inserted and committed, SQLAlchemy Core on psycopg, from 4 threads.

The client of the http step and the receiver of the webhook are outside the system and left out of the
path's sum, so the sum is a floor for what the system itself spends; Lotse's figures (from the newest notify
result, which ``make bench`` writes just before) leave out the same two.

    python bench/floor.py                 # what `make bench` runs after bench/notify.py
    python bench/floor.py --rate 100 --count 1000
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import urllib3
from lotse_kit.sql import make_engine, scratch_database
from notify import POSTGRES_ADMIN_URL, Broker, _sleep_until, cpu_seconds, create, per_referral
from routing import AMQP_URL, THREADS, WORKERS, stop, wait_for
from run import RESULTS, _free_port, machine, pace, write_result
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, func

TABLE = Table(
    "floor_item",
    MetaData(),
    Column("id", String(36), primary_key=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
JOB = "bench.floor.job"
OUTSIDE = {"http": "load generator", "webhook": "webhook receiver"}
"""Per step, the process that stands for a party outside the system (left out of the path's sum)."""


# -- processes of their own -----------------------------------------------------------------------
def serve_http(port: int, url: str) -> None:
    """The http step's server: a bare Flask app, one transaction per POST."""
    from flask import Flask, request
    from lotse_kit.server import ServiceServer

    def load() -> Flask:
        engine = make_engine(url)
        app = Flask("floor")
        app.get("/health")(lambda: "ok")

        @app.post("/api/v1/referrals")
        def create_item() -> tuple[dict[str, str], int]:
            ident = str(uuid.uuid4())
            with engine.begin() as conn:
                conn.execute(TABLE.insert(), {"id": ident, "body": json.dumps(request.get_json())})
            return {"id": ident}, 201

        return app

    ServiceServer(load, f"127.0.0.1:{port}", int(WORKERS), int(THREADS)).run()


def celery_app(queue: str, var: Path) -> Any:
    from lotse_notify.adapters.jobs.celery_app import make_celery

    return make_celery(AMQP_URL, queue, 3600, var / "beat-schedule")


def work(queue: str, log: Path) -> None:
    """The job step's worker: notify's settings and pool, a task that notes its argument."""
    app = celery_app(queue, log.parent)
    out = log.open("a", buffering=1)
    lock = threading.Lock()

    @app.task(name=JOB)  # type: ignore[untyped-decorator]
    def job(ident: str) -> None:
        with lock:
            out.write(ident + "\n")

    app.worker_main(["worker", "--pool=threads", "--concurrency=8", "--loglevel=WARNING", "--without-gossip"])


# -- load -----------------------------------------------------------------------------------------
def paced(count: int, rate: float, threads: int, unit: Callable[[int], None]) -> None:
    """``unit(i)`` for each ``i < count`` at its due time (open loop: late ones at once), from ``threads``
    threads."""
    begin = time.monotonic() + 0.1
    lock = threading.Lock()
    todo = iter(range(count))

    def run() -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            _sleep_until(begin + i / rate)
            unit(i)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def lines(log: Path) -> int:
    return len(log.read_text().splitlines())


def wait_lines(log: Path, count: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while lines(log) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{log.name}: {lines(log)} of {count} within {seconds} s")
        time.sleep(0.05)


def measure(ours: dict[str, int], units: int, step: Callable[[], object]) -> dict[str, Any]:
    """CPU per unit of each process (tree) while ``step`` does ``units`` units, and the rate achieved."""
    before = cpu_seconds(ours)
    began = time.monotonic()
    step()
    seconds = time.monotonic() - began
    return {"per_s": round(units / seconds, 1), "cpu_ms": per_referral(before, cpu_seconds(ours), units)}


def newest_notify() -> dict[str, Any]:
    """The newest notify benchmark's result (``make bench`` runs it just before)."""
    for path in sorted(RESULTS.glob("*-notify.json"), reverse=True):
        found: dict[str, Any] = json.loads(path.read_text())
        if found.get("sustained", {}).get("commits_per_referral"):
            return found | {"file": path.name}
    raise SystemExit("no notify result with a sustained phase's counts: run bench/notify.py first")


def batched_events(broker: Broker, count: int, rate: float) -> None:
    """Events as Lotse's relay and consumers pass them: persistent, to a quorum queue, each published with a
    confirm, or in one transaction with those due at the same time; consumed with a prefetch of 50, those
    that wait together, acknowledged at once."""
    import pika

    name = f"lotse.bench.floor.batched.{uuid.uuid4().hex[:8]}"
    broker.channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    done = threading.Event()

    def consume() -> None:
        connection = pika.BlockingConnection(broker.parameters)
        channel = connection.channel()
        channel.basic_qos(prefetch_count=50)
        taken = 0
        messages = channel.consume(name, inactivity_timeout=0.5)
        for first in messages:
            if first[0] is None:
                continue
            batch = [first]
            while len(batch) < 50:
                connection.process_data_events(time_limit=0)
                if not channel.get_waiting_message_count():
                    break
                batch.append(next(messages))
            json.loads(batch[-1][2])  # a consumer reads what it takes
            channel.basic_ack(batch[-1][0].delivery_tag, multiple=True)
            taken += len(batch)
            if taken >= count:
                break
        channel.cancel()
        connection.close()
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    connection = pika.BlockingConnection(broker.parameters)
    confirmed, batches = connection.channel(), connection.channel()
    confirmed.confirm_delivery()
    batches.tx_select()
    properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json")
    body = json.dumps({"type": "referral.created", "data": {"referral_id": str(uuid.uuid4())}}).encode()
    begin, sent = time.monotonic(), 0
    while sent < count:
        due = min(count, int((time.monotonic() - begin) * rate) + 1)
        if due - sent > 1:
            for _ in range(due - sent):
                batches.basic_publish("", name, body, properties)
            batches.tx_commit()
        elif due > sent:
            confirmed.basic_publish("", name, body, properties)
        else:
            _sleep_until(begin + sent / rate)
            continue
        sent = due
    if not done.wait(60):
        raise SystemExit(f"batched events: not all of {count} consumed")
    connection.close()
    broker.delete(name)


# -- the run --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=120, help="units per second, each step (the sustained target)")
    parser.add_argument("--count", type=int, default=2000, help="units measured, each step")
    parser.add_argument("--warm", type=int, default=300, help="units before measuring, each step")
    parser.add_argument(
        "--transactions",
        type=float,
        help="transactions per referral besides the http step's one [default: as the newest notify result counted]",
    )
    parser.add_argument("--http", nargs=2, metavar=("PORT", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("QUEUE", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.http:
        serve_http(int(args.http[0]), args.http[1])
        return
    if args.worker:
        work(args.worker[0], Path(args.worker[1]))
        return

    lotse = newest_notify()
    if args.transactions is None:  # besides the create's, as Lotse committed them under the sustained load
        args.transactions = round(float(lotse["sustained"]["commits_per_referral"]["all"]) - 1, 2)
    run_id = uuid.uuid4().hex[:8]
    var = Path(tempfile.mkdtemp(prefix="lotse-bench-floor-"))
    jobs_log, webhooks_log = var / "jobs.log", var / "webhooks.log"
    jobs_log.touch()
    webhooks_log.touch()
    http_port, receiver_port = _free_port(), _free_port()
    jobs_queue = f"lotse.bench.floor.jobs.{run_id}"
    result: dict[str, Any] = {"date": date.today().isoformat(), "machine": machine(), "pace_s": pace()}
    result.update(rate=args.rate, count=args.count, transactions=args.transactions)
    here = Path(__file__).resolve().parent
    processes: list[subprocess.Popen[bytes]] = []
    broker = Broker()

    def spawn(*argv: str | Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(process)
        return process

    with scratch_database(POSTGRES_ADMIN_URL, f"lotse_bench_floor_{run_id}") as url:
        engine = make_engine(url)
        TABLE.metadata.create_all(engine)
        steps: dict[str, dict[str, Any]] = {}
        try:
            server = spawn(sys.executable, __file__, "--http", str(http_port), url)
            receiver = spawn(sys.executable, here / "notify.py", "--receiver", str(receiver_port), str(webhooks_log))
            worker = spawn(sys.executable, __file__, "--worker", jobs_queue, str(jobs_log))
            base = f"http://127.0.0.1:{http_port}"
            wait_for(base, server)
            ours = {"http server": server.pid, "webhook receiver": receiver.pid, "celery worker": worker.pid}
            total = args.warm + args.count

            # http
            body, headers = b'{"reason": "Beratung gewuenscht"}', {"Content-Type": "application/json"}
            create(base, body, headers, args.warm, args.rate)
            steps["http"] = measure(ours, args.count, lambda: create(base, body, headers, args.count, args.rate))

            # event
            batched_events(broker, args.warm, args.rate)
            steps["event"] = measure(ours, args.count, lambda: batched_events(broker, args.count, args.rate))

            # job
            app = celery_app(jobs_queue, var)

            def jobs(first: int, n: int) -> None:
                paced(n, args.rate, 1, lambda i: app.send_task(JOB, args=[str(first + i)]))
                wait_lines(jobs_log, first + n)

            jobs(0, args.warm)
            steps["job"] = measure(ours, args.count, lambda: jobs(args.warm, args.count))

            # webhook
            http = urllib3.PoolManager(maxsize=4, timeout=urllib3.Timeout(connect=3, read=10), retries=False)
            target = f"http://127.0.0.1:{receiver_port}/lotse"

            def webhook(i: int) -> None:
                payload = {"type": "referral.created", "data": {"referral_id": str(i)}, "link": target}
                headers = {"Content-Type": "application/json", "webhook-id": f"msg_{i}"}
                http.request("POST", target, body=json.dumps(payload).encode(), headers=headers)

            def webhooks(first: int, n: int) -> None:
                paced(n, args.rate, 4, lambda i: webhook(first + i))
                wait_lines(webhooks_log, first + n)

            webhooks(0, args.warm)
            steps["webhook"] = measure(ours, args.count, lambda: webhooks(args.warm, args.count))

            # transaction
            def insert(_: int) -> None:
                with engine.begin() as conn:
                    conn.execute(TABLE.insert(), {"id": str(uuid.uuid4()), "body": "{}"})

            paced(args.warm, args.rate, 4, insert)
            steps["transaction"] = measure(ours, args.count, lambda: paced(args.count, args.rate, 4, insert))
            if lines(jobs_log) != total or lines(webhooks_log) != total:
                raise SystemExit(f"of {total} each, {lines(jobs_log)} jobs ran and {lines(webhooks_log)} webhooks came")
        finally:
            for process in reversed(processes):
                stop(process)
            broker.delete(jobs_queue)
            broker.close()
            engine.dispose()
            shutil.rmtree(var, ignore_errors=True)

    for name, step in steps.items():
        outside = step["cpu_ms"].get(OUTSIDE.get(name, ""), 0.0)
        step["system_cpu_ms"] = round(step["cpu_ms"]["all"] - outside, 2)
    # Since issue 26 the consumer makes a delivery's first attempt itself: no Celery job on a referral's way
    # (the job step is measured still, to show what that hop cost)
    path = {"http": 1, "event": 2, "job": 0, "webhook": 1, "transaction": args.transactions}
    floor_ms = sum(steps[name]["system_cpu_ms"] * n for name, n in path.items())
    bare_ms = floor_ms - steps["transaction"]["system_cpu_ms"] * args.transactions
    cores = result["machine"]["cores"]
    result.update(
        steps=steps,
        path=path,
        path_cpu_ms=round(floor_ms, 2),
        ceiling_per_s=round(cores * 1000 / floor_ms),
        without_transactions_cpu_ms=round(bare_ms, 2),
        without_transactions_ceiling_per_s=round(cores * 1000 / bare_ms),
        pace_after_s=pace(),
    )
    outside = ("load generator", "webhook receiver")
    result["lotse"] = {"file": lotse["file"]}
    for phase in ("latency", "sustained"):
        used = lotse[phase]["cpu_ms_per_referral"]
        system = round(used["all"] - sum(used.get(name, 0.0) for name in outside), 2)
        result["lotse"][phase] = {
            "rate": lotse[phase]["rate"],
            "achieved_per_s": lotse[phase]["achieved_per_s"],
            "system_cpu_ms": system,
            "times_floor": round(system / floor_ms, 2),
        }
    write_result(result, "floor", report(result))


def report(r: dict[str, Any]) -> str:
    m, steps, path = r["machine"], r["steps"], r["path"]
    names = sorted({name for step in steps.values() for name in step["cpu_ms"] if name != "all"})
    head = "| step | achieved/s | " + " | ".join(names) + " | all | system | × per referral |"
    rows = [
        f"| {name} | {step['per_s']} | "
        + " | ".join(str(step["cpu_ms"].get(n, 0.0)) for n in names)
        + f" | {step['cpu_ms']['all']} | {step['system_cpu_ms']} | {path[name]} |"
        for name, step in steps.items()
    ]
    lotse_rows = "\n".join(
        f"| {phase} | {x['rate']:.0f} | {x['achieved_per_s']} | {x['system_cpu_ms']} | {x['times_floor']} | ≤ 1.25 |"
        for phase, x in r["lotse"].items()
        if phase != "file"
    )
    return f"""# Floor under the notify throughput target, {r["date"]}

Machine: {m["cpu"]}, {m["cores"]} cores, {m["memory_gib"]} GiB, {m["os"]}, Python {m["python"]}.
Pace (a fixed Python loop; lower is faster): {r["pace_s"]} s at the start, {r["pace_after_s"]} s at the end.
Each step of a referral's way done by the bare components (no Lotse code), {r["count"]} units at
{r["rate"]:.0f}/s offered after a warm-up; CPU (user + system) in ms per unit by process (tree), this
machine's PostgreSQL and RabbitMQ included. "system" leaves out the parties outside the system (the http
step's client, the webhook's receiver).

{head}
|{"---|" * (len(names) + 5)}
{chr(10).join(rows)}

One referral: {", ".join(f"{n} × {name}" for name, n in path.items())} (the transactions besides the
http step's, as `bench/notify.py` counts them) = **{r["path_cpu_ms"]} ms** of CPU, which lets
{m["cores"]} cores carry at most **{r["ceiling_per_s"]} referrals/s** with no Lotse code at all. With no
transaction besides the create's: {r["without_transactions_cpu_ms"]} ms, at most
{r["without_transactions_ceiling_per_s"]} referrals/s.

Lotse on the same path, from the notify benchmark run before this one (`{r["lotse"]["file"]}`), its CPU per
referral without the load generator and the receiver:

| phase | offered/s | created/s | Lotse ms per referral | × the floor | target |
|---|---|---|---|---|---|
{lotse_rows}
"""


if __name__ == "__main__":
    main()
