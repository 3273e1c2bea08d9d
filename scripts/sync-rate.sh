#!/usr/bin/env bash
# The initial sync of a blank secondary, measured: a primary whose image holds data (random bytes)
# and a secondary whose image is a new, sparse file of the same size, on 127.0.0.1 with the pair
# key. The primary copies its whole image while the guest runs; the run ends when its status says
# the sync completed (the pair is protected). Twice: with the guest idle, and with fio writing
# 4 KiB at random (depth 4) through the primary's export the whole time. In the same run, the
# floors the copy cannot beat: reading the primary's image (O_DIRECT, 4 MiB blocks), writing the
# secondary's (O_DIRECT, then fdatasync), and the link (`replicator bench --floor-only`: 64 KiB
# frames through a loopback link, plain and with TLS and the pair key).
#
# Usage: scripts/sync-rate.sh   SIZE_MB: image size (default 1024). READS: --sync-reads-in-flight
#        (default 4). GRANULARITY_KB: --sync-granularity-kb (default 64). Installs fio with
#        apt-get when missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${SIZE_MB:-1024}
reads=${READS:-4}
granularity=${GRANULARITY_KB:-64}
SCRIPT_NAME=sync-rate
source scripts/measure-lib.sh
dd if=/dev/urandom of="$work/primary.img" bs=4M count=$((size_mb / 4)) status=none
sync

# --- floors ----------------------------------------------------------------------------------
mbps() { python3 -c "print(f'{($1) / 1e6 / ($2):.0f}')"; }
now() { python3 -c 'import time; print(time.monotonic())'; }
t0=$(now); dd if="$work/primary.img" of=/dev/null bs=4M iflag=direct status=none; t1=$(now)
read_floor=$(mbps "$size_mb * 1048576" "$t1 - $t0")
t0=$(now); dd if=/dev/zero of="$work/floor.img" bs=4M count=$((size_mb / 4)) oflag=direct conv=fdatasync status=none; t1=$(now)
write_floor=$(mbps "$size_mb * 1048576" "$t1 - $t0")
rm -f "$work/floor.img"
floor_json=$("${replicator[@]}" bench --floor-only)
link_plain=$(python3 -c "import json,sys; print(f\"{json.loads(sys.argv[1])['FramedBandwidthMBps']:.0f}\")" "$floor_json")
link_tls=$(python3 -c "import json,sys; print(f\"{json.loads(sys.argv[1])['TlsFramedBandwidthMBps']:.0f}\")" "$floor_json")


# One sync: prints "seconds MB/s".
run_sync() { # NAME WITH_WRITES
  local name=$1 writes=$2 sport pport
  sport=$(free_port); pport=$(free_port)
  rm -rf "$work/$name-s" "$work/$name-p" "$work/secondary.img"
  truncate -s "${size_mb}M" "$work/secondary.img"
  "${replicator[@]}" secondary --image "$work/secondary.img" --listen "127.0.0.1:$sport" --state-dir "$work/$name-s" \
    --link-key "$work/pair.key" >"$work/$name-s.log" 2>&1 &
  pids+=($!)
  wait_for "$work/$name-s.log" "listening for the primary"
  cp --reflink=auto "$work/primary.img" "$work/$name-primary.img"
  "${replicator[@]}" primary --image "$work/$name-primary.img" --peer "127.0.0.1:$sport" --nbd "127.0.0.1:$pport" \
    --state-dir "$work/$name-p" --link-key "$work/pair.key" --sync-reads-in-flight "$reads" --sync-granularity-kb "$granularity" \
    >"$work/$name-p.log" 2>&1 &
  pids+=($!)
  wait_for "$work/$name-p.log" "exporting the protected disk over NBD"
  local fio_pid=""
  if [ "$writes" = 1 ]; then
    fio --name=guest --ioengine=nbd --uri="nbd://127.0.0.1:$pport/" --rw=randwrite --bs=4k --iodepth=4 \
      --size="${size_mb}M" --runtime=3600 --time_based --output-format=json >"$work/$name-fio.json" 2>"$work/$name-fio.err" &
    fio_pid=$!
  fi
  for _ in $(seq 1 12000); do
    grep -q "full sync complete" "$work/$name-p.log" && break
    sleep 0.05
  done
  [ -n "$fio_pid" ] && { kill -INT "$fio_pid" 2>/dev/null || true; wait "$fio_pid" 2>/dev/null || true; }
  local line
  line=$(grep -o "full sync complete at checkpoint [0-9]*: [0-9]* bytes copied in [0-9.]* s ([0-9.]* MB/s)" "$work/$name-p.log" | tail -n 1)
  [ -n "$line" ] || { echo "sync-rate: the $name sync did not complete" >&2; tail -n 5 "$work/$name-p.log" >&2; return 1; }
  stop_all
  rm -f "$work/$name-primary.img"
  sed -E 's/.* copied in ([0-9.]+) s \(([0-9.]+) MB\/s\)/\1 \2/' <<<"$line"
}

read -r idle_s idle_rate < <(run_sync idle 0)
read -r busy_s busy_rate < <(run_sync busy 1)

printf '\nfull sync of a %d MiB image (--sync-reads-in-flight %s, --sync-granularity-kb %s), %s cores\n' "$size_mb" "$reads" "$granularity" "$(nproc)"
printf '%-44s %10s %10s\n' "" "seconds" "MB/s"
printf '%-44s %10s %10s\n' "sync, guest idle" "$idle_s" "$idle_rate"
printf '%-44s %10s %10s\n' "sync, guest writing 4 KiB at random (qd 4)" "$busy_s" "$busy_rate"
printf '%-44s %10s %10s\n' "floor: read the primary's image (O_DIRECT)" "" "$read_floor"
printf '%-44s %10s %10s\n' "floor: write an image (O_DIRECT, fdatasync)" "" "$write_floor"
printf '%-44s %10s %10s\n' "floor: link, 64 KiB frames, plain" "" "$link_plain"
printf '%-44s %10s %10s\n' "floor: link, 64 KiB frames, TLS" "" "$link_tls"
python3 - "$idle_rate" "$busy_rate" "$read_floor" "$write_floor" "$link_tls" <<'EOF'
import sys
idle, busy, read, write, link = map(float, sys.argv[1:])
least = min(read, write, link)
print(f"idle sync / lowest floor: {idle / least:.2f}; writing / idle: {busy / idle:.2f}")
EOF
