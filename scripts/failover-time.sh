#!/usr/bin/env bash
# Failover time, from the primary's death to the promoted node serving writes. Two ways to fail
# over (MODES, default both): `witness` — a witness and a secondary with --auto-failover, on their
# default timings (heartbeat timeout 2 s, lease 1.5 s); `operator` — no witness, `replicator
# failover` run the moment the primary is dead (no detection: the write-back backlog is still
# there when the promotion begins). Each round the primary writes BUFFERED_MB (ROUNDS, default 0
# — 64 KiB — then 256) through its export, takes a checkpoint, and is killed with SIGKILL.
# Reported, from the SIGKILL:
#   detection   the secondary promoting (with the witness's vote, or at the operator's command)
#   promotion   promoting → promoted and serving the image over NBD (not counted from the kill)
#   first write a qemu-io write beside the buffered range acknowledged (it waits for nothing)
#   overlapping a write of the last block written before the kill acknowledged (while that
#               block's epoch still drains, the write waits for the drain)
#   drained     the committed epochs written back: the image alone holds the checkpoint
# and what the secondary held committed but not yet written back at the kill. Every round reads
# the checkpoint and the two writes back through the promoted export, and fails if they differ.
#
#
# SECONDARY_DISK_MBPS=N (root only) puts the secondary's image and state directory on an ext4 file
# system on a loop device whose writes the block-I/O controller throttles to N MB/s: a disk slower
# than the page cache, so that the committed epochs are still draining when the promotion begins.
#
#   scripts/failover-time.sh            # ROUNDS="0 256" MODES="witness operator" IMAGE_MB=512
#   SECONDARY_DISK_MBPS=40 MODES=operator scripts/failover-time.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT_NAME=failover-time.sh
. scripts/measure-lib.sh

ROUNDS=${ROUNDS:-"0 256"}
MODES=${MODES:-"witness operator"}
IMAGE_MB=${IMAGE_MB:-512}
SECONDARY_DISK_MBPS=${SECONDARY_DISK_MBPS:-0}

secondary_root="$work"
if [ "$SECONDARY_DISK_MBPS" -gt 0 ]; then
  throttle=/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device
  [ "$(id -u)" -eq 0 ] && [ -w "$throttle" ] || { echo "$SCRIPT_NAME: SECONDARY_DISK_MBPS needs root and the cgroup v1 block-I/O controller ($throttle)" >&2; exit 1; }
  truncate -s "$(( IMAGE_MB * 3 + 256 ))M" "$work/slow.fs"
  slow_loop=$(losetup -f --show "$work/slow.fs")
  mkfs.ext4 -q "$slow_loop"
  mkdir -p "$work/slow"
  mount "$slow_loop" "$work/slow"
  slow_device=$(lsblk -no MAJ:MIN "$slow_loop" | tr -d ' ')
  echo "$slow_device $(( SECONDARY_DISK_MBPS * 1000000 ))" >"$throttle"
  release_slow_disk() { echo "$slow_device 0" >"$throttle" || true; umount "$work/slow" || true; losetup -d "$slow_loop" || true; }
  trap 'stop_all; release_slow_disk; cleanup' EXIT
  secondary_root="$work/slow"
fi
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

