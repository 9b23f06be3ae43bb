"""The API under load: gunicorn (several workers) on PostgreSQL with Redis as the broker, on
loopback, served with production's configuration (docs/deploy/gunicorn.conf.py: gthread,
4 processes x 4 threads; `--worker-class sync` for the old way).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crowdmarket_bench python -m bench.load
    python -m bench.load --scale 0.1      # a quick run: fewer clients, shorter phases
    python -m bench.load --think 2        # the stress figure: every worker a fast clicker

Three phases against the same server, the same way (HTTP, token auth, every middleware):

1. ceiling: CLIENTS closed-loop clients (no pause) on a minimal DRF endpoint doing one query
   (bench/load_urls.py) for --saturate seconds: the most requests/s this stack serves;
2. claim capacity: the same clients, closed loop at saturation (no think time), on a worker's
   loop (claim, then `submit/?next=1`, which answers and claims the next task in one
   request); `load_claim_vs_ceiling` = (2) / (1);
3. the day: 200 simulated workers (claim, answer after a pause of --think seconds on average,
   5 by default: a person reading one short text and picking a label; loop) and 5 requesters
   (progress every second, the results CSV of their 20,000-item bundle every
   --download-every seconds) for 60 s. Per endpoint: requests, throughput, p50/p95/p99
   latency, errors (any status but the expected one, listed by kind). Then every item is
   checked for a double assignment.

Ends with TARGET load_claim_vs_ceiling >= 0.25, load_p99_ms <= 250 (the interactive requests
of phase 3: claims, submissions, progress; the downloads have their own rows, and the p99 of
every request, downloads included, is printed too), load_errors == 0 and
load_double_assignments == 0.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import print_table, report_target
from bench.setup_db import django_setup_for_bench

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get(
    "LOAD_REDIS_URL", "redis://127.0.0.1:6379/11"
)  # not the fault tests' db 2
REQUESTERS = 5
#: Bulk transfers: their time grows with the bundle (a 20,000-item CSV is ~1 MB), so they are
#: reported on their own rows, not in `load_p99_ms`, which is the interactive requests' p99.
DOWNLOADS = {"results.csv"}
CHOICES = [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_world(workers: int, items_per_bundle: int) -> dict:
    """5 requesters with one live bundle each (overlap 1, items inserted in SQL), `workers`
    workers; every user with an API token."""
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from accounts.models import RequesterProfile, User, WorkerProfile
    from tasks.models import Bundle, BundleStatus

    run = f"{int(time.time())}"
    requesters = User.objects.bulk_create(
        [User(email=f"load-r{n}-{run}@example.com") for n in range(REQUESTERS)]
    )
    RequesterProfile.objects.bulk_create([RequesterProfile(user=u) for u in requesters])
    people = User.objects.bulk_create(
        [User(email=f"load-w{n}-{run}@example.com") for n in range(workers)]
    )
    WorkerProfile.objects.bulk_create([WorkerProfile(user=u, country="US") for u in people])
    tokens = {t.user_id: t.key for t in Token.objects.bulk_create(
        [Token(user=u, key=Token.generate_key()) for u in [*requesters, *people]])}  # fmt: skip
    bundles = []
    for requester in requesters:
        bundle = Bundle.objects.create(
            requester=requester, title=f"load {run}", instructions="Pick one.",
            question={"type": "single_choice", "choices": CHOICES}, reward_minor=5,
            min_overlap=1, max_overlap=1, status=BundleStatus.PUBLISHED, time_limit_seconds=3600,
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO tasks_item (bundle_id, external_id, payload, is_gold, state,
                                           priority, slots_open, judgments_submitted, created_at)
                   SELECT %s, 'e' || g, jsonb_build_object('text', 'item ' || g), false, 'open',
                          0, 1, 0, now() FROM generate_series(1, %s) g""",
                [bundle.pk, items_per_bundle],
            )
        bundles.append(bundle.pk)
    return {
        "bundles": bundles,
        "requesters": [(tokens[u.pk], bundles[n]) for n, u in enumerate(requesters)],
        "workers": [(tokens[u.pk], bundles[n % REQUESTERS]) for n, u in enumerate(people)],
    }


