#!/usr/bin/env bash
# Runs the test suites against PostgreSQL storage: `npm test` (or the command given, e.g. `node
# --conditions=stead-source --import ./src/register.ts --test test/semantics/kv.test.ts`) with
# STEAD_TEST_STORAGE=postgres and STEAD_TEST_POSTGRES_URL naming a database made for this run.
# Each store the tests open is a schema of its own in that database (test/support/storage.ts);
# the database is dropped afterwards, whatever happened. Exits with the tests' status.
#
# Needs a local PostgreSQL on 127.0.0.1:5432 that trusts the user postgres (Debian's
# postgresql package, as CI sets it up); the cluster is started if it is not running.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
USER_NAME=postgres

bash "$(dirname "$0")/ensure-postgres.sh"

database="stead_test_$$_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
createdb -h "$HOST" -p "$PORT" -U "$USER_NAME" "$database"
drop() {
  # --force ends the connections a failed test may have left open.
  dropdb -h "$HOST" -p "$PORT" -U "$USER_NAME" --if-exists --force "$database" ||
    echo "test-postgres: could not drop database $database; drop it by hand" >&2
}
trap drop EXIT

export STEAD_TEST_STORAGE=postgres
export STEAD_TEST_POSTGRES_URL="postgres://$USER_NAME@$HOST:$PORT/$database"
status=0
if [ "$#" -eq 0 ]; then npm test || status=$?; else "$@" || status=$?; fi
exit "$status"
