#!/usr/bin/env bash
# Automatic failover time with a witness, from the primary's death to the promoted node serving
# writes: a witness, a secondary with --auto-failover and a primary, all with their default
# timings (heartbeat timeout 2 s, lease 1.5 s); the primary writes BUFFERED_MB (default: 0, then
# 256) through its export, takes a checkpoint, and is killed with SIGKILL. Reported per round:
#   detection   SIGKILL → the secondary promoting with the witness's vote
#   promotion   promoting → promoted and serving the image over NBD
#   first write SIGKILL → a qemu-io write on the promoted node's export acknowledged
# and what the secondary held committed but not yet written back at the kill.
#
#   scripts/failover-time.sh            # ROUNDS="0 256" IMAGE_MB=512
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT_NAME=failover-time.sh
. scripts/measure-lib.sh

ROUNDS=${ROUNDS:-"0 256"}
IMAGE_MB=${IMAGE_MB:-512}
now_ms() { date +%s%3N; }
# log_ms FILE TEXT: the time (ms since the epoch, today) of the first log line holding TEXT.
log_ms() { python3 - "$1" "$2" <<'PY'
import sys, datetime
path, text = sys.argv[1], sys.argv[2]
for line in open(path, errors="replace"):
    if text in line:
        t = datetime.datetime.strptime(line[:12], "%H:%M:%S.%f").time()
        d = datetime.datetime.combine(datetime.date.today(), t)
        print(int(d.timestamp() * 1000)); break
PY
}

printf '%-12s %12s %12s %14s %16s\n' "buffered MB" "detection ms" "promotion ms" "first write ms" "unapplied at kill"
n=0
for mb in $ROUNDS; do
  n=$((n + 1)); round="$work/round$n"; mkdir -p "$round"
  truncate -s "${IMAGE_MB}M" "$round/p.img"; truncate -s "${IMAGE_MB}M" "$round/s.img"
  w_port=$(free_port); s_port=$(free_port); p_nbd=$(free_port); s_nbd=$(free_port)
  common=(--link-key "$work/pair.key" --witness "127.0.0.1:$w_port")
  # The witness votes only once its longest lease could have run out since it started: 2 s here, not 10.
  "${replicator[@]}" witness --listen "127.0.0.1:$w_port" --state-dir "$round/w" --link-key "$work/pair.key" --max-lease-ms 2000 >"$round/w.log" 2>&1 &
  pids+=($!)
  wait_for "$round/w.log" "witness listening"
  "${replicator[@]}" secondary --image "$round/s.img" --listen "127.0.0.1:$s_port" --nbd "127.0.0.1:$s_nbd" \
    --state-dir "$round/s" --auto-failover --writeback-mb 1024 "${common[@]}" >"$round/s.log" 2>&1 &
  pids+=($!)
  wait_for "$round/s.log" "listening for the primary"
  "${replicator[@]}" primary --image "$round/p.img" --peer "127.0.0.1:$s_port" --nbd "127.0.0.1:$p_nbd" \
    --state-dir "$round/p" --skip-initial-sync "${common[@]}" >"$round/p.log" 2>&1 &
  primary=$!
  pids+=($primary)
  wait_for "$round/p.log" "exporting the protected disk over NBD"
  if [ "$mb" -gt 0 ]; then
    qemu-io -f raw -c "write -P 0x5a 0 ${mb}M" "nbd://127.0.0.1:$p_nbd/" >/dev/null
  else
    qemu-io -f raw -c "write -P 0x5a 0 64k" "nbd://127.0.0.1:$p_nbd/" >/dev/null
  fi
  "${replicator[@]}" checkpoint --state-dir "$round/p" >/dev/null
  unapplied=$("${replicator[@]}" status --state-dir "$round/s" --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["status"]; print("%d epochs, %d MiB" % (s["LastCommittedEpoch"]-s["LastAppliedEpoch"], s["BufferedBytes"]>>20))')
  killed=$(now_ms)
  kill -9 "$primary"
  wait_for "$round/s.log" "serving the image over NBD"
  until qemu-io -f raw -c "write -P 0x6b 0 4k" "nbd://127.0.0.1:$s_nbd/" >/dev/null 2>&1; do sleep 0.01; done
  written=$(now_ms)
  promoting=$(log_ms "$round/s.log" "promoting (")
  serving=$(log_ms "$round/s.log" "serving the image over NBD")
  printf '%-12s %12s %12s %14s %16s\n' "$mb" "$((promoting - killed))" "$((serving - promoting))" "$((written - killed))" "$unapplied"
  stop_all
done
