"""Search against what a PostgreSQL user would pick instead: the embedded engine beside PostgreSQL's own search.

The same generated offers (bench/generate.py, seeded) are imported with ``lotse-directory import`` twice: into
an embedded directory (SQLite, the index's columns in memory) and into a directory on this machine's
PostgreSQL, whose search is then PostgreSQL's full-text search (ADR 15: GIN ``tsvector``, ``pg_trgm`` for
typos, places in a B-tree, facet arrays; the database tuned for it, see ``TUNING``). Both are served by
``lotse-directory serve`` (2 processes x 4 threads) behind the same HTTP API, warmed, and then sent
the same rotating query mix (bench/run.py) in blocks, alternating which goes first, so that this shared
machine's changing speed falls on both alike. Reported per kind of query: p50, p95, throughput and
their ratios; and how often both answered alike (total and first page).

Then the embedded engine alone at 10,000, 100,000 and 500,000 offers: import time, how long a server
process takes from its start to its first answer, and its resident memory after searches.

    python bench/search_peer.py                       # what `make bench` runs
    python bench/search_peer.py --offers 20000 --requests 1000 --sizes 10000
"""

import argparse
import http.client
import json
import os
import shutil
import subprocess
import time
import uuid
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from lotse_kit.sql import scratch_database
from notify import POSTGRES_ADMIN_URL
from run import (
    BIN,
    THREADS,
    WORKERS,
    Query,
    _free_port,
    _memory_mib,
    _stats,
    import_offers,
    load,
    machine,
    offers_file,
    pace,
    query_mix,
    serve,
    write_result,
)
from sqlalchemy import create_engine, text

TUNING = {
    "jit": "off",  # JIT compiles a search's expressions for 10-50 ms: more than the search itself
    "work_mem": "64MB",  # the facet counts group in memory
    "random_page_cost": "1.1",  # the data sits in memory or on SSD
    "effective_cache_size": "8GB",
}
"""Settings of the peer's database (``ALTER DATABASE ... SET``); the server's own are this machine's defaults."""
ENGINES = ("embedded", "postgresql")


