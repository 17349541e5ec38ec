#!/usr/bin/env bash
# Makes sure the local PostgreSQL (127.0.0.1:5432, trust auth for the user postgres, as Debian's
# postgresql package sets it up on the development and CI machines) accepts connections,
# starting its cluster if it is not running. The PostgreSQL driver's own tests use the database
# `test`; scripts/test-postgres.sh makes a database of its own for the whole-suite run.
set -euo pipefail

HOST=127.0.0.1
PORT=5432

start() {
  if ! command -v pg_ctlcluster >/dev/null || [ ! -d /etc/postgresql ]; then
    echo "ensure-postgres: no PostgreSQL on $HOST:$PORT and none installed; install it with: sudo apt-get install -y postgresql" >&2
    exit 1
  fi
  version=$(ls /etc/postgresql)
  echo "ensure-postgres: starting PostgreSQL $version (cluster main)" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 100); do
    pg_isready -q -h "$HOST" -p "$PORT" && break
    sleep 0.1
  done
  if ! pg_isready -q -h "$HOST" -p "$PORT"; then
    echo "ensure-postgres: PostgreSQL does not accept connections on $HOST:$PORT" >&2
    exit 1
  fi
}

pg_isready -q -h "$HOST" -p "$PORT" || start
# The database the driver's own tests use.
psql -q -h "$HOST" -p "$PORT" -U postgres -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 ||
  createdb -h "$HOST" -p "$PORT" -U postgres test
