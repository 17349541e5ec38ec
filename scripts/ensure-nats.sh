#!/usr/bin/env bash
# Makes sure a NATS server with JetStream answers on 127.0.0.1:4222 (the change feed's and the
# queues' tests publish there), starting Debian's nats-server in the background if it does not.
set -euo pipefail

HOST=127.0.0.1
PORT=4222

answers() {
  (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

answers && exit 0
if [ ! -x /usr/sbin/nats-server ]; then
  echo "ensure-nats: no NATS on $HOST:$PORT and none installed; install it with: sudo apt-get install -y nats-server" >&2
  exit 1
fi
echo "ensure-nats: starting nats-server with JetStream on $HOST:$PORT" >&2
mkdir -p /var/lib/nats-server
start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
  -a "$HOST" -p "$PORT" -js -sd /var/lib/nats-server -l /var/log/nats-server.log
for _ in $(seq 1 100); do
  answers && exit 0
  sleep 0.1
done
echo "ensure-nats: NATS does not accept connections on $HOST:$PORT (see /var/log/nats-server.log)" >&2
exit 1
