"""`make bench`: the service against a minimal FastAPI app, a million trade rows, Datasette, a
streamed export, and a soak under writes. Every figure comes from this run on this machine.

Each server is a real process (uvicorn, one worker) and wrk (Debian's, installed if missing)
drives it from the same machine: read the figures as ratios within one run. Each measurement is
taken `BENCH_ROUNDS` times, interleaved with the others, and the median run is reported.

`python -m bench.run sync` (or small, writes, million, soak) runs one part.
Settings (environment): BENCH_DIR (work files, default /tmp/summit-bench), BENCH_SECONDS (per
measurement, 5), BENCH_ROUNDS (5), BENCH_ROWS (1000000), BENCH_SOAK_SECONDS (60).
"""

import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from app.data.paging import Cursor

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = Path(os.environ.get("BENCH_DIR", "/tmp/summit-bench"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
SOAK_SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "60"))
WRITE_KEY = "bench-writer-secret-0123456789"
FILTER = "year=2020&currency=KZT"
FACETS = "first page with facet=currency&facet=year"
# The same grammar Datasette takes: `__gte` and `__in` on its table, ours on every list.
OPERATOR_FILTER = "year__gte=2020&currency__in=KZT,USD"
OPERATORS = f"filtered page by operators ({OPERATOR_FILTER})"
DATASETTE_OPERATORS = f"Datasette: {OPERATOR_FILTER}, facet suggestions off"
DATASETTE_FACETS = "Datasette: first page with _facet=currency&_facet=year"
# As `make run` serves, for the service and the minimal app alike.
UVICORN_FLAGS = ["--no-access-log", "--loop", "asyncio"]


@dataclass
class Load:
    """What one wrk run measured."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # connect, read and write errors
    timeouts: int
    bad_status: int  # answers outside 2xx and 3xx


def found(pattern: str, text: str, group: int = 1) -> str:
    """The `group` of the first match of `pattern` in `text`; a ValueError if none (wrk or
    /proc printed something this script does not know)."""
    match = re.search(pattern, text)
    if match is None:
        raise ValueError(f"{pattern!r} not found in {text[:200]!r}")
    return match.group(group)


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if match is None:
        raise ValueError(f"not a wrk duration: {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    connections: int = 16,
    seconds: int = SECONDS,
    script: Path | None = None,
) -> Load:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    sockets = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(map(int, sockets.groups()[:3])) if sockets else 0
    return Load(
        requests_per_second=float(found(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_ms(found(r"\s50%\s+(\S+)", out)),
        p99_ms=_ms(found(r"\s99%\s+(\S+)", out)),
        requests=int(found(r"(\d+) requests in", out)),
        errors=errors,
        timeouts=int(sockets.group(4)) if sockets else 0,
        bad_status=int(m.group(1))
        if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out))
        else 0,
    )


def measure(targets: dict[str, tuple[str, dict[str, str]]]) -> dict[str, Load]:
    """Each target `ROUNDS` times, the rounds interleaved; the median run of each."""
    runs: dict[str, list[Load]] = {name: [] for name in targets}
    for _ in range(ROUNDS):
        for name, (url, headers) in targets.items():
            runs[name].append(wrk(url, headers=headers))
    return {
        name: sorted(loads, key=lambda load: load.requests_per_second)[len(loads) // 2]
        for name, loads in runs.items()
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def rss_mb(self, field: str = "VmRSS") -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(found(rf"{field}:\s+(\d+) kB", status)) / 1024


@contextmanager
def serve(args: list[str], *, env: dict[str, str], ready: str) -> Iterator[Server]:
    port = free_port()
    log = (WORK / f"server-{port}.log").open("wb")
    command = [str(BIN / "uvicorn"), *args, "--port", str(port), *UVICORN_FLAGS]
    if Path(args[0]).name == "datasette":
        command = [*args, "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + ready, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited; see {log.name}")
            time.sleep(0.1)
        yield Server(url, process)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def service_env(database: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{database}", "SUMMIT_API_KEYS": "", **extra}


def run_on(path: Path, *command: str) -> None:
    """Run one of the project's commands against the SQLite file at `path`."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}"}
    subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT, env=env, check=True)


