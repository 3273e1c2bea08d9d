#!/usr/bin/env bash
# The primary's dirty log, measured in one run on 127.0.0.1 with the pair key:
#
# 1. What it costs on the write path: fio's nbd engine writing 4 KiB at random over the whole image
#    through the replicated primary's export, at depth 1 and 32, with the dirty log off
#    (--activity-log-extents 0, the baseline), on with its default 256 extents of 4 MiB (every
#    extent of the image fits: after the first write into each, no write waits for the log), and on
#    with 8 extents (most writes land in a cold extent and wait for one log write and flush).
# 2. What it saves after a crash: fio writes 4 KiB at random (depth 4) into a working set of
#    WORKING_MB at the start of the image; after LOAD_S seconds the primary is killed (SIGKILL)
#    under that load and started again; the bytes its resync copies (status --json, SyncBytesTotal)
#    are set against the hot set (the extents the working set covers) and the image. Then the same
#    with the writes spread over the whole image and an activity log of 32 extents (128 MiB): the
#    log then churns, and what it evicts goes into the bitmap.
#
# Usage: scripts/dirty-log.sh   SIZE_MB (default 1024), WORKING_MB (default 256), RUNTIME_S per fio
#        job (default 10), LOAD_S before the kill (default 8), PARTS (default "cost crash": either or
#        both). Installs fio when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${SIZE_MB:-1024}
working_mb=${WORKING_MB:-256}
runtime=${RUNTIME_S:-10}
load_s=${LOAD_S:-8}
parts=${PARTS:-cost crash}
SCRIPT_NAME=dirty-log
source scripts/measure-lib.sh
sport=""; pport=""; primary_pid=""

# A pair on two new, equal (zeroed, allocated) images: the secondary, then the primary with PRIMARY_OPTIONS.
start_pair() { # NAME PRIMARY_OPTIONS...
  local name=$1; shift
  sport=$(free_port); pport=$(free_port)
  rm -rf "$work/$name-s" "$work/$name-p" "$work/primary.img" "$work/secondary.img"
  fallocate -l "${size_mb}M" "$work/primary.img"; fallocate -l "${size_mb}M" "$work/secondary.img"
  "${replicator[@]}" secondary --image "$work/secondary.img" --listen "127.0.0.1:$sport" --state-dir "$work/$name-s" \
    --link-key "$work/pair.key" >"$work/$name-s.log" 2>&1 &
  pids+=($!)
  wait_for "$work/$name-s.log" "listening for the primary"
  start_primary "$name" --skip-initial-sync "$@"
}

start_primary() { # NAME PRIMARY_OPTIONS...
  local name=$1; shift
  "${replicator[@]}" primary --image "$work/primary.img" --peer "127.0.0.1:$sport" --nbd "127.0.0.1:$pport" \
    --state-dir "$work/$name-p" --link-key "$work/pair.key" "$@" >>"$work/$name-p.log" 2>&1 &
  primary_pid=$!
  pids+=("$primary_pid")
  wait_for "$work/$name-p.log" "exporting the protected disk over NBD"
}