class Server:
    """gunicorn serving the project as production does (docs/deploy/gunicorn.conf.py), with
    bench/load_settings.py (plus the ceiling URL); processes, worker class and threads as
    asked, no access log."""

    def __init__(self, processes: int, worker_class: str = "gthread", threads: int = 1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.load_settings",
            "CELERY_BROKER_URL": REDIS_URL,
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "WEB_THREADS": str(threads),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "marketplace.wsgi:application",
             "--config", "docs/deploy/gunicorn.conf.py", "--access-logfile", "/dev/null",
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(processes),
             "--worker-class", worker_class, "--threads", str(threads),
             "--backlog", "2048", "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip

    def wait_ready(self) -> None:
        import requests

        deadline = time.monotonic() + 180  # a loaded machine imports slowly
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/bench/ceiling/", timeout=10)  # 401: it answers
                return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.3)
        raise SystemExit("gunicorn did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


# -- clients (threads in a few processes: one Python process cannot drive 200 clients) -----


def _call(session, method, url, expected, log, name, **kwargs):
    start = time.perf_counter()
    try:
        response = session.request(method, url, timeout=30, **kwargs)
        status, outcome = response.status_code, str(response.status_code)
    except Exception as exc:  # noqa: BLE001 - counted as an error, by kind
        response, status, outcome = None, 0, type(exc).__name__
    log.append((name, time.perf_counter() - start, status in expected, outcome))
    return response if status in expected else None


def worker_loop(base, token, bundle_id, stop_at, think, log, seed):
    """A worker: claim, answer after a pause, submit with `next=1`, repeat."""
    import requests

    rng = random.Random(seed)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    current = None
    while time.time() < stop_at:
        if current is None:
            claimed = _call(session, "POST", f"{base}/api/v1/work/bundles/{bundle_id}/claim/",
                            (201,), log, "claim")  # fmt: skip
            current = claimed.json()["id"] if claimed is not None else None
            if current is None:
                time.sleep(0.5)
                continue
        if think:
            time.sleep(rng.expovariate(1 / think))
        answered = _call(session, "POST",
                         f"{base}/api/v1/work/assignments/{current}/submit/?next=1",
                         (200,), log, "submit+next", json={"answer": rng.choice("ab")})  # fmt: skip
        following = answered.json().get("next") if answered is not None else None
        current = following["id"] if following else None


def requester_loop(base, token, bundle_id, stop_at, download_every, log, seed):
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    last_download = 0.0
    while time.time() < stop_at:
        _call(session, "GET", f"{base}/api/v1/bundles/{bundle_id}/", (200,), log, "progress")
        if time.time() - last_download >= download_every:
            last_download = time.time()
            _call(session, "GET", f"{base}/api/v1/bundles/{bundle_id}/results/?format=csv",
                  (200,), log, "results.csv")  # fmt: skip
        time.sleep(1)


def ceiling_loop(base, token, stop_at, log):
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    while time.time() < stop_at:
        _call(session, "GET", f"{base}/bench/ceiling/", (200,), log, "ceiling")


def client_process(jobs, stop_at, queue):
    """Run `jobs` (kind, args) as threads until `stop_at`; send back the log."""
    log: list = []
    threads = [threading.Thread(target=_runner(kind, args, stop_at, log)) for kind, args in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(log)


def _runner(kind, args, stop_at, log):
    if kind == "worker":
        base, token, bundle_id, think, seed = args
        return lambda: worker_loop(base, token, bundle_id, stop_at, think, log, seed)
    if kind == "requester":
        base, token, bundle_id, download_every, seed = args
        return lambda: requester_loop(base, token, bundle_id, stop_at, download_every, log, seed)
    base, token = args
    return lambda: ceiling_loop(base, token, stop_at, log)


def run_phase(jobs, seconds: float, processes: int) -> list:
    """Spread the jobs over `processes` client processes, run them for `seconds`."""
    stop_at = time.time() + seconds
    queue: mp.Queue = mp.Queue()
    chunks = [jobs[n::processes] for n in range(processes)]
    procs = [
        mp.Process(target=client_process, args=(chunk, stop_at, queue)) for chunk in chunks if chunk
    ]
    for p in procs:
        p.start()
    logs = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return [entry for log in logs for entry in log]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summarise(log: list, seconds: float) -> dict[str, dict]:
    by: dict[str, list] = defaultdict(list)
    for name, latency, ok, _ in log:
        by[name].append((latency, ok))
    out = {}
    for name, rows in sorted(by.items()):
        latencies = [latency * 1000 for latency, _ in rows]
        out[name] = {
            "requests": len(rows),
            "rps": len(rows) / seconds,
            "p50": percentile(latencies, 0.50),
            "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
            "errors": sum(1 for _, ok in rows if not ok),
        }
    return out


def double_assignments(bundles: list[int]) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM (
                 SELECT a.item_id FROM tasks_assignment a JOIN tasks_item i ON i.id = a.item_id
                  WHERE i.bundle_id = ANY(%s) AND a.status <> 'expired' AND a.status <> 'returned'
                  GROUP BY a.item_id HAVING count(*) > 1) d""",
            [bundles],
        )
        return cursor.fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="the day (phase 3)")
    parser.add_argument("--saturate", type=float, default=10.0, help="phases 1 and 2")
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients, 1-2")
    parser.add_argument(
        "--think", type=float, default=5.0,
        help="mean seconds a worker takes to answer (5: reading one short text and picking a "
        "label; 2: a fast clicker, a stress figure)",
    )  # fmt: skip
    parser.add_argument("--processes", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--threads", type=int, default=4, help="per gunicorn worker (gthread)")
    parser.add_argument("--download-every", type=float, default=5.0,
                        help="seconds between a requester's results downloads")  # fmt: skip
    args = parser.parse_args()
    seconds = max(5.0, args.seconds * args.scale)
    saturate = max(3.0, args.saturate * args.scale)
    workers = max(10, int(args.workers * args.scale))

    django_setup_for_bench()
    world = make_world(workers + args.clients, items_per_bundle=int(20_000 * max(args.scale, 0.1)))
    threads = args.threads if args.worker_class == "gthread" else 1
    server = Server(args.processes, args.worker_class, threads)
    try:
        server.wait_ready()
        base = server.url
        day_workers, saturators = world["workers"][:workers], world["workers"][workers:]
        print(f"gunicorn: {args.processes} {args.worker_class} workers x {threads} threads at "
              f"{base}; {workers} workers (mean think {args.think:g} s), {REQUESTERS} requesters "
              f"(a download every {args.download_every:g} s), {args.clients} closed-loop "
              "clients")  # fmt: skip
        ceiling_log = run_phase([("ceiling", (base, tok)) for tok, _ in saturators], saturate, 2)
        claim_log = run_phase(
            [("worker", (base, tok, b, 0.0, n)) for n, (tok, b) in enumerate(saturators)],
            saturate, 2,
        )  # fmt: skip
        day_jobs = [("worker", (base, tok, b, args.think, n))
                    for n, (tok, b) in enumerate(day_workers)]  # fmt: skip
        day_jobs += [
            ("requester", (base, tok, b, args.download_every, n))
            for n, (tok, b) in enumerate(world["requesters"])
        ]
        day_log = run_phase(day_jobs, seconds, 4)
    finally:
        server.stop()

    ceiling = summarise(ceiling_log, saturate)
    claims = summarise(claim_log, saturate)
    day = summarise(day_log, seconds)
    rows = []
    for phase, stats in (("1 ceiling", ceiling), ("2 claim capacity", claims), ("3 the day", day)):
        for name, s in stats.items():
            rows.append([phase, name, s["requests"], s["rps"], s["p50"], s["p95"], s["p99"],
                         s["errors"]])  # fmt: skip
    print_table(["phase", "endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"],
                rows)  # fmt: skip
    ceiling_rps = ceiling["ceiling"]["rps"] if "ceiling" in ceiling else 0.0
    claim_rps = sum(s["rps"] for s in claims.values())
    interactive = [latency * 1000 for name, latency, _, _ in day_log if name not in DOWNLOADS]
    everything = [latency * 1000 for _, latency, _, _ in day_log]
    errors = sum(s["errors"] for s in (*ceiling.values(), *claims.values(), *day.values()))
    doubles = double_assignments(world["bundles"])
    failed = Counter(f"{name} {outcome}" for log in (ceiling_log, claim_log, day_log)
                     for name, _, ok, outcome in log if not ok)  # fmt: skip
    if failed:
        print("errors by kind:", ", ".join(f"{kind} x{n}" for kind, n in failed.most_common()))
    print(
        f"ceiling {ceiling_rps:.1f} req/s, worker loop {claim_rps:.1f} req/s, "
        f"the day: {len(day_log)} requests, {doubles} double assignments; p99 of every "
        f"request of the day, downloads included: {percentile(everything, 0.99):.0f} ms"
    )
    results = [
        report_target(
            "load_claim_vs_ceiling", claim_rps / ceiling_rps if ceiling_rps else 0.0, ">=", 0.25
        ),  # fmt: skip
        report_target("load_p99_ms", percentile(interactive, 0.99), "<=", 250),
        report_target("load_errors", errors, "<=", 0),
        report_target("load_double_assignments", doubles, "<=", 0),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