def migrate(path: Path) -> None:
    run_on(path, "alembic", "upgrade", "head")


def seeded_database(path: Path) -> Path:
    migrate(path)
    run_on(path, "python", "-m", "seed", "--if-empty")
    return path


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        print("installing wrk from Debian's packages", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)


def datasette_command() -> list[str] | None:
    """Datasette in a virtual environment of its own (an optional extra); None if it cannot
    be installed here."""
    venv = WORK / "datasette-venv"
    if not (venv / "bin" / "datasette").exists():
        print("installing Datasette (optional) into", venv, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        installed = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "datasette>=0.65,<2"], check=False
        )
        if installed.returncode != 0:
            return None
    return [str(venv / "bin" / "datasette"), "serve"]


# --- the parts of the run ---------------------------------------------------------------------


REDIS = "redis://127.0.0.1:6379"


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


# A limit no run reaches: what is measured is the cost of counting, not of refusing.
UNREACHED_LIMIT = "1000000000/minute"


BARE_TWIN = "bare ASGI app sending the service's own answer to GET /api/v1/countries"


def recorded_answer(url: str) -> Path:
    """The service's answer at `url` (its second, from the cache), as `bench.bare_app` replays
    it: every header but those uvicorn adds and the length, and the body."""
    plain = {"Accept-Encoding": "identity"}  # as wrk asks: no gzip
    httpx.get(url, headers=plain)
    answer = httpx.get(url, headers=plain)
    skipped = {"date", "server", "content-length"}
    headers = [[n, v] for n, v in answer.headers.multi_items() if n not in skipped]
    path = WORK / "bare-answer.json"
    path.write_text(json.dumps({"headers": headers, "body": answer.text}))
    return path


def small_dataset(report: list[str]) -> None:
    database = seeded_database(WORK / "summit.db")
    factory = ["--factory", "app.main:create_app"]
    limited = service_env(database, RATE_LIMIT=UNREACHED_LIMIT)
    # Without a Redis the counts could not be kept there: that server would serve unlimited.
    in_redis = redis_answers()
    shared = {**limited, "RATE_LIMIT_STORAGE": REDIS} if in_redis else limited
    where = "Redis" if in_redis else "memory, for want of a Redis"
    with serve(factory, env=service_env(database), ready="/readyz") as app:
        same_bytes = recorded_answer(app.url + "/api/v1/countries")
    with (
        serve(factory, env=service_env(database), ready="/readyz") as app,
        serve(["bench.minimal_app:app"], env={}, ready="/api/v1/countries") as minimal,
        serve(["bench.bare_app:app"], env={}, ready="/api/v1/countries") as bare,
        serve(["bench.bare_app:app"], env={"BARE_ANSWER": str(same_bytes)}, ready="/") as twin,
        serve(factory, env=limited, ready="/readyz") as counted_here,
        serve(factory, env=shared, ready="/readyz") as counted_in_redis,
    ):
        etag = httpx.get(app.url + "/api/v1/countries").headers["etag"]
        loads = measure(
            {
                "bare ASGI app: GET /api/v1/countries": (bare.url + "/api/v1/countries", {}),
                BARE_TWIN: (twin.url + "/api/v1/countries", {}),
                "minimal app: GET /api/v1/countries": (minimal.url + "/api/v1/countries", {}),
                "GET /api/v1/countries": (app.url + "/api/v1/countries", {}),
                "GET /api/v1/summits/2": (app.url + "/api/v1/summits/2", {}),
                "GET /api/v1/countries → 304": (
                    app.url + "/api/v1/countries",
                    {"If-None-Match": etag},
                ),
                "GET /api/v1/countries, rate limited (counts in memory)": (
                    counted_here.url + "/api/v1/countries",
                    {},
                ),
                f"GET /api/v1/countries, rate limited (counts in {where})": (
                    counted_in_redis.url + "/api/v1/countries",
                    {},
                ),
            }
        )
    baseline = loads["minimal app: GET /api/v1/countries"].requests_per_second
    table(report, "Reads of the seeded dataset (16 connections)", loads, baseline)
    ceiling = loads["bare ASGI app: GET /api/v1/countries"]
    twin_ceiling = loads[BARE_TWIN]
    for name in ("GET /api/v1/countries", "GET /api/v1/summits/2"):
        report.append(
            f"{name} ÷ the bare ASGI app: **{ratio(loads[name], ceiling)}**;"
            f" ÷ the bare app sending the same bytes: **{ratio(loads[name], twin_ceiling)}**."
        )