fio_iops() { # DEPTH SIZE_MB
  fio --name=guest --ioengine=nbd --uri="nbd://127.0.0.1:$pport/" --rw=randwrite --bs=4k --iodepth="$1" \
    --size="${2}M" --runtime="$runtime" --time_based --randrepeat=0 --output-format=json >"$work/fio.json" 2>"$work/fio.err" \
    || { echo "dirty-log: fio failed" >&2; cat "$work/fio.err" >&2; tail -n 20 "$work"/*-p.log >&2; return 1; }
  # The nbd engine says it connected on stdout, before the JSON.
  python3 -c 'import json,sys; s = open(sys.argv[1]).read(); print(round(json.loads(s[s.index("{"):])["jobs"][0]["write"]["iops"]))' "$work/fio.json"
}

# --- 1. cost on the write path ----------------------------------------------------------------
declare -A iops
settings=(); [[ " $parts " == *" cost "* ]] && settings=(0 256 8)
for setting in "${settings[@]}"; do
  start_pair "cost-$setting" --activity-log-extents "$setting"
  iops[$setting,1]=$(fio_iops 1 "$size_mb")
  iops[$setting,32]=$(fio_iops 32 "$size_mb")
  stop_all
done

# --- 2. resync after a SIGKILL under load -----------------------------------------------------
crash_run() { # NAME SPAN_MB EXTENTS -> "restored_regions restored_bytes synced_bytes whole"
  local name=$1 span=$2 extents=$3
  start_pair "$name" --activity-log-extents "$extents"
  fio --name=guest --ioengine=nbd --uri="nbd://127.0.0.1:$pport/" --rw=randwrite --bs=4k --iodepth=4 \
    --size="${span}M" --runtime=3600 --time_based --output-format=json >/dev/null 2>"$work/$name-fio.err" &
  local fio_pid=$!
  sleep "$load_s"
  kill -KILL "$primary_pid"
  wait "$primary_pid" 2>/dev/null || true
  kill -INT "$fio_pid" 2>/dev/null || true; wait "$fio_pid" 2>/dev/null || true
  start_primary "$name" --activity-log-extents "$extents"
  wait_for "$work/$name-p.log" "complete at checkpoint"
  local restored status
  restored=$(grep -o "dirty log restored: [0-9]* regions ([0-9]* bytes)" "$work/$name-p.log" | tail -n 1 | sed -E 's/.*: ([0-9]+) regions \(([0-9]+) bytes\)/\1 \2/')
  status=$("${replicator[@]}" status --state-dir "$work/$name-p" --json)
  stop_all
  python3 - "$status" "${restored:-0 0}" <<'EOF'
import json, sys
s = json.loads(sys.argv[1])["status"]
regions, restored = sys.argv[2].split()
print(regions, restored, s["SyncBytesTotal"], s["SyncWholeImage"])
EOF
}

if [[ " $parts " == *" crash "* ]]; then
  read -r ws_regions ws_restored ws_synced ws_whole < <(crash_run crash-working "$working_mb" 256)
  read -r churn_regions churn_restored churn_synced churn_whole < <(crash_run crash-churn "$size_mb" 32)
fi

mib() { python3 -c "print(f'{$1 / 1048576:.1f}')"; }
if [ ${#settings[@]} -gt 0 ]; then
printf '\ndirty log on the write path: fio randwrite 4 KiB over a %d MiB image through the replicated export, %s cores\n' "$size_mb" "$(nproc)"
printf '%-40s %12s %12s %12s %12s\n' "" "qd 1 IOPS" "vs off" "qd 32 IOPS" "vs off"
for setting in 0 256 8; do
  label="--activity-log-extents $setting"
  [ "$setting" = 0 ] && label="$label (no dirty log)"
  printf '%-40s %12s %12s %12s %12s\n' "$label" "${iops[$setting,1]}" \
    "$(python3 -c "print(f'{${iops[$setting,1]} / ${iops[0,1]}:.2f}')")" "${iops[$setting,32]}" \
    "$(python3 -c "print(f'{${iops[$setting,32]} / ${iops[0,32]}:.2f}')")"
done
fi
[[ " $parts " == *" crash "* ]] || exit 0

printf '\nresync after SIGKILL of the primary under load (fio randwrite 4 KiB qd 4 for %s s), %d MiB image\n' "$load_s" "$size_mb"
printf '%-52s %14s %14s %14s %8s\n' "" "log names MiB" "resynced MiB" "hot set MiB" "whole?"
printf '%-52s %14s %14s %14s %8s\n' "writes in the first $working_mb MiB, 256 extents" "$(mib "$ws_restored")" "$(mib "$ws_synced")" "$working_mb" "$ws_whole"
printf '%-52s %14s %14s %14s %8s\n' "writes over all $size_mb MiB, 32 extents (128 MiB)" "$(mib "$churn_restored")" "$(mib "$churn_synced")" "128" "$churn_whole"
