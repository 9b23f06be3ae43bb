"""Item upload throughput vs. a raw COPY of the same rows (PostgreSQL), and its memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crowdmarket_bench python -m bench.ingest
    python -m bench.ingest --rows 200000        # a quick run (or --scale 0.2, as `make bench`)

Writes a CSV of --rows items (external_id, text, gold on ~5% of rows) and one of a quarter as
many rows to a temporary directory, then runs each measurement in its own process so that
peak RSS (ru_maxrss) belongs to that phase alone:

- load:  `tasks.ingest.items_load` of the CSV into a fresh bundle, in one transaction,
  committed (what `POST /api/v1/bundles/{id}/items/` does after authentication).
- copy items table: the baseline. A raw `COPY ... FROM STDIN` of the same rows, already in
  COPY text form (converted while generating, untimed), into a table comparable to the items
  table: `LIKE tasks_item INCLUDING ALL` (same columns, types, defaults, identity, the claim
  and unique partial indexes) plus the same deferred foreign key to the bundle, committed.
  This is what PostgreSQL itself costs for this job, with no parsing or validation.
- copy plain table: for reference, `COPY ... (FORMAT csv, HEADER)` of the CSV file itself into
  a table of its three text columns, no indexes: the floor of COPY on this machine.

Ends with `TARGET ingest_vs_copy <load rows/s / copy-items-table rows/s> >= 0.25` and
`TARGET ingest_memory_flat <peak RSS full / peak RSS quarter> <= 1.5` (streaming: memory must
not grow with the file). DATABASE_URL defaults to a scratch `crowdmarket_bench` database, which
is created and migrated if missing; the rows loaded are removed afterwards.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import print_table, report_target
from bench.setup_db import django_setup_for_bench

PLAIN_TABLE = "bench_ingest_plain"
ITEMS_TABLE = "bench_ingest_items"
REQUESTER_EMAIL = "bench-ingest@example.com"
WORDS = [
    "great",
    "terrible",
    "okay",
    "product",
    "service",
    "delivery",
    "price",
    "quality",
    "broken",
    "works",
    "love",
    "hate",
    "fast",
    "slow",
    "cheap",
    "expensive",
    "recommend",
    "return",
    "refund",
    "again",
    "never",
    "always",
]


def write_files(directory: Path, rows: int, seed: int = 7) -> tuple[Path, Path]:
    """A realistic review file (~60-100 characters of text a row, gold on ~5% of rows), and
    the same rows as COPY text for the items-table baseline."""
    rng = random.Random(seed)
    csv_path, copy_path = directory / f"items-{rows}.csv", directory / f"items-{rows}.copy"
    with (
        csv_path.open("w", newline="", encoding="utf-8") as csv_file,
        copy_path.open("w", encoding="utf-8") as copy_file,
    ):
        writer = csv.writer(csv_file)
        writer.writerow(["external_id", "text", "gold"])
        for n in range(rows):
            text = f"Review {n}: " + " ".join(rng.choices(WORDS, k=rng.randint(8, 14)))
            if rng.random() < 0.3:
                text += ', "quoted", with commas'
            gold = rng.choice(("pos", "neg")) if rng.random() < 0.05 else ""
            writer.writerow([f"e{n}", text, gold])
            payload = json.dumps({"text": text}).replace("\\", "\\\\")
            copy_file.write(
                f'e{n}\t{payload}\t"{gold}"\tt\t0\n' if gold else f"e{n}\t{payload}\t\\N\tf\t3\n"
            )
    return csv_path, copy_path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def phase_copy_plain(csv_path: Path) -> dict[str, float]:
    """Raw COPY of the CSV file into a plain table of its text columns, committed."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {PLAIN_TABLE} (external_id text, text text, gold text)"
        )
        cursor.execute(f"TRUNCATE {PLAIN_TABLE}")
    rss_before = peak_rss_mb()
    try:
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor, csv_path.open("rb") as source:
            cursor.copy_expert(
                f"COPY {PLAIN_TABLE} FROM STDIN WITH (FORMAT csv, HEADER true)", source
            )
        seconds = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {PLAIN_TABLE}")
            (rows,) = cursor.fetchone()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {PLAIN_TABLE}")
    return {"rows": rows, "seconds": seconds, "rss_before_mb": rss_before}


def phase_copy_items(copy_path: Path) -> dict[str, float]:
    """Raw COPY of the same rows into a table shaped like tasks_item, committed."""
    from django.db import connection, transaction

    bundle = make_bundle(f"bench ingest baseline {copy_path.name}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {ITEMS_TABLE}")
        cursor.execute(f"CREATE TABLE {ITEMS_TABLE} (LIKE tasks_item INCLUDING ALL)")
        cursor.execute(
            f"""ALTER TABLE {ITEMS_TABLE}
                  ADD FOREIGN KEY (bundle_id) REFERENCES tasks_bundle (id)
                      DEFERRABLE INITIALLY DEFERRED,
                  ALTER COLUMN bundle_id SET DEFAULT {int(bundle.pk)},
                  ALTER COLUMN state SET DEFAULT 'open',
                  ALTER COLUMN priority SET DEFAULT 0,
                  ALTER COLUMN judgments_submitted SET DEFAULT 0,
                  ALTER COLUMN created_at SET DEFAULT now()"""
        )
    rss_before = peak_rss_mb()
    try:
        start = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor, copy_path.open("rb") as source:
            cursor.copy_expert(
                f"COPY {ITEMS_TABLE} (external_id, payload, gold, is_gold, slots_open) FROM STDIN",
                source,
            )
        seconds = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {ITEMS_TABLE}")
            (rows,) = cursor.fetchone()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {ITEMS_TABLE}")
        bundle.delete()
    return {"rows": rows, "seconds": seconds, "rss_before_mb": rss_before}


