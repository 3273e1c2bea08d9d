#!/usr/bin/env bash
# The guest-visible pause of a planned switchover, measured from the guest's side: a writer (libnbd,
# 4 KiB writes each followed by a flush, at random places) runs against the primary's export, moves
# to whichever export answers when its connection ends, and reports the longest gaps between two
# completed writes. The pair switches over (A → B), then back (B → A). The baseline is the same
# writer's gaps outside the switchovers, in the same run.
#
#   scripts/switchover.sh            # IMAGE_MB=256 EPOCH_MS=25 ROUNDS=3
#
# Needs python3-libnbd (scripts/install-test-deps.sh installs it) and a built replicator (built here).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT_NAME=switchover.sh
. scripts/measure-lib.sh
scripts/install-test-deps.sh >/dev/null

IMAGE_MB=${IMAGE_MB:-256}
EPOCH_MS=${EPOCH_MS:-25}
ROUNDS=${ROUNDS:-3}

truncate -s "${IMAGE_MB}M" "$work/a.img"
truncate -s "${IMAGE_MB}M" "$work/b.img"
a_listen=$(free_port); b_listen=$(free_port); a_nbd=$(free_port); b_nbd=$(free_port)
common=(--link-key "$work/pair.key" --epoch-ms "$EPOCH_MS" --reconnect-ms 50)

"${replicator[@]}" secondary --image "$work/b.img" --listen "127.0.0.1:$b_listen" --peer "127.0.0.1:$a_listen" \
  --nbd "127.0.0.1:$b_nbd" --state-dir "$work/b" "${common[@]}" >"$work/b.log" 2>&1 &
pids+=($!)
wait_for "$work/b.log" "listening for the primary"
"${replicator[@]}" primary --image "$work/a.img" --listen "127.0.0.1:$a_listen" --peer "127.0.0.1:$b_listen" \
  --nbd "127.0.0.1:$a_nbd" --state-dir "$work/a" --skip-initial-sync "${common[@]}" >"$work/a.log" 2>&1 &
pids+=($!)
wait_for "$work/a.log" "exporting the protected disk over NBD"

# The writer: bounded by its own deadline; prints every gap above 20 ms with its time, then a summary.
cat >"$work/writer.py" <<'PY'
import json, random, sys, time
import nbd
uris, seconds, size = sys.argv[1].split(","), float(sys.argv[2]), int(sys.argv[3])
buf = bytearray(4096)
deadline = time.monotonic() + seconds
gaps, writes, target, h = [], 0, 0, None
last = time.monotonic()
while time.monotonic() < deadline:
    try:
        if h is None:
            h = nbd.NBD()
            h.connect_uri(uris[target])
        h.pwrite(buf, random.randrange(0, size // 4096) * 4096)
        h.flush()
        now = time.monotonic()
        gaps.append((now - last, now, uris[target]))
        last = now
        writes += 1
    except nbd.Error:
        h = None
        target = (target + 1) % len(uris)
        time.sleep(0.001)
gaps.sort(reverse=True)
print(json.dumps({"writes": writes, "longest_ms": [round(g[0] * 1000, 1) for g in gaps[:8]],
                  "p50_ms": round(sorted(g[0] for g in gaps)[len(gaps) // 2] * 1000, 2),
                  "p99_ms": round(sorted(g[0] for g in gaps)[int(len(gaps) * 0.99)] * 1000, 2)}))
PY

duration=$(( 3 + ROUNDS * 8 ))
/usr/bin/python3 "$work/writer.py" "nbd://127.0.0.1:$a_nbd/,nbd://127.0.0.1:$b_nbd/" "$duration" "$((IMAGE_MB << 20))" >"$work/writer.json" &
writer=$!
pids+=($writer)

primary=a; secondary=b
sleep 3
for round in $(seq 1 "$ROUNDS"); do
  echo "switchover $round: $primary → $secondary"
  "${replicator[@]}" switchover --state-dir "$work/$primary" | tr -d '\n' | sed 's/  */ /g'; echo
  wait_for "$work/$primary.log" "resync complete: the pair is protected again\|listening for the primary"
  sleep 4
  tmp=$primary; primary=$secondary; secondary=$tmp
done

wait "$writer"
echo "the guest's writes (4 KiB + flush, one at a time) across $ROUNDS switchovers:"
cat "$work/writer.json"
echo "(the $ROUNDS longest gaps are the switchovers' guest-visible pauses; p50/p99 of all gaps are the baseline)"
echo "verify on the primary now ($primary):"
"${replicator[@]}" verify --state-dir "$work/$primary" | tr -d '\n' | sed 's/  */ /g'; echo
