#!/usr/bin/env bash
# Failback, measured in one run on 127.0.0.1 with the pair key: fio writes 4 KiB at random (depth 4)
# into the first OLD_MB of the image through the primary's export; after LOAD_S seconds the primary
# is killed (SIGKILL) under that load and the secondary fails over; fio then writes into NEW_MB at
# the middle of the image through the promoted node's export for LOAD_S seconds; then the old
# primary starts as a secondary on its own image and state directory. The bytes the new primary
# copies back (status --json: SyncBytesTotal) and its rate are set against the two write sets and
# against a whole-image copy, measured on the same pair right after (the old primary started again
# on a new, empty state directory: a blank secondary, copied whole). verify checks each end.
#
# Usage: scripts/failback.sh   SIZE_MB (default 1024), OLD_MB (64), NEW_MB (32), LOAD_S (5).
# Installs fio when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${SIZE_MB:-1024}
old_mb=${OLD_MB:-64}
new_mb=${NEW_MB:-32}
load_s=${LOAD_S:-5}
SCRIPT_NAME=failback
source scripts/measure-lib.sh

a_listen=$(free_port); b_listen=$(free_port); a_nbd=$(free_port); b_nbd=$(free_port)
fallocate -l "${size_mb}M" "$work/a.img"; fallocate -l "${size_mb}M" "$work/b.img"
key=(--link-key "$work/pair.key")

"${replicator[@]}" secondary --image "$work/b.img" --listen "127.0.0.1:$b_listen" --peer "127.0.0.1:$a_listen" \
  --nbd "127.0.0.1:$b_nbd" --state-dir "$work/b" --reconnect-ms 100 "${key[@]}" >"$work/b.log" 2>&1 &
pids+=($!)
wait_for "$work/b.log" "listening for the primary"
"${replicator[@]}" primary --image "$work/a.img" --peer "127.0.0.1:$b_listen" --nbd "127.0.0.1:$a_nbd" \
  --state-dir "$work/a" --skip-initial-sync "${key[@]}" >"$work/a.log" 2>&1 &
a_pid=$!
pids+=($a_pid)
wait_for "$work/a.log" "exporting the protected disk over NBD"

load() { # URI OFFSET_MB SIZE_MB SECONDS
  fio --name=guest --ioengine=nbd --uri="$1" --rw=randwrite --bs=4k --iodepth=4 --offset="${2}M" --size="${3}M" \
    --runtime="$4" --time_based --output-format=json >/dev/null 2>>"$work/fio.err" || true
}

load "nbd://127.0.0.1:$a_nbd/" 0 "$old_mb" 3600 &
fio_pid=$!
sleep "$load_s"
kill -KILL "$a_pid"; wait "$a_pid" 2>/dev/null || true
kill -INT "$fio_pid" 2>/dev/null || true; wait "$fio_pid" 2>/dev/null || true
epoch=$("${replicator[@]}" failover --state-dir "$work/b" | python3 -c 'import json,sys; print(json.load(sys.stdin)["epoch"])')
echo "failed over at checkpoint $epoch"
load "nbd://127.0.0.1:$b_nbd/" $((size_mb / 2)) "$new_mb" "$load_s"

# One failback: the old primary as a secondary on its own storage; the copy's size and time from the new primary's status.
failback() { # NAME STATE_DIR -> "bytes MBps whole"
  "${replicator[@]}" secondary --image "$work/a.img" --listen "127.0.0.1:$a_listen" --peer "127.0.0.1:$b_listen" \
    --state-dir "$2" "${key[@]}" >"$work/a-$1.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  local before; before=$(grep -c "resync complete: the pair is protected again" "$work/b.log" || true)
  for _ in $(seq 1 2400); do
    [ "$(grep -c "resync complete: the pair is protected again" "$work/b.log" || true)" -gt "$before" ] && break; sleep 0.05
  done
  "${replicator[@]}" status --state-dir "$work/b" --json | python3 -c '
import json,sys
s = json.load(sys.stdin)["status"]
print(s["SyncBytesTotal"], s["SyncMBps"], s["SyncWholeImage"])'
  "${replicator[@]}" verify --state-dir "$work/b" | python3 -c 'import json,sys; r = json.load(sys.stdin); print("verify: equal" if r["Equal"] else "verify: DIFFER")' >&2
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

result=$(failback changes "$work/a"); read -r bytes mbps whole <<<"$result"
echo "failback from the changes: $(python3 -c "print(round($bytes / 2**20, 1))") MiB copied of a ${size_mb} MiB image at ${mbps} MB/s (whole image: $whole); the old primary wrote into ${old_mb} MiB (in 4 MiB hot extents), the new one into ${new_mb} MiB"
result=$(failback whole "$work/a-blank"); read -r wbytes wmbps wwhole <<<"$result"
echo "the same node as a blank secondary: $(python3 -c "print(round($wbytes / 2**20, 1))") MiB copied at ${wmbps} MB/s (whole image: $wwhole)"
echo "copied, failback / whole: $(python3 -c "print(round($bytes / max($wbytes, 1), 3))")"