def make_bundle(title: str):
    from accounts.models import User
    from tasks.models import Bundle

    requester, _ = User.objects.get_or_create(email=REQUESTER_EMAIL)
    return Bundle.objects.create(
        requester=requester,
        title=title,
        question={"type": "single_choice", "choices": ["pos", "neg"]},
        reward_minor=5,
        min_overlap=3,
        max_overlap=3,
    )


def phase_load(path: Path) -> dict[str, float]:
    """Our upload path into a fresh bundle, committed; then the rows are removed again."""
    from django.db import connection, transaction

    from tasks.ingest import items_load

    bundle = make_bundle(f"bench ingest {path.name}")
    rss_before = peak_rss_mb()
    try:
        start = time.perf_counter()
        with transaction.atomic(), path.open("rb") as source:
            summary = items_load(bundle=bundle, source=source, fmt="csv")
        seconds = time.perf_counter() - start
        assert bundle.items.count() == summary.created
        return {
            "rows": summary.created,
            "gold": summary.gold,
            "seconds": seconds,
            "rss_before_mb": rss_before,
        }
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tasks_item WHERE bundle_id = %s", [bundle.pk])
            # Untimed: leave no dead rows behind, so the next run starts from the same table.
            cursor.execute("VACUUM (ANALYZE) tasks_item")
        bundle.delete()


def run_phase(phase: str, path: Path) -> dict[str, float]:
    """Run one phase in a fresh interpreter and read back its figures (and its peak RSS)."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--phase", phase, "--file", str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def child(phase: str, path: Path) -> None:
    django_setup_for_bench()
    phases = {"copy_plain": phase_copy_plain, "copy_items": phase_copy_items, "load": phase_load}
    figures = phases[phase](path)
    figures["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(figures), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply --rows (quick runs)")
    parser.add_argument(
        "--phase", choices=["copy_plain", "copy_items", "load"], help=argparse.SUPPRESS
    )
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args, unknown = parser.parse_known_args()
    if unknown:  # `make bench` passes one BENCH_ARGS to every benchmark
        print(f"(ignoring arguments meant for other benchmarks: {' '.join(unknown)})")
    if args.phase:
        child(args.phase, args.file)
        return 0

    url = django_setup_for_bench()
    rows = max(4, int(args.rows * args.scale))
    print(f"ingest benchmark on {url.rsplit('@', 1)[-1]}: {rows:,} rows and {rows // 4:,} rows")
    table: list[list[object]] = []
    results: dict[tuple[str, int], dict[str, float]] = {}
    names = {
        "load": "items_load (ours)",
        "copy_items": "raw COPY, items-like table",
        "copy_plain": "raw COPY, plain table",
    }
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for n in (rows, rows // 4):
            csv_path, copy_path = write_files(Path(tmp), n)
            size_mb = csv_path.stat().st_size / 2**20
            for phase in ("load", "copy_items", "copy_plain"):
                figures = run_phase(phase, copy_path if phase == "copy_items" else csv_path)
                results[(phase, n)] = figures
                table.append(
                    [
                        names[phase],
                        f"{n:,}",
                        f"{size_mb:.1f}",
                        round(figures["seconds"], 2),
                        f"{figures['rows'] / figures['seconds']:,.0f}",
                        round(figures["rss_before_mb"], 1),
                        round(figures["peak_rss_mb"], 1),
                    ]
                )
            csv_path.unlink()
            copy_path.unlink()
    print_table(
        ["path", "rows", "file MB", "seconds", "rows/s", "RSS before MB", "peak RSS MB"], table
    )

    def rate(phase: str, n: int) -> float:
        return results[(phase, n)]["rows"] / results[(phase, n)]["seconds"]

    ours, baseline, floor = rate("load", rows), rate("copy_items", rows), rate("copy_plain", rows)
    print(
        f"items_load {ours:,.0f} rows/s = {ours / baseline:.2f} x raw COPY into the items-like "
        f"table ({baseline:,.0f} rows/s), {ours / floor:.2f} x raw COPY into a plain table "
        f"({floor:,.0f} rows/s)"
    )
    ok = report_target("ingest_vs_copy", ours / baseline, ">=", 0.25)
    full, quarter = results[("load", rows)], results[("load", rows // 4)]
    ok &= report_target(
        "ingest_memory_flat", full["peak_rss_mb"] / quarter["peak_rss_mb"], "<=", 1.5
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
