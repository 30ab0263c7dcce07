#!/usr/bin/env bash
# attend serve under load: the same run served with dynamic batching on
# (--max-batch 64, the default) and off (--max-batch 1), CLIENTS concurrent clients
# (default 64) for DURATION seconds (default 20) each, one sentence per request from
# the bundled Tatoeba validation split; prints requests/s, p50/p99 latency
# and errors of each, and the throughput ratio. Each client keeps its connection
# alive, as HTTP libraries do; NEW_CONNECTIONS=1 opens one per request instead.
#
#   bash benches/serve-load.sh [RUN_DIR]
#
# RUN_DIR defaults to runs/main (the default run: `attend train --out runs/main`).
# Needs a release build (ATTEND= and LOAD= point to other binaries):
#   cargo build --release --example serve_load
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/main}
TARGET=${CARGO_TARGET_DIR:-target}
ATTEND=${ATTEND:-$TARGET/release/attend}
LOAD=${LOAD:-$TARGET/release/examples/serve_load}
CLIENTS=${CLIENTS:-64}
SECONDS_EACH=${DURATION:-20}
PORT=${PORT:-18089}
EXTRA=""
[ "${NEW_CONNECTIONS:-0}" = 1 ] && EXTRA="--new-connections"
[ -d "$RUN" ] || { echo "no run at $RUN: train one (attend train --out $RUN) or give its directory" >&2; exit 1; }
for b in "$ATTEND" "$LOAD"; do
  [ -x "$b" ] || { echo "missing $b: cargo build --release --example serve_load" >&2; exit 1; }
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
for batch in 64 1; do
  "$ATTEND" serve --run "$RUN" --device cpu --addr "127.0.0.1:$PORT" --max-batch "$batch" > /tmp/attend-serve-load.log 2>&1 &
  pid=$!
  for _ in $(seq 600); do grep -q "serving" /tmp/attend-serve-load.log && break; sleep 0.1; done
  grep -q "serving" /tmp/attend-serve-load.log || { cat /tmp/attend-serve-load.log; kill $pid; exit 1; }
  # Warm-up: the first requests of each batch size allocate.
  "$LOAD" --addr "127.0.0.1:$PORT" --clients "$CLIENTS" --seconds 3 $EXTRA > /dev/null
  line=$("$LOAD" --addr "127.0.0.1:$PORT" --clients "$CLIENTS" --seconds "$SECONDS_EACH" $EXTRA)
  echo "--max-batch $batch: $line"
  eval "rate_$batch=$(echo "$line" | sed -E 's/.* ([0-9.]+) requests\/s.*/\1/')"
  kill -INT $pid; wait $pid || true
done
python3 -c "print(f'batching on / off: {$rate_64 / $rate_1:.2f}x requests/s')"
