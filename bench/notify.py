"""The notify benchmark: referral → webhook, end to end, in RabbitMQ mode on this machine's PostgreSQL and
RabbitMQ, with the raw pika round trip on the same broker as the floor.

1. Serves the directory (NRW demo data; its demo load gives the Witten Jugendamt a webhook to this run's
   receiver), routing on PostgreSQL publishing to RabbitMQ (2 processes, 4 threads each, as `make run`), and
   notify as it runs in scale mode: `lotse-notify consume`, `worker` (threads pool, 8 threads: its default;
   `--pool prefork` for 4 child processes) and `beat`, on its own PostgreSQL database and a queue of this
   run. The webhook receiver is a process of its own that notes the monotonic time of each request (the
   clock every process of the machine shares).
2. Floor: persistent messages published with confirms to a quorum queue and consumed by a second
   connection, at the latency phase's rate; publish → consume, percentiles.
3. Latency: referrals created over HTTP at a steady rate (open loop); HTTP 201 → the receiver's request.
4. Sustained: 200 referrals/s for 60 s (open loop); each second the depth of notify's queue and of the
   delivery queue and the worker tree's memory (resident and proportional); afterwards, every referral's
   webhook counted by id, and how long the rest took to arrive.

    python bench/notify.py                       # what `make bench` runs last
    python bench/notify.py --rate 100 --seconds 20
"""

import argparse
import contextlib
import http.client
import json
import os
import queue
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from lotse_contracts import Role
from lotse_kit.settings import embedded_secret
from lotse_kit.sql import scratch_database
from lotse_kit.tokens import HmacTokenVerifier
from routing import AMQP_URL, SENDER_ORG, THREADS, WORKERS, start, stop
from run import BIN, _free_port, _memory_mib, _stats, machine, pace, write_result

