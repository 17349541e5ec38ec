#!/usr/bin/env bash
# Makes sure a NATS server with JetStream listens on 127.0.0.1:4222 for the queue tests
# (test/bindings/queues-nats.test.ts and the e2e tests with --queues), starting Debian's
# nats-server if nothing answers there. Its JetStream files live in /var/lib/nats-server.
set -euo pipefail

HOST=127.0.0.1
PORT=4222
STORE=/var/lib/nats-server
LOG=/var/log/nats-server.log

listening() {
  (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

start() {
  if [ ! -x /usr/sbin/nats-server ]; then
    echo "ensure-nats: nothing listens on $HOST:$PORT and nats-server is not installed; install it with: sudo apt-get install -y nats-server" >&2
    exit 1
  fi
  echo "ensure-nats: starting nats-server with JetStream on $HOST:$PORT" >&2
  mkdir -p "$STORE"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a "$HOST" -p "$PORT" -js -sd "$STORE" -l "$LOG"
  for _ in $(seq 1 100); do
    listening && return 0
    sleep 0.1
  done
  echo "ensure-nats: nats-server does not accept connections on $HOST:$PORT (see $LOG)" >&2
  exit 1
}

listening || start