def million_rows(report: list[str]) -> None:
    database = WORK / "million.db"
    if not database.exists():
        shutil.copyfile(seeded_database(WORK / "million-seed.db"), WORK / "million.tmp")
        subprocess.run(
            [str(BIN / "python"), "bench/generate_trades.py", "--database-url",
             f"sqlite:///{WORK / 'million.tmp'}", "--rows", str(ROWS)],
            cwd=ROOT, check=True,
        )  # fmt: skip
        (WORK / "million.tmp").rename(database)
    migrate(database)  # a file from an earlier run gets the indexes added since
    with sqlite3.connect(database) as connection:
        total = connection.execute("SELECT count(*) FROM trade_statistic").fetchone()[0]
        year, row_id = connection.execute(
            "SELECT year, id FROM trade_statistic ORDER BY year, id LIMIT 1 OFFSET ?",
            (total - 51,),
        ).fetchone()
    deep = Cursor("after", "year,id", (year, row_id), total - 50).encode()
    page = "/api/v1/trade-statistics?limit=50"
    filtered = f"filtered page ({FILTER})"
    filtered_cached = f"{filtered}, read cache on (the default)"
    targets = {
        filtered: f"{page}&{FILTER}",
        "first page": page,
        f"page {total - 50:,} rows deep (cursor)": f"{page}&cursor={deep}",
        "page 10,000 rows deep (offset, the cap)": f"{page}&offset=10000",
        FACETS: f"{page}&facet=currency&facet=year",
        OPERATORS: f"{page}&{OPERATOR_FILTER}",
    }
    # Without the read cache every request runs its queries, as a new query would; with it
    # (the default), a repeated request is answered from the cache.
    uncached_env = service_env(database, RESPONSE_CACHE_ENTRIES="0")
    datasette = datasette_command()
    with (
        serve(["--factory", "app.main:create_app"], env=uncached_env, ready="/readyz") as app,
        serve(
            ["--factory", "app.main:create_app"], env=service_env(database), ready="/readyz"
        ) as cached_app,
    ):
        refused = httpx.get(app.url + page + "&offset=900000").status_code
        chosen: dict[str, tuple[str, dict[str, str]]] = {
            name: (app.url + path, {}) for name, path in targets.items()
        }
        chosen[filtered_cached] = (cached_app.url + targets[filtered], {})
        if datasette is None:
            loads = measure(chosen)
        else:
            # Time enough for its facets on a million rows: by default Datasette gives up on
            # a facet after 200 ms and answers without it, which would compare nothing.
            settings = ["--setting", "facet_time_limit_ms", "20000",
                        "--setting", "sql_time_limit_ms", "20000"]  # fmt: skip
            command = [*datasette, str(database), *settings]
            with serve(command, env={}, ready="/-/versions.json") as other:
                url = f"{other.url}/million/trade_statistic.json?{FILTER}&_size=50"
                chosen["Datasette: the same filtered page"] = (url, {})
                chosen["Datasette: the same, facet suggestions off"] = (url + "&_nosuggest=1", {})
                table_url = f"{other.url}/million/trade_statistic.json?_size=50&_nosuggest=1"
                chosen[DATASETTE_FACETS] = (table_url + "&_facet=currency&_facet=year", {})
                chosen[DATASETTE_OPERATORS] = (f"{table_url}&{OPERATOR_FILTER}", {})
                facets_shown = datasette_facets(chosen[DATASETTE_FACETS][0])
                loads = measure(chosen)
        export = export_rss(app)
    first = loads["first page"].requests_per_second
    table(report, f"{total:,} trade rows, 50 a page, read cache off unless said (16 connections)",
          loads, first)  # fmt: skip
    report.append(f"`offset=900000` is refused: HTTP {refused}.")
    if datasette is None:
        report.append("Datasette could not be installed here: no comparison.")
    else:
        for ours in (filtered, filtered_cached):
            for theirs in ("Datasette: the same filtered page",
                           "Datasette: the same, facet suggestions off"):  # fmt: skip
                report.append(f"{ours} ÷ {theirs}: **{ratio(loads[ours], loads[theirs])}**.")
        report.append(
            f"{OPERATORS} ÷ {DATASETTE_OPERATORS}:"
            f" **{ratio(loads[OPERATORS], loads[DATASETTE_OPERATORS])}**."
        )
        report.append(
            f"{FACETS} ÷ {DATASETTE_FACETS}: **{ratio(loads[FACETS], loads[DATASETTE_FACETS])}**"
            f" (Datasette's answer held the facets {facets_shown})."
        )
    report.append(f"first page ÷ {filtered}: **{ratio(loads['first page'], loads[filtered])}**.")
    report.append(export)


