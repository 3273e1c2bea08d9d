#!/usr/bin/env bash
# Online verify, measured: a pair on 127.0.0.1 (pair key) over two equal 1 GiB images of random
# bytes; `replicator verify` compares them block by block while the guest runs. Twice: the guest
# idle, and fio writing 4 KiB at random (depth 4) through the primary's export the whole time. The
# figure is bytes compared per second as the verify reports it, against the floor it cannot beat in
# the same run: reading the image (O_DIRECT, 4 MiB blocks) — each side reads its whole image once.
#
# Usage: scripts/verify-rate.sh   SIZE_MB (default 1024). Installs fio when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${SIZE_MB:-1024}
SCRIPT_NAME=verify-rate
source scripts/measure-lib.sh
dd if=/dev/urandom of="$work/primary.img" bs=4M count=$((size_mb / 4)) status=none
cp "$work/primary.img" "$work/secondary.img"
sync

now() { python3 -c 'import time; print(time.monotonic())'; }
t0=$(now); dd if="$work/primary.img" of=/dev/null bs=4M iflag=direct status=none; t1=$(now)
read_floor=$(python3 -c "print(f'{$size_mb * 1048576 / 1e6 / ($t1 - $t0):.0f}')")

sport=$(free_port); pport=$(free_port)
"${replicator[@]}" secondary --image "$work/secondary.img" --listen "127.0.0.1:$sport" --state-dir "$work/s" \
  --link-key "$work/pair.key" >"$work/s.log" 2>&1 &
pids+=($!)
wait_for "$work/s.log" "listening for the primary"
"${replicator[@]}" primary --image "$work/primary.img" --peer "127.0.0.1:$sport" --nbd "127.0.0.1:$pport" \
  --state-dir "$work/p" --link-key "$work/pair.key" --skip-initial-sync >"$work/p.log" 2>&1 &
pids+=($!)
wait_for "$work/p.log" "exporting the protected disk over NBD"

# One verify: prints "seconds MB/s blocks_diverged".
run_verify() {
  "${replicator[@]}" verify --state-dir "$work/p" >"$work/verify.json"
  python3 -c 'import json,sys; r = json.load(open(sys.argv[1])); print("%.1f %s %s" % (r["Seconds"], r["MBps"], r["BlocksDiverged"]))' "$work/verify.json"
}

read -r idle_s idle_rate idle_diverged < <(run_verify)
fio --name=guest --ioengine=nbd --uri="nbd://127.0.0.1:$pport/" --rw=randwrite --bs=4k --iodepth=4 \
  --size="${size_mb}M" --runtime=3600 --time_based --output-format=json >"$work/fio.json" 2>"$work/fio.err" &
fio_pid=$!
read -r busy_s busy_rate busy_diverged < <(run_verify)
kill -INT "$fio_pid" 2>/dev/null || true; wait "$fio_pid" 2>/dev/null || true

printf '\nonline verify of a %d MiB image, %s cores\n' "$size_mb" "$(nproc)"
printf '%-48s %10s %10s %16s\n' "" "seconds" "MB/s" "blocks differing"
printf '%-48s %10s %10s %16s\n' "verify, guest idle" "$idle_s" "$idle_rate" "$idle_diverged"
printf '%-48s %10s %10s %16s\n' "verify, guest writing 4 KiB at random (qd 4)" "$busy_s" "$busy_rate" "$busy_diverged"
printf '%-48s %10s %10s\n' "floor: read the image (O_DIRECT)" "" "$read_floor"
python3 -c "print(f'idle verify / read floor: {$idle_rate / $read_floor:.2f}; writing / idle: {$busy_rate / $idle_rate:.2f}')"
