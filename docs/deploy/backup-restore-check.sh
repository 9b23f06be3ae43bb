#!/usr/bin/env bash
# Back up the database and prove the backup restores (`make backup-check`):
#   1. pg_dump DATABASE_URL (custom format) into BACKUP_FILE (default /tmp/crowdmarket-<time>.dump);
#   2. restore it into a scratch database on the same server;
#   3. compare every table's row count between the two, and run `manage.py check_books`
#      (the ledger sums to zero, escrow covers pending work) on the restored copy;
#   4. drop the scratch database. Exit status 0 only if every step passed.
# Run it on a schedule with the dump copied off the machine: a backup never restored is a hope.
set -euo pipefail

SOURCE=${DATABASE_URL:?set DATABASE_URL=postgres://user@host:5432/dbname}
case "$SOURCE" in postgres*) ;; *) echo "needs PostgreSQL" >&2; exit 2;; esac
DUMP=${BACKUP_FILE:-/tmp/crowdmarket-$(date -u +%Y%m%dT%H%M%SZ).dump}
SERVER=${SOURCE%/*}
SCRATCH=crowdmarket_restore_check_$$
PYTHON=${PYTHON:-.venv/bin/python}

counts() {
  psql "$1" -At -F ' ' -c "
    SELECT table_name, (xpath('/row/c/text()', query_to_xml(
             format('SELECT count(*) AS c FROM %I', table_name), false, true, '')))[1]::text
      FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
}

pg_dump --format=custom --no-owner --file "$DUMP" "$SOURCE"
echo "dumped $(du -h "$DUMP" | cut -f1) to $DUMP"
psql "$SERVER/postgres" -q -c "CREATE DATABASE $SCRATCH"
trap 'psql "$SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $SCRATCH"' EXIT
pg_restore --no-owner --exit-on-error --dbname "$SERVER/$SCRATCH" "$DUMP"

if ! diff <(counts "$SOURCE") <(counts "$SERVER/$SCRATCH"); then
  echo "row counts differ between the database and its restored backup" >&2
  exit 1
fi
echo "restored into $SCRATCH: $(counts "$SERVER/$SCRATCH" | wc -l) tables, same row counts"
DATABASE_URL="$SERVER/$SCRATCH" "$PYTHON" manage.py check_books
echo "backup restores and its books balance"