def datasette_facets(url: str) -> str:
    """Which facets Datasette's answer at `url` computed, and which it gave up on."""
    body = httpx.get(url, timeout=60).json()
    done = sorted(body.get("facet_results", {}).get("results", body.get("facet_results", {})))
    timed_out = body.get("facets_timed_out", [])
    return f"{', '.join(done) or 'none'}" + (f"; timed out: {timed_out}" if timed_out else "")


def ratio(ours: Load, theirs: Load) -> str:
    if theirs.requests_per_second == 0:
        return f"none (the other completed no request; {theirs.timeouts} timeouts)"
    return f"{ours.requests_per_second / theirs.requests_per_second:.2f}x"


def export_rss(app: Server) -> str:
    """Stream the CSV export of every trade row, sampling the server's memory meanwhile."""
    peak = app.rss_mb()
    before = peak
    size = rows = 0
    started = time.perf_counter()
    with httpx.stream("GET", app.url + "/api/v1/export/trade-statistics", timeout=600) as response:
        for chunk in response.iter_bytes():
            size += len(chunk)
            rows += chunk.count(b"\n")
            peak = max(peak, app.rss_mb())
    seconds = time.perf_counter() - started
    return (
        f"CSV export of every trade row: {rows - 1:,} rows, {size / 1e6:.0f} MB in {seconds:.0f} s;"
        f" server RSS {before:.0f} MB before, **{peak:.0f} MB at most** while streaming."
    )


def commitment_body(writer: int, number: int) -> dict[str, object]:
    """A new commitment of the second summit, whose answer embeds every one of them."""
    return {
        "title": f"Soak write {writer} {number}",
        "kind": "pledge",
        "description": "A benchmark write.",
        "summit": 2,
        "parties": ["CHN"],
        "sources": [
            {
                "source": "article",
                "quote": "Xi announced the establishment of three",
                "fields": ["title", "kind", "summit", "parties"],
            }
        ],
    }


def trade_statistic_body(writer: int, number: int) -> dict[str, object]:
    """A new row of the trade series, the collection that grows to millions."""
    return {
        "id": f"soak-{writer}-{number}",
        "year": 1995 + number % 30,
        "reporter": "CHN",
        "partners": ["KAZ"],
        "flow": "export",
        "value": 1_000_000 + number,
        "currency": "USD",
        "sources": [{"source": "iso-4217", "fields": ["currency"]}],
        "derivations": [
            {
                "fields": ["year", "reporter", "flow", "value", "partners"],
                "basis": "inferred",
                "note": "A benchmark write: made up.",
            }
        ],
    }


# What the 16 writers of a soak create: (collection, body of writer's n-th write).
SOAK_WRITES: dict[str, Callable[[int, int], dict[str, object]]] = {
    "trade-statistics": trade_statistic_body,
    "commitments": commitment_body,
}


def rotating_script(script: Path, paths: list[str]) -> Path:
    """A wrk script that requests `paths` in turn, one after another on each connection."""
    script.write_text(
        "local paths = {" + ", ".join(json.dumps(p) for p in paths) + "}\n"
        "local i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        "  return wrk.format(nil, paths[i])\nend\n"
    )
    return script


def soak(report: list[str]) -> None:
    """Reads at 256 connections while 16 clients write, once for each kind of write in
    `SOAK_WRITES`; then every acknowledged write is read back."""
    for collection, body in SOAK_WRITES.items():
        soak_with(report, collection, body)