POSTGRES_ADMIN_URL = os.environ.get("LOTSE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WITTEN = {"legal_domain": "SGB_VIII", "location": "Ruhrstraße 1, 58452 Witten", "residence_of": "parents"}
SENDERS = 64
"""Client threads creating referrals (open loop: each sends at its due times, late ones at once; enough that
they keep offering the rate while answers take up to half a second)."""
CONSUMERS_EACH = 4
"""Consumers (threads) each `lotse-notify consume` runs on notify's queue by default."""


# -- the webhook receiver (a process of its own) ---------------------------------------------------
def receive(port: int, log: Path) -> None:
    """Answer every webhook 200 and note ``<monotonic time> <referral id> <webhook-id>``, one line each."""
    out = log.open("a", buffering=1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as notify's connection pool expects

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            at = time.monotonic()
            referral = json.loads(body)["data"]["referral_id"]
            with lock:
                out.write(f"{at} {referral} {self.headers['webhook-id']}\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def received(log: Path) -> dict[str, tuple[float, set[str]]]:
    """Per referral: when its webhook first came, and the webhook-ids it came under."""
    got: dict[str, tuple[float, set[str]]] = {}
    for line in log.read_text().splitlines():
        at, referral, webhook_id = line.split()
        first, ids = got.get(referral, (float(at), set()))
        got[referral] = (min(first, float(at)), ids | {webhook_id})
    return got


# -- servers --------------------------------------------------------------------------------------
class Broker:
    """A connection to the broker for reading queue depths and for the floor."""

    def __init__(self) -> None:
        import pika
        from lotse_kit.rabbitmq import connection_parameters

        self.parameters = connection_parameters(AMQP_URL)
        self.parameters.heartbeat = 0  # idle while a phase runs: no heartbeats, or the broker drops it
        self.connection = pika.BlockingConnection(self.parameters)
        self.channel = self.connection.channel()

    def _ready(self) -> None:
        if not self.channel.is_open:  # a passive declare of a queue not there yet closes the channel
            self.channel = self.connection.channel()

    def queue(self, name: str) -> tuple[int, int]:
        """(messages ready, consumers) of a queue."""
        self._ready()
        ok = self.channel.queue_declare(name, passive=True).method
        return ok.message_count, ok.consumer_count

    def delete(self, *names: str) -> None:
        self._ready()
        for name in names:
            self.channel.queue_delete(name)

    def close(self) -> None:
        self.connection.close()


def floor(broker: Broker, count: int, rate: float) -> dict[str, Any]:
    """The raw pika round trip on the same broker: publish (persistent, confirmed, to a quorum queue) →
    consume on another connection (prefetch 1, ack each), at ``rate`` per second."""
    import pika

    name = f"lotse.bench.floor.{os.getpid()}"
    broker.channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = threading.Event()

    def consume() -> None:
        connection = pika.BlockingConnection(broker.parameters)
        channel = connection.channel()
        channel.basic_qos(prefetch_count=1)
        for method, properties, _ in channel.consume(name, inactivity_timeout=0.5):
            if method is not None:
                latencies.append((time.monotonic() - sent[properties.message_id]) * 1000)
                channel.basic_ack(method.delivery_tag)
            if len(latencies) >= count:
                break
        channel.cancel()
        connection.close()
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    publisher = pika.BlockingConnection(broker.parameters)
    channel = publisher.channel()
    channel.confirm_delivery()
    start_at = time.monotonic()
    for i in range(count):
        _sleep_until(start_at + i / rate)
        ident = str(uuid.uuid4())
        sent[ident] = time.monotonic()
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, message_id=ident)
        channel.basic_publish("", name, b'{"type": "bench"}', properties)
    done.wait(60)
    publisher.close()
    broker.delete(name)
    return _stats(latencies)


# -- CPU per referral -----------------------------------------------------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVERS = {"postgres": "PostgreSQL", "beam.smp": "RabbitMQ"}
"""Processes of this machine's servers, by command name: every one of them is counted."""


def _tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += map(int, (task / "children").read_text().split())
    return found


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, with those of its children that ended (a server's
    connection processes, recycled workers); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(n) for n in fields[11:15]) / CLK_TCK


def cpu_seconds(ours: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each of our process trees (by name), of the servers' processes and of this
    process (the load generator)."""
    used = {name: sum(_cpu(p) for p in _tree(pid)) for name, pid in ours.items()}
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if (server := SERVERS.get((proc / "comm").read_text().strip())) is not None:
                used[server] = used.get(server, 0.0) + _cpu(int(proc.name))
    used["load generator"] = _cpu(os.getpid())
    return used


def machine_idle() -> tuple[float, float]:
    """Seconds all cores were idle so far, and all seconds of all cores (``/proc/stat``)."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields[:8])


def idle_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    """Of the cores' time between two readings of :func:`machine_idle`, the share they were idle."""
    return (after[0] - before[0]) / max(after[1] - before[1], 1e-9)


def commits(databases: dict[str, str]) -> dict[str, float]:
    """Transactions committed so far in each database (by name; reads count too), as PostgreSQL counts them:
    a backend reports its counts when it goes idle, at most once a second, so a count lags up to a second."""
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY(:names)"),
                {"names": list(databases.values())},
            ).all()
    finally:
        engine.dispose()
    counted = {row.datname: float(row.xact_commit) for row in rows}
    return {name: counted.get(database, 0.0) for name, database in databases.items()}


def per_referral(
    before: dict[str, float], after: dict[str, float], referrals: int, scale: float = 1000
) -> dict[str, float]:
    """What each counter grew by per referral, times ``scale`` (CPU seconds as milliseconds by default), and
    in all."""
    each = {name: round((after[name] - before.get(name, 0.0)) * scale / referrals, 2) for name in after}
    return {**each, "all": round(sum(each.values()), 2)}


PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_resident_mib(pid: int) -> float | None:
    """Resident memory of a process tree with each physical page counted once (what a container's memory
    limit charges), from the page frames in ``/proc/<pid>/pagemap``; None where they are hidden (not root).
    The sum of the processes' resident sizes counts a page a parent shares with its forked children once per
    process."""
    frames: set[int] = set()
    for p in _tree(pid):
        with open(f"/proc/{p}/maps") as maps, open(f"/proc/{p}/pagemap", "rb") as pagemap:
            for line in maps:
                start, end = (int(a, 16) for a in line.split()[0].split("-"))
                with contextlib.suppress(OSError, ValueError):  # [vsyscall] cannot be read
                    pagemap.seek(start // PAGE * 8)
                    for (entry,) in struct.iter_unpack("Q", pagemap.read((end - start) // PAGE * 8)):
                        if entry >> 63:  # present in memory
                            frame = entry & ((1 << 55) - 1)
                            if frame == 0:
                                return None
                            frames.add(frame)
    return round(len(frames) * PAGE / 2**20, 1)


# -- load -----------------------------------------------------------------------------------------
def _sleep_until(due: float) -> None:
    wait = due - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def create(base: str, body: bytes, headers: dict[str, str], count: int, rate: float) -> dict[str, Any]:
    """Create ``count`` referrals at ``rate`` per second from :data:`SENDERS` threads on keep-alive
    connections: when each was answered 201 (monotonic), HTTP latencies, errors, the rate achieved."""
    host, port = base.removeprefix("http://").split(":")
    created: dict[str, float] = {}
    http_ms: list[float] = []
    errors: list[int] = []
    todo: queue.Queue[int] = queue.Queue()
    for i in range(count):
        todo.put(i)
    start_at = time.monotonic() + 0.1
    lock = threading.Lock()

    def sender() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                break
            _sleep_until(start_at + i / rate)
            began = time.monotonic()
            conn.request("POST", "/api/v1/referrals", body, headers)
            response = conn.getresponse()
            answer = response.read()
            at = time.monotonic()
            with lock:
                if response.status == 201:
                    created[json.loads(answer)["id"]] = at
                    http_ms.append((at - began) * 1000)
                else:
                    errors.append(response.status)
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = max(created.values(), default=start_at) - start_at
    return {
        "created": created,
        "http": _stats(http_ms) if http_ms else {},
        "errors": len(errors),
        "achieved_per_s": round(len(created) / wall, 1) if wall > 0 else 0,
    }


def arrival(created: dict[str, float], log: Path, seconds: float) -> dict[str, Any]:
    """Wait up to ``seconds`` for every created referral's webhook; end-to-end latencies and what is
    missing or came under more than one webhook-id."""
    deadline = time.monotonic() + seconds
    while True:
        got = received(log)
        missing = [r for r in created if r not in got]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    latencies = [(got[r][0] - at) * 1000 for r, at in created.items() if r in got]
    return {
        **(_stats(latencies) if latencies else {}),
        "expected": len(created),
        "arrived": len(created) - len(missing),
        "missing": len(missing),
        "more_than_one_webhook_id": sum(1 for r in created if r in got and len(got[r][1]) > 1),
    }


def sustained(
    base: str, body: bytes, headers: dict[str, str], rate: float, seconds: float, log: Path, watch: Callable[[], Any]
) -> dict[str, Any]:
    samples: list[dict[str, Any]] = []
    stop_watching = threading.Event()

    def sample() -> None:
        begin = time.monotonic()
        while not stop_watching.wait(1.0):
            samples.append({"t": round(time.monotonic() - begin), **watch()})

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    load_began = time.monotonic()
    made = create(base, body, headers, round(rate * seconds), rate)
    load_ended = time.monotonic()
    result = arrival(made["created"], log, 180)
    drained_after = time.monotonic() - load_ended
    stop_watching.set()
    watcher.join()
    return {
        "rate": rate,
        "seconds": seconds,
        "load_s": round(load_ended - load_began, 1),
        "achieved_per_s": made["achieved_per_s"],
        "http": made["http"],
        "errors": made["errors"],
        "end_to_end": result,
        "all_arrived_s_after_load": round(drained_after, 1),
        "samples": samples,
    }


# -- the run --------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-rate", type=float, default=50, help="referrals per second, latency phase")
    parser.add_argument("--latency-count", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=120, help="referrals per second, sustained phase")
    parser.add_argument("--seconds", type=float, default=60, help="sustained phase: how long")
    parser.add_argument("--pool", choices=["threads", "prefork"], default="threads", help="the Celery worker's pool")
    parser.add_argument("--concurrency", type=int, help="the Celery worker's processes or threads (its default)")
    parser.add_argument(
        "--scaling",
        default="1x1,2x1,4x1,1x2,1x4",
        help="after the sustained phase: consume processes x worker processes to run it again with ('' for none)",
    )
    parser.add_argument("--scaling-rate", type=float, default=200, help="referrals per second offered, scaling runs")
    parser.add_argument("--scaling-seconds", type=float, default=20, help="scaling runs: how long each")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--receiver", nargs=2, metavar=("PORT", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receive(int(args.receiver[0]), Path(args.receiver[1]))
        return

    run_id = uuid.uuid4().hex[:8]
    var = Path(tempfile.mkdtemp(prefix="lotse-bench-notify-"))
    log = var / "webhooks.log"
    log.touch()
    directory_port, routing_port, notify_port, receiver_port = (_free_port() for _ in range(4))
    queue_name = f"lotse.bench.notify.{run_id}"
    result: dict[str, Any] = {"date": date.today().isoformat(), "machine": machine(), "pace_s": pace()}
    result["worker_pool"] = args.pool
    result["scaling_rate"], result["scaling_seconds"] = args.scaling_rate, args.scaling_seconds
    result["worker_concurrency"] = args.concurrency or (8 if args.pool == "threads" else 4)
    processes: list[subprocess.Popen[bytes]] = []
    broker = Broker()
    with (
        scratch_database(POSTGRES_ADMIN_URL, f"lotse_bench_routing_{run_id}") as routing_db,
        scratch_database(POSTGRES_ADMIN_URL, f"lotse_bench_notify_{run_id}") as notify_db,
    ):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LOTSE_")},
            "LOTSE_VAR_DIR": str(var),
            "LOTSE_DIRECTORY_PORT": str(directory_port),
            "LOTSE_DIRECTORY_WORKERS": WORKERS,
            "LOTSE_DIRECTORY_THREADS": THREADS,
            "LOTSE_DIRECTORY_DEMO_WEBHOOK_URL": f"http://127.0.0.1:{receiver_port}/lotse",
            "LOTSE_ROUTING_PORT": str(routing_port),
            "LOTSE_ROUTING_WORKERS": WORKERS,
            "LOTSE_ROUTING_THREADS": THREADS,
            "LOTSE_ROUTING_DATABASE_URL": routing_db,
            "LOTSE_ROUTING_DIRECTORY_URL": f"http://127.0.0.1:{directory_port}",
            "LOTSE_AMQP_URL": AMQP_URL,
            "LOTSE_NOTIFY_PORT": str(notify_port),
            "LOTSE_NOTIFY_DATABASE_URL": notify_db,
            "LOTSE_NOTIFY_DIRECTORY_URL": f"http://127.0.0.1:{directory_port}",
            "LOTSE_NOTIFY_QUEUE": queue_name,
            "LOTSE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",  # the receiver is on this machine
        }
        for tool, step in (("directory", "db upgrade"), ("directory", "demo load"), ("routing", "db upgrade")):
            subprocess.run([BIN / f"lotse-{tool}", *step.split()], env=env, check=True, capture_output=True)
        subprocess.run([BIN / "lotse-notify", "db", "upgrade"], env=env, check=True, capture_output=True)

        def spawn(*argv: str | Path, probes: bool = True) -> subprocess.Popen[bytes]:
            extra = {} if probes else {"LOTSE_METRICS_PORT": "0"}  # several on one machine: no probes port
            return subprocess.Popen(argv, env=env | extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        try:
            receiver = spawn(sys.executable, __file__, "--receiver", str(receiver_port), str(log))
            processes.append(receiver)
            directory = start("lotse-directory", env, f"http://127.0.0.1:{directory_port}")
            processes.append(directory)
            routing_url = f"http://127.0.0.1:{routing_port}"
            routing = start("lotse-routing", env, routing_url)
            processes.append(routing)
            consumer = spawn(BIN / "lotse-notify", "consume")
            worker = spawn(
                BIN / "lotse-notify", "worker", f"--pool={args.pool}", f"--concurrency={result['worker_concurrency']}"
            )
            beat = spawn(BIN / "lotse-notify", "beat")
            processes += [consumer, worker, beat]
            deliveries = f"{queue_name}.deliveries"
            for name in (queue_name, deliveries):
                _wait(lambda name=name: _consumers(broker, name) > 0, 60, f"a consumer on {name}")  # type: ignore[misc]

            token = HmacTokenVerifier(embedded_secret(var)).issue("bench", Role.CASE_MANAGER, SENDER_ORG, "Bench")
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            body = referral_body(routing_url, headers)
            warm = create(routing_url, body, headers, 300, args.latency_rate)  # caches, connections, JIT-free
            arrival(warm["created"], log, 60)

            result["floor"] = floor(broker, args.latency_count, args.latency_rate)
            print("pika floor", result["floor"])
            ours = {
                "routing": routing.pid,
                "directory": directory.pid,
                "consumer": consumer.pid,
                "worker": worker.pid,
                "beat": beat.pid,
                "webhook receiver": receiver.pid,
            }
            databases = {name: url.rsplit("/", 1)[1] for name, url in (("routing", routing_db), ("notify", notify_db))}
            cpu_before, commits_before = cpu_seconds(ours), commits(databases)
            made = create(routing_url, body, headers, args.latency_count, args.latency_rate)
            e2e = arrival(made["created"], log, 60)
            result["latency"] = {
                "rate": args.latency_rate,
                "achieved_per_s": made["achieved_per_s"],
                "http": made["http"],
                "errors": made["errors"],
                "end_to_end": e2e,
                "cpu_ms_per_referral": per_referral(cpu_before, cpu_seconds(ours), len(made["created"])),
                "commits_per_referral": per_referral(commits_before, commits(databases), len(made["created"]), 1),
                "pace_s": pace(),
            }
            print("latency", result["latency"])

            def watch() -> dict[str, Any]:
                memory = _memory_mib(worker.pid)
                return {
                    "notify_queue": broker.queue(queue_name)[0],
                    "delivery_queue": broker.queue(deliveries)[0],
                    "worker_rss_mib": sum(p["VmRSS"] for p in memory["processes"].values()),
                    "worker_pss_mib": memory["total_pss"],
                    "worker_processes": len(memory["processes"]),
                }

            cpu_before, commits_before, idle_before = cpu_seconds(ours), commits(databases), machine_idle()
            result["sustained"] = sustained(routing_url, body, headers, args.rate, args.seconds, log, watch)
            result["sustained"]["machine_idle_share"] = round(idle_share(idle_before, machine_idle()), 3)
            created = result["sustained"]["end_to_end"]["expected"]
            result["sustained"]["cpu_ms_per_referral"] = per_referral(cpu_before, cpu_seconds(ours), created)
            result["sustained"]["commits_per_referral"] = per_referral(commits_before, commits(databases), created, 1)
            result["sustained"]["worker_tree_once_mib"] = tree_resident_mib(worker.pid)  # after the load
            result["sustained"]["pace_s"] = pace()
            print("sustained", {k: v for k, v in result["sustained"].items() if k != "samples"})

            # the same load again with more consume and worker processes, for sizing an installation
            for process in (consumer, worker):
                stop(process)
                processes.remove(process)
            result["scaling"] = []
            for size in filter(None, args.scaling.split(",")):
                consumers, workers = (int(n) for n in size.split("x"))
                started = [spawn(BIN / "lotse-notify", "consume", probes=False) for _ in range(consumers)]
                started += [spawn(BIN / "lotse-notify", "worker", probes=False) for _ in range(workers)]
                processes.extend(started)
                expected = {queue_name: consumers * CONSUMERS_EACH, deliveries: workers}
                for name, count in expected.items():
                    _wait(lambda n=name, c=count: _consumers(broker, n) >= c, 60, f"{count} consumers on {name}")  # type: ignore[misc]
                mine = {
                    f"{kind} {i}": p.pid
                    for i, (kind, p) in enumerate(
                        zip(["consume"] * consumers + ["worker"] * workers, started, strict=True)
                    )
                }
                mine |= {k: v for k, v in ours.items() if k not in ("consumer", "worker")}

                def depth() -> dict[str, Any]:
                    return {"notify_queue": broker.queue(queue_name)[0], "delivery_queue": broker.queue(deliveries)[0]}

                cpu_before, idle_before = cpu_seconds(mine), machine_idle()
                run = sustained(routing_url, body, headers, args.scaling_rate, args.scaling_seconds, log, depth)
                used = per_referral(cpu_before, cpu_seconds(mine), run["end_to_end"]["expected"])
                run["cpu_ms_per_referral"] = {
                    "consume": round(sum(v for k, v in used.items() if k.startswith("consume ")), 2),
                    "worker": round(sum(v for k, v in used.items() if k.startswith("worker ")), 2),
                    **{k: v for k, v in used.items() if not k.startswith(("consume ", "worker "))},
                }
                run["machine_idle_share"] = round(idle_share(idle_before, machine_idle()), 3)
                run |= {"consumers": consumers, "workers": workers, "pace_s": pace()}
                result["scaling"].append(run)
                print("scaling", size, {k: v for k, v in run.items() if k not in ("samples", "http")})
                for process in started:
                    stop(process)
                    processes.remove(process)
        finally:
            for process in reversed(processes):
                stop(process)
            broker.delete(queue_name, f"{queue_name}.dead", f"{queue_name}.deliveries")
            broker.close()
            if not args.keep:
                shutil.rmtree(var, ignore_errors=True)

    write_result(result, "notify", report(result))


def _consumers(broker: Broker, name: str) -> int:
    try:
        return broker.queue(name)[1]
    except Exception:  # not declared yet (the broker closed the channel; the next call opens another)
        return 0


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {seconds} s")
        time.sleep(0.2)


def referral_body(routing_url: str, headers: dict[str, str]) -> bytes:
    """A referral to the authority routing names responsible for a family in Witten (the demo's Jugendamt
    Witten, which has the webhook)."""
    host, port = routing_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/api/v1/responsible?" + urlencode(WITTEN), headers=headers)
    answer = json.loads(conn.getresponse().read())
    conn.close()
    recipient = answer["candidates"][0]["organization_id"]
    return json.dumps(
        {
            **WITTEN,
            "urgency": "normal",
            "reason": "Benchmark: Beratung gewünscht",
            "client": {"name": "Bench Klient", "birth_date": "1990-01-01", "phone": "+49 000 0"},
            "consent": {
                "given_by": "Bench Klient",
                "given_at": "2026-11-20T10:00:00+01:00",
                "form": "written",
                "recipient_organization_id": recipient,
                "data_categories": ["name", "birth_date", "contact", "reason"],
                "informed_of": ["purpose", "refusal", "withdrawal"],
            },
        }
    ).encode()


def _latency(x: dict[str, Any]) -> str:
    return f"p50 {x['p50_ms']} / p95 {x['p95_ms']} / p99 {x['p99_ms']} / max {x['max_ms']} ms"


def report(r: dict[str, Any]) -> str:
    m, lat, sus, fl = r["machine"], r["latency"], r["sustained"], r["floor"]
    e2e, s_e2e = lat["end_to_end"], sus["end_to_end"]
    samples = sus["samples"]
    during = [s for s in samples if s["t"] <= sus["load_s"]]
    half = len(during) // 2

    def depth(sample: dict[str, int]) -> int:
        return sample["notify_queue"] + sample["delivery_queue"]

    first_half = max((depth(s) for s in during[:half]), default=0)
    second_half = max((depth(s) for s in during[half:]), default=0)
    rss = max((s["worker_rss_mib"] for s in samples), default=0)
    pss = max((s["worker_pss_mib"] for s in samples), default=0)
    rows = [
        ("raw pika publish → consume (floor)", f"{_latency(fl)} at {lat['rate']:.0f}/s", "—"),
        (
            f"referral 201 → webhook at {lat['rate']:.0f}/s",
            f"{_latency(e2e)}; {e2e['arrived']} of {e2e['expected']} arrived (pace {lat['pace_s']} s)",
            "p95 ≤ 50 ms",
        ),
        (
            f"sustained {sus['rate']:.0f}/s for {sus['seconds']:.0f} s",
            f"{sus['achieved_per_s']}/s created, {sus['errors']} errors; {s_e2e['arrived']} of {s_e2e['expected']}"
            f" arrived, {s_e2e['more_than_one_webhook_id']} under more than one webhook-id; the last"
            f" {sus['all_arrived_s_after_load']} s after the load; 201 → webhook {_latency(s_e2e)}",
            f"≥ 120/s, none lost (machine idle {sus.get('machine_idle_share', 0) * 100:.0f} % of the time)",
        ),
        (
            "queue depth (notify + delivery queue, ready)",
            f"highest {first_half} in the first half of the load, {second_half} in the second",
            "no growth",
        ),
        (
            "Celery worker tree memory",
            f"{rss} MiB resident (sum of the processes'), {pss} MiB proportional; after the load"
            f" {sus.get('worker_tree_once_mib', '—')} MiB resident with each page counted once",
            "< 150 MB",
        ),
    ]
    table = "\n".join(f"| {what} | {value} | {target} |" for what, value, target in rows)
    cpu, under_load = lat.get("cpu_ms_per_referral", {}), sus.get("cpu_ms_per_referral", {})
    cpu_rows = "\n".join(
        f"| {name} | {ms} | {under_load.get(name, '—')} |" for name, ms in sorted(cpu.items(), key=lambda kv: -kv[1])
    )
    scaling_rows = "\n".join(
        f"| {x['consumers']} | {x['workers']} | {x['achieved_per_s']} | {x['end_to_end']['arrived']} of"
        f" {x['end_to_end']['expected']} | {x['all_arrived_s_after_load']} s | {_latency(x['end_to_end'])} |"
        f" {x['cpu_ms_per_referral']['all']} | {x['machine_idle_share'] * 100:.0f} % | {x['pace_s']} s |"
        for x in r.get("scaling", [])
    )
    commits_per = lat.get("commits_per_referral", {})
    commit_line = ", ".join(f"{name} {n}" for name, n in commits_per.items() if name != "all")
    return f"""# Notify benchmark, {r["date"]}

Machine: {m["cpu"]}, {m["cores"]} cores, {m["memory_gib"]} GiB, {m["os"]}, Python {m["python"]}.
Pace (a fixed Python loop; lower is faster): {r["pace_s"]} s at the start. RabbitMQ mode on this
machine's RabbitMQ and PostgreSQL: routing (2 processes, 4 threads each) publishes, `lotse-notify consume`,
`worker --pool {r["worker_pool"]} --concurrency {r["worker_concurrency"]}` and `beat` deliver to a webhook receiver
process; every process shares the machine's 2 cores with the load generator ({SENDERS} client threads, open
loop).

| what | result | target |
|---|---|---|
{table}

CPU per referral in the latency phase ({lat["rate"]:.0f}/s) and in the sustained phase, by process (tree, with
its children that ended), user + system:

| process | ms per referral at {lat["rate"]:.0f}/s | sustained |
|---|---|---|
{cpu_rows}

Transactions committed per referral in the latency phase (PostgreSQL's count, reads included; a count lags up
to a second): {commits_per.get("all", "—")} ({commit_line}); sustained:
{sus.get("commits_per_referral", {}).get("all", "—")}.

The sustained load again, {r.get("scaling_rate", "—")}/s offered for {r.get("scaling_seconds", "—")} s each,
with more `lotse-notify consume` processes (each {CONSUMERS_EACH} consumers and its attempt threads) and
more Celery worker processes (threads pool):

| consume | workers | created/s | arrived | last after load | 201 → webhook | CPU ms/referral | machine idle | pace |
|---|---|---|---|---|---|---|---|---|
{scaling_rows}
"""


if __name__ == "__main__":
    main()
