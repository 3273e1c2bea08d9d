#!/usr/bin/env bash
# Measures the NBD data path with one client (fio's nbd engine) on one file, in one run:
# Replicator's primary export (replication on, to a secondary on 127.0.0.1) beside qemu-nbd and
# nbdkit's file plugin serving the same image. Prints one line per server and job.
# Needs fio, qemu-utils and nbdkit (apt-get install fio qemu-utils nbdkit). Bounded: each job runs
# RUNTIME seconds (default 5). Usage: scripts/nbd-peers.sh [RUNTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
runtime=${1:-5}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

dotnet build src/Replicator.Cli -c Release -v q -nologo >/dev/null
replicator=(dotnet src/Replicator.Cli/bin/Release/net10.0/replicator.dll)
truncate -s 1G "$work/disk.img"
cp --sparse=always "$work/disk.img" "$work/secondary.img"

wait_port() { for _ in $(seq 1 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }

run_jobs() { # name port
  local name=$1 port=$2
  for job in "randwrite 4k 1" "randwrite 4k 32" "write 1M 8"; do
    set -- $job
    out=$(fio --name=peer --ioengine=nbd --uri="nbd://127.0.0.1:$port/" --rw="$1" --bs="$2" --iodepth="$3" \
      --size=1G --runtime="$runtime" --time_based --output-format=json 2>/dev/null)
    python3 -c 'import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):])["jobs"][0]["write"]; print("%-28s %-10s bs=%-3s qd=%-3s %9.0f IOPS %8.1f MB/s  p99 %8.1f us" % (sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], j["iops"], j["bw_bytes"]/1e6, j["clat_ns"]["percentile"]["99.000000"]/1000))' \
      "$name" "$1" "$2" "$3" <<<"$out"
  done
}

# Replicator: secondary, then primary exporting the protected disk (replication on).
"${replicator[@]}" secondary --image "$work/secondary.img" --listen 127.0.0.1:17700 --state-dir "$work/s" --buffer-mb 256 >"$work/s.log" 2>&1 &
pids+=($!); wait_port 17700
"${replicator[@]}" primary --image "$work/disk.img" --peer 127.0.0.1:17700 --nbd 127.0.0.1:17809 --state-dir "$work/p" --epoch-ms 25 >"$work/p.log" 2>&1 &
pids+=($!); wait_port 17809
run_jobs "replicator (replicated)" 17809
"${replicator[@]}" status --state-dir "$work/p" | sed 's/^/    /' | grep -E "LastAcknowledgedEpoch|Degraded" || true
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

qemu-nbd -f raw -b 127.0.0.1 -p 17810 -t "$work/disk.img" & pids+=($!); wait_port 17810
run_jobs "qemu-nbd" 17810
kill "${pids[@]}"; wait 2>/dev/null || true; pids=()

nbdkit -f -i 127.0.0.1 -p 17811 file file="$work/disk.img" & pids+=($!); wait_port 17811
run_jobs "nbdkit file" 17811