def soak_with(
    report: list[str], collection: str, body: Callable[[int, int], dict[str, object]]
) -> None:
    database = WORK / "soak.db"
    database.unlink(missing_ok=True)
    seeded_database(database)
    paths = ["/api/v1/countries", "/api/v1/summits/2", "/api/v1/trade-statistics",
             "/api/v1/commitments?limit=100", "/api/v1/agreements"]  # fmt: skip
    script = rotating_script(WORK / "reads.lua", paths)
    env = service_env(database, SUMMIT_API_KEYS=f"bench:{WRITE_KEY}")
    with serve(["--factory", "app.main:create_app"], env=env, ready="/readyz") as app:
        quiet = wrk(app.url, connections=256, seconds=SOAK_SECONDS, script=script)
        stop = threading.Event()
        acknowledged: list[str] = []
        failed: list[str] = []
        writers = [
            threading.Thread(
                target=write_until,
                args=(app.url, f"/api/v1/{collection}", body, n, stop, acknowledged, failed),
            )
            for n in range(16)
        ]
        for writer in writers:
            writer.start()
        load = wrk(app.url, connections=256, seconds=SOAK_SECONDS, script=script)
        stop.set()
        for writer in writers:
            writer.join()
        missing = [
            url for url in acknowledged if httpx.get(app.url + url, timeout=30).status_code != 200
        ]
    report.append(
        f"\n### Soak: 256 read connections for {SOAK_SECONDS} s, 16 clients creating {collection}\n"
    )
    report.append(
        f"{load.requests:,} reads ({load.requests_per_second:,.0f}/s, p50 {load.p50_ms:.1f} ms,"
        f" p99 {load.p99_ms:.1f} ms): {load.errors} socket errors, {load.timeouts} timeouts,"
        f" {load.bad_status} answers outside 2xx/3xx. Writes: {len(acknowledged)} acknowledged"
        f" (201), {len(failed)} failed; acknowledged writes missing afterwards: {len(missing)}."
        f" The same reads without writers: {quiet.requests_per_second:,.0f}/s"
        f" ({quiet.errors} socket errors, {quiet.timeouts} timeouts); with ÷ without:"
        f" **{ratio(load, quiet)}**."
    )
    if failed:
        report.append(f"Failed writes (first 5): {failed[:5]}")


# --- cached answers while another collection is written ---------------------------------------


# Eight collections' lists, none of which reads the trade statistics, at 50 lengths each.
UNTOUCHED = ("sources", "countries", "people", "summits", "agreements", "cooperation-centers",
             "priority-areas", "commitments")  # fmt: skip
WRITES_PER_SECOND = 20