def import_postgres(data: Path, var: Path, url: str) -> dict[str, Any]:
    """Import into the PostgreSQL database at ``url`` (tuned, then analysed as a DBA would after a bulk load)."""
    var.mkdir(parents=True, exist_ok=True)
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        for setting, value in TUNING.items():
            conn.execute(text(f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'"))
    admin.dispose()
    env = {**os.environ, "LOTSE_VAR_DIR": str(var), "LOTSE_DIRECTORY_DATABASE_URL": url}
    subprocess.run([BIN / "lotse-directory", "db", "upgrade"], env=env, check=True, capture_output=True)
    start = time.perf_counter()
    done = subprocess.run([BIN / "lotse-directory", "import", data], env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        index = conn.execute(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "WHERE c.relkind = 'r' AND c.relname LIKE 'pg_search_%'"
            )
        ).scalar_one()
    engine.dispose()
    offers = json.loads(done.stdout)["created"]["service"]
    return {
        "seconds": round(seconds, 1),
        "offers": offers,
        "offers_per_s": round(offers / seconds),
        "database_mib": round(size / 2**20),
        "search_index_mib": round(int(index) / 2**20),
    }


def _get(port: int, path: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    body: dict[str, Any] = json.loads(conn.getresponse().read())
    conn.close()
    return body


def agreement(ports: dict[str, int], queries: list[Query]) -> dict[str, Any]:
    """How often both engines answered a query alike: the same total, the same first page (ids in order)."""
    same_total = same_page = 0
    differ: list[str] = []
    for q in queries:
        a, b = (_get(ports[e], q.path) for e in ENGINES)
        totals = a["total_items"] == b["total_items"]
        page = [h["id"] for h in a["contents"]] == [h["id"] for h in b["contents"]]
        same_total += totals
        same_page += page
        if not (totals and page) and len(differ) < 10:
            differ.append(q.path)
    return {"queries": len(queries), "same_total": same_total, "same_first_page": same_page, "differ": differ}


def side_by_side(ports: dict[str, int], queries: list[Query], clients: int, block: int) -> dict[str, Any]:
    """Send the queries in blocks to both engines, alternating which goes first; latencies per engine and kind."""
    latencies: dict[str, dict[str, list[float]]] = {e: defaultdict(list) for e in ENGINES}
    wall = dict.fromkeys(ENGINES, 0.0)
    errors = dict.fromkeys(ENGINES, 0)
    paces = []
    for n, at in enumerate(range(0, len(queries), block)):
        part = queries[at : at + block]
        if n % 4 == 0:
            paces.append(pace())
        for engine in ENGINES if n % 2 == 0 else reversed(ENGINES):
            found, seconds, failed = load(f"http://127.0.0.1:{ports[engine]}", part, clients, 600)
            for kind, values in found.items():
                latencies[engine][kind].extend(values)
            wall[engine] += seconds
            errors[engine] += failed
    out: dict[str, Any] = {"pace_s": paces}
    for engine in ENGINES:
        every = [x for values in latencies[engine].values() for x in values]
        out[engine] = {
            "requests": len(every),
            "errors": errors[engine],
            "seconds": round(wall[engine], 1),
            "searches_per_s": round(len(every) / wall[engine], 1),
            "all": _stats(every),
            "by_kind": {kind: _stats(values) for kind, values in sorted(latencies[engine].items())},
        }
    return out


def growth(sizes: list[int], root: Path) -> list[dict[str, Any]]:
    """The embedded engine at each size: import, start to first answer (one process), memory after searches."""
    rows = []
    for size in sizes:
        var = root / f"growth-{size}"
        imported = import_offers(offers_file(size), var)
        port = _free_port()
        began = time.perf_counter()
        server = serve(var, port, workers=1)
        started = time.perf_counter() - began
        try:
            load(f"http://127.0.0.1:{port}", query_mix(500, seed=3), 4, 120)
            memory = _memory_mib(server.pid)
        finally:
            server.terminate()
            server.wait(30)
        shutil.rmtree(var, ignore_errors=True)
        rows.append(
            {
                "offers": size,
                "pace_s": pace(),
                "import_s": imported["seconds"],
                "database_mib": imported["database_mib"],
                "start_to_first_answer_s": round(started, 1),
                "worker_rss_mib": memory["largest_rss"],
                "worker_peak_rss_mib": memory["largest_peak_rss"],
            }
        )
        print(f"growth: {rows[-1]}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=5_000, help="searches per engine in the measured run")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive connections")
    parser.add_argument("--block", type=int, default=250, help="searches per block (engines alternate per block)")
    parser.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=[10_000, 100_000, 500_000])
    args = parser.parse_args()

    data = offers_file(args.offers)
    root = data.parent / "peer"
    shutil.rmtree(root, ignore_errors=True)
    result: dict[str, Any] = {"date": date.today().isoformat(), "machine": machine(), "offers": args.offers}
    with scratch_database(POSTGRES_ADMIN_URL, f"lotse_bench_search_{uuid.uuid4().hex[:8]}") as url:
        result["import"] = {
            "embedded": import_offers(data, root / "embedded"),
            "postgresql": import_postgres(data, root / "postgresql", url),
        }
        print(f"import: {result['import']}", flush=True)
        with create_engine(POSTGRES_ADMIN_URL).connect() as conn:
            result["machine"]["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
        ports = {e: _free_port() for e in ENGINES}
        servers = [serve(root / "embedded", ports["embedded"]), serve(root / "postgresql", ports["postgresql"], url)]
        try:
            for engine in ENGINES:  # warm-up: page caches, connections, query terms
                load(f"http://127.0.0.1:{ports[engine]}", query_mix(1_000, seed=1), args.clients, 120)
            result["agreement"] = agreement(ports, query_mix(300, seed=11))
            print(f"agreement: {result['agreement']}", flush=True)
            result["search"] = side_by_side(ports, query_mix(args.requests), args.clients, args.block)
            result["server_memory_mib"] = {e: _memory_mib(s.pid) for e, s in zip(ENGINES, servers, strict=True)}
        finally:
            for server in servers:
                server.terminate()
                server.wait(30)
    shutil.rmtree(root, ignore_errors=True)
    result["growth"] = growth(args.sizes, data.parent)
    result["settings"] = {"server": f"gunicorn, {WORKERS} worker processes x {THREADS} threads", "tuning": TUNING}
    write_result(result, "search-peer", report(result))


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "–"


def report(r: dict[str, Any]) -> str:
    m, s, i, agree = r["machine"], r["search"], r["import"], r["agreement"]
    e, p = s["embedded"], s["postgresql"]
    lines = [
        f"# Search beside PostgreSQL's own, {r['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['os']}; Python {m['python']}, "
        f"SQLite {m['sqlite']}, PostgreSQL {m.get('postgresql', '?')}. Pace during the searches "
        f"(seconds for a fixed Python loop): {', '.join(map(str, s['pace_s']))}.",
        "",
        f"{r['offers']:,} generated offers imported into each: embedded in {i['embedded']['seconds']} s "
        f"(database {i['embedded']['database_mib']} MiB); PostgreSQL in {i['postgresql']['seconds']} s "
        f"(database {i['postgresql']['database_mib']} MiB, of it the search index "
        f"{i['postgresql']['search_index_mib']} MiB). Both served by {r['settings']['server']}; "
        f"{e['requests']:,} searches to each, in blocks of the same queries, alternating which engine goes first.",
        "",
        f"Same answers: {agree['same_total']} of {agree['queries']} queries the same total, "
        f"{agree['same_first_page']} the same first page.",
        "",
        f"Throughput: embedded **{e['searches_per_s']}/s**, PostgreSQL **{p['searches_per_s']}/s** "
        f"(PostgreSQL / embedded: {_ratio(p['searches_per_s'], e['searches_per_s'])}); errors {e['errors']} / "
        f"{p['errors']}.",
        "",
        "| queries | count | embedded p50 / p95 ms | PostgreSQL p50 / p95 ms | p50 ratio | p95 ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in ["all", *e["by_kind"]]:
        a = e["all"] if kind == "all" else e["by_kind"][kind]
        b = p["all"] if kind == "all" else p["by_kind"][kind]
        lines.append(
            f"| {kind} | {a['count']} | {a['p50_ms']} / {a['p95_ms']} | {b['p50_ms']} / {b['p95_ms']} | "
            f"{_ratio(b['p50_ms'], a['p50_ms'])} | {_ratio(b['p95_ms'], a['p95_ms'])} |"
        )
    lines += [
        "",
        "Ratios: PostgreSQL's figure over the embedded engine's (above 1: the embedded engine is faster).",
        "",
        "## The embedded engine as the directory grows",
        "",
        "| offers | import s | database MiB | one process: start to first answer s | resident MiB (peak) | pace s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for g in r["growth"]:
        lines.append(
            f"| {g['offers']:,} | {g['import_s']} | {g['database_mib']} | {g['start_to_first_answer_s']} | "
            f"{g['worker_rss_mib']} ({g['worker_peak_rss_mib']}) | {g['pace_s']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