printf '%-9s %-12s %12s %12s %14s %14s %10s %18s\n' "failover" "buffered MB" "detection ms" "promotion ms" "first write ms" "overlapping ms" "drained ms" "unapplied at kill"
n=0
for mode in $MODES; do
for mb in $ROUNDS; do
  n=$((n + 1)); round="$work/round$n"; mkdir -p "$round"
  s_dir="$secondary_root/round$n"; mkdir -p "$s_dir"
  truncate -s "${IMAGE_MB}M" "$round/p.img"; truncate -s "${IMAGE_MB}M" "$s_dir/s.img"
  w_port=$(free_port); s_port=$(free_port); p_nbd=$(free_port); s_nbd=$(free_port)
  common=(--link-key "$work/pair.key")
  takeover=()
  if [ "$mode" = witness ]; then
    common+=(--witness "127.0.0.1:$w_port")
    takeover=(--auto-failover)
    # The witness votes only once its longest lease could have run out since it started: 2 s here, not 10.
    "${replicator[@]}" witness --listen "127.0.0.1:$w_port" --state-dir "$round/w" --link-key "$work/pair.key" --max-lease-ms 2000 >"$round/w.log" 2>&1 &
    pids+=($!)
    wait_for "$round/w.log" "witness listening"
  fi
  "${replicator[@]}" secondary --image "$s_dir/s.img" --listen "127.0.0.1:$s_port" --nbd "127.0.0.1:$s_nbd" \
    --state-dir "$s_dir/s" --writeback-mb 1024 "${takeover[@]}" "${common[@]}" >"$round/s.log" 2>&1 &
  pids+=($!)
  wait_for "$round/s.log" "listening for the primary"
  "${replicator[@]}" primary --image "$round/p.img" --peer "127.0.0.1:$s_port" --nbd "127.0.0.1:$p_nbd" \
    --state-dir "$round/p" --skip-initial-sync "${common[@]}" >"$round/p.log" 2>&1 &
  primary=$!
  pids+=($primary)
  wait_for "$round/p.log" "exporting the protected disk over NBD"
  written_kb=$(( mb > 0 ? mb * 1024 : 64 ))
  qemu-io -f raw -c "write -P 0x5a 0 ${written_kb}k" "nbd://127.0.0.1:$p_nbd/" >/dev/null
  "${replicator[@]}" checkpoint --state-dir "$round/p" >/dev/null
  unapplied=$("${replicator[@]}" status --state-dir "$s_dir/s" --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["status"]; print("%d epochs, %d MiB" % (s["LastCommittedEpoch"]-s["LastAppliedEpoch"], s["BufferedBytes"]>>20))')
  killed=$(now_ms)
  kill -9 "$primary"
  if [ "$mode" = operator ]; then
    "${replicator[@]}" failover --state-dir "$s_dir/s" >/dev/null
  fi
  wait_for "$round/s.log" "serving the image over NBD"
  until qemu-io -f raw -c "write -P 0x6b $((IMAGE_MB - 1))M 4k" "nbd://127.0.0.1:$s_nbd/" >/dev/null 2>&1; do sleep 0.01; done
  written=$(now_ms)
  # The last block written before the kill: in the last epoch, the last to drain.
  qemu-io -f raw -c "write -P 0x6c $((written_kb - 4))k 4k" "nbd://127.0.0.1:$s_nbd/" >/dev/null
  overlapping=$(now_ms)
  read_back=$(qemu-io -f raw -c "read -P 0x5a 0 $((written_kb - 4))k" -c "read -P 0x6c $((written_kb - 4))k 4k" -c "read -P 0x6b $((IMAGE_MB - 1))M 4k" "nbd://127.0.0.1:$s_nbd/" 2>&1)
  if [ "$(grep -c "^read" <<<"$read_back")" -ne 3 ] || grep -q "verification failed" <<<"$read_back"; then
    echo "round $n: the promoted export did not read back the checkpoint and the writes since: $read_back" >&2; exit 1
  fi
  promoting=$(log_ms "$round/s.log" "promoting (")
  serving=$(log_ms "$round/s.log" "serving the image over NBD")
  if grep -q "taking over at checkpoint" "$round/s.log"; then
    wait_for "$round/s.log" "takeover drained"
    drained=$(log_ms "$round/s.log" "takeover drained")
  else
    drained=$serving # a build that drains before it serves (for a before/after run of this script)
  fi
  printf '%-9s %-12s %12s %12s %14s %14s %10s %18s\n' "$mode" "$mb" "$((promoting - killed))" "$((serving - promoting))" "$((written - killed))" "$((overlapping - killed))" "$((drained - killed))" "$unapplied"
  stop_all
  rm -rf "$s_dir"
done
done