def paced_writes(url: str, stop: threading.Event, acknowledged: list[str]) -> None:
    """Trade statistics created at `WRITES_PER_SECOND`, until `stop`."""
    headers = {"Authorization": f"Bearer {WRITE_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        number = 0
        started = time.monotonic()
        while not stop.is_set():
            number += 1
            answer = client.post("/api/v1/trade-statistics", json=trade_statistic_body(99, number))
            if answer.status_code == 201:
                acknowledged.append(answer.headers["location"])
            stop.wait(max(started + number / WRITES_PER_SECOND - time.monotonic(), 0))


def cached_under_writes(report: list[str]) -> None:
    """400 distinct cached answers read with no writes, then while trade statistics are
    created 20 a second: a write to one collection should leave the others' answers cached."""
    database = WORK / "writes.db"
    database.unlink(missing_ok=True)
    seeded_database(database)
    paths = [f"/api/v1/{name}?limit={n}" for name in UNTOUCHED for n in range(1, 51)]
    script = rotating_script(WORK / "answers.lua", paths)
    env = service_env(database, SUMMIT_API_KEYS=f"bench:{WRITE_KEY}")
    with serve(["--factory", "app.main:create_app"], env=env, ready="/readyz") as app:
        for path in paths:
            httpx.get(app.url + path, timeout=30)
        runs: dict[str, list[Load]] = {"no writes": [], "20 writes/s": []}
        acknowledged: list[str] = []
        for _ in range(ROUNDS):
            runs["no writes"].append(wrk(app.url, script=script))
            stop = threading.Event()
            writer = threading.Thread(target=paced_writes, args=(app.url, stop, acknowledged))
            writer.start()
            runs["20 writes/s"].append(wrk(app.url, script=script))
            stop.set()
            writer.join()
    loads = {
        f"400 cached answers, {name}": sorted(found, key=lambda load: load.requests_per_second)[
            len(found) // 2
        ]
        for name, found in runs.items()
    }
    quiet, written = loads.values()
    table(report, "400 cached answers while trade statistics are created (16 connections)",
          loads, quiet.requests_per_second)  # fmt: skip
    report.append(
        f"With writes ÷ without: **{ratio(written, quiet)}**; {len(acknowledged)} writes"
        f" acknowledged in {ROUNDS} runs of {SECONDS} s."
    )


# --- keeping a copy in sync: the feed, idle streams, a change reaching another process -------


SYNC_PEOPLE = 200
IDLE_STREAMS = 500
LATENCY_SAMPLES = 20


def _bench_person(writer: int, number: int) -> dict[str, object]:
    return {
        "name": f"Synced {writer}-{number}",
        "roles": ["benchmark"],
        "sources": [{"source": "article", "quote": "witnessed the signing", "fields": ["roles"]}],
        "derivations": [{"fields": ["name"], "basis": "inferred", "note": "A benchmark's."}],
    }


def sync(report: list[str]) -> None:
    """A feed page against a list page of as many entities (both uncached), idle streams one
    process holds and what each costs it, and how long a change made through one process takes
    to reach a stream open on another, on SQLite and (when it answers) PostgreSQL."""
    database = WORK / "sync.db"
    database.unlink(missing_ok=True)
    seeded_database(database)
    env = service_env(database, SUMMIT_API_KEYS=f"bench:{WRITE_KEY}", RESPONSE_CACHE_ENTRIES="0")
    with serve(["--factory", "app.main:create_app"], env=env, ready="/readyz") as app:
        headers = {"Authorization": f"Bearer {WRITE_KEY}"}
        with httpx.Client(base_url=app.url, headers=headers, timeout=30) as client:
            since = int(client.get("/api/v1/feed?limit=1").headers["x-dataset-version"])
            for number in range(SYNC_PEOPLE):
                client.post("/api/v1/people", json=_bench_person(0, number)).raise_for_status()
        loads = measure(
            {
                "GET /api/v1/people?limit=50 (uncached)": (
                    app.url + "/api/v1/people?limit=50&offset=2",
                    {},
                ),
                "GET /api/v1/feed?limit=50 (uncached)": (
                    f"{app.url}/api/v1/feed?since={since}&limit=50",
                    {},
                ),
            }
        )
        baseline = loads["GET /api/v1/people?limit=50 (uncached)"].requests_per_second
        table(report, "A feed page against a list page, 50 people each", loads, baseline)
        report.append(idle_streams(app))
    report.append(change_latency("SQLite", env))
    postgres = postgres_database("summit_bench_sync")
    if postgres is not None:
        report.append(change_latency("PostgreSQL", {**env, "DATABASE_URL": postgres}))


def idle_streams(app: Server) -> str:
    """Open `IDLE_STREAMS` event streams at once, each from the current version (nothing to
    replay), and leave them idle: what the process holds."""
    before = app.rss_mb()
    port = int(app.url.rsplit(":", 1)[1])
    current = httpx.get(app.url + "/api/v1/feed?limit=1").headers["x-dataset-version"]
    request = (
        f"GET /api/v1/feed?since={current} HTTP/1.1\r\nHost: bench\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    streams = []
    for _ in range(IDLE_STREAMS):
        connection = socket.create_connection(("127.0.0.1", port), timeout=30)
        connection.sendall(request)
        streams.append(connection)
    opened = sum(connection.recv(64).startswith(b"HTTP/1.1 200") for connection in streams)
    time.sleep(2)  # each replays its first page, then waits
    after = app.rss_mb()
    for connection in streams:
        connection.close()
    per_stream_kb = (after - before) * 1024 / IDLE_STREAMS
    return (
        f"\n{opened} of {IDLE_STREAMS} idle streams opened at once on one process; its memory"
        f" went from {before:.0f} MB to {after:.0f} MB, {per_stream_kb:.0f} kB a stream."
    )


def postgres_database(name: str) -> str | None:
    """A fresh database on the local PostgreSQL, migrated and seeded; None without one."""
    admin = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name}")
            connection.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError:  # no PostgreSQL here: the SQLite figures stand alone
        return None
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([str(BIN / "alembic"), "upgrade", "head"], cwd=ROOT, env=env, check=True)
    subprocess.run([str(BIN / "python"), "-m", "seed"], cwd=ROOT, env=env, check=True)
    return url


def change_latency(backend: str, env: dict[str, str]) -> str:
    """Two processes on one database: from each write's answer on one to its event on a
    stream open on the other."""
    factory = ["--factory", "app.main:create_app"]
    with (
        serve(factory, env=env, ready="/readyz") as watched,
        serve(factory, env=env, ready="/readyz") as written,
    ):
        arrived: dict[int, float] = {}
        ready = threading.Event()

        def listen() -> None:
            headers = {"Accept": "text/event-stream"}
            since = httpx.get(watched.url + "/api/v1/feed?limit=1").headers["x-dataset-version"]
            url = f"{watched.url}/api/v1/feed?since={since}"
            with httpx.stream("GET", url, headers=headers, timeout=60) as stream:
                ready.set()
                for line in stream.iter_lines():
                    if line.startswith("id: "):
                        arrived[int(line[4:])] = time.perf_counter()
                        if len(arrived) == LATENCY_SAMPLES:
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        ready.wait(30)
        answered: dict[int, float] = {}
        headers = {"Authorization": f"Bearer {WRITE_KEY}"}
        with httpx.Client(base_url=written.url, headers=headers, timeout=30) as client:
            for number in range(LATENCY_SAMPLES):
                response = client.post("/api/v1/people", json=_bench_person(1, number))
                answered[int(response.headers["x-dataset-version"])] = time.perf_counter()
                time.sleep(0.3)  # apart, so that each is measured on its own
        listener.join(30)
    delays = sorted((arrived[v] - t) * 1000 for v, t in answered.items() if v in arrived)
    if not delays:
        return f"\n{backend}: no change reached the other process's stream."
    return (
        f"\n{backend}, a change through one process reaching a stream on another:"
        f" {len(delays)} of {LATENCY_SAMPLES} arrived; median {delays[len(delays) // 2]:.0f} ms,"
        f" slowest {delays[-1]:.0f} ms after the write's answer."
    )


def write_until(
    url: str,
    path: str,
    body: Callable[[int, int], dict[str, object]],
    writer: int,
    stop: threading.Event,
    acknowledged: list[str],
    failed: list[str],
) -> None:
    headers = {"Authorization": f"Bearer {WRITE_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        number = 0
        while not stop.is_set():
            number += 1
            try:
                response = client.post(path, json=body(writer, number))
            except httpx.HTTPError as error:
                failed.append(f"{type(error).__name__}")
                continue
            if response.status_code == 201:
                acknowledged.append(response.headers["location"])
            else:
                failed.append(f"{response.status_code} {response.text[:120]}")


def table(report: list[str], title: str, loads: dict[str, Load], baseline: float) -> None:
    report.append(f"\n### {title}\n")
    report.append("| measured | requests/s | p50 ms | p99 ms | ratio |")
    report.append("|---|---:|---:|---:|---:|")
    for name, load in loads.items():
        ratio = load.requests_per_second / baseline
        report.append(
            f"| {name} | {load.requests_per_second:,.0f} | {load.p50_ms:.2f} | {load.p99_ms:.2f}"
            f" | {ratio:.2f}x |"
        )


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, {time.strftime('%Y-%m-%d')}; wrk -t1, one uvicorn"
        f" worker, {SECONDS} s a run, median of {ROUNDS}."
    )


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    report = [f"## Benchmark\n\n{machine()}"]
    runs = {
        "small": small_dataset,
        "writes": cached_under_writes,
        "million": million_rows,
        "soak": soak,
        "sync": sync,
    }
    for part in sys.argv[1:] or list(runs):
        runs[part](report)
        print("\n".join(report), flush=True)
    (WORK / "results.md").write_text("\n".join(report) + "\n")
    print(f"\nwritten to {WORK / 'results.md'}")


if __name__ == "__main__":
    main()
