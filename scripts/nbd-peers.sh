#!/usr/bin/env bash
# The NBD data path against its peers: one client (fio's nbd engine), one image file, one run.
# Servers, one after another on the same preallocated file:
#   replicator, replicated    the primary's export, every write mirrored to a secondary on 127.0.0.1
#   replicator, unreplicated  the primary's export with replication off (`primary --no-replication`):
#                             the same write filter and local path, no secondary
#   replicator NBD, file      our NBD server straight over the file, no write filter (a promoted secondary)
#   qemu-nbd, nbdkit file, nbd-server
#   ... unix                  the replicated export, qemu-nbd and nbdkit again on a Unix-domain socket
#                             (how a local QEMU connects)
# Jobs: 4 KiB random writes at depth 1 and 32, 1 MiB sequential writes at depth 8, 4 KiB random
# writes each followed by a flush (fio fsync=1, which the nbd engine sends as NBD_CMD_FLUSH), and
# 4 KiB random reads at depth 1 and 32 (fio's engine is libnbd: reads come as structured replies).
# Prints one table (IOPS, MB/s, p99 completion latency and the server's CPU per I/O, per server and
# job), then the replicated export's IOPS as a ratio to every other row. The CPU is the user and
# system time of the server's processes (both daemons for the replicated rows; none for
# nbd-server, which forks a process per connection) over the whole fio run, its ramp included,
# divided by the I/Os that run's rate comes to over the same time: on a machine the client and
# servers share, what a server spends per I/O is what it leaves for the others.
#
# Every server first runs every job once for WARMUP seconds (default 2), untimed: a fresh .NET daemon
# compiles its hot paths for several seconds after it starts (the replicated pair ran its first job
# at 0.6x its later speed), and what a deployed daemon serves is its steady state.
#
# Usage: scripts/nbd-peers.sh [RUNTIME]   RUNTIME: seconds per job (default 5), after RAMP seconds
#        of warm-up (default 1). WARMUP: seconds per job of the untimed first pass (default 2; 0
#        for none). SIZE_MB: image size (default 1024). PRIMARY_ARGS: more options for
#        the replicating primaries (e.g. "--mirror-batch-kb 0", to compare one build's settings). Installs fio, nbdkit,
#        nbd-server and qemu-utils with apt-get when missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
runtime=${1:-5}
read -r -a primary_args <<<"${PRIMARY_ARGS:-}"
ramp=${RAMP:-1}
warmup=${WARMUP:-2}
[[ $warmup =~ ^[0-9]+$ ]] || { echo "nbd-peers: WARMUP is whole seconds (0 for none), not '$warmup'" >&2; exit 2; }
size_mb=${SIZE_MB:-1024}
work=$(mktemp -d)
pids=()
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
cleanup() { [ -s "$work/nbd-server.pid" ] && pids+=("$(cat "$work/nbd-server.pid")"); stop_servers; rm -rf "$work"; }
trap cleanup EXIT

# --- tools ---------------------------------------------------------------------------------
declare -A package_of=([fio]=fio [nbdkit]=nbdkit [nbd-server]=nbd-server [qemu-nbd]=qemu-utils)
missing=()
for tool in "${!package_of[@]}"; do
  PATH="/usr/bin:/usr/sbin:$PATH" command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "nbd-peers: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
export PATH="/usr/bin:/usr/sbin:$PATH"

dotnet build src/Replicator.Cli -c Release -v q -nologo >/dev/null
replicator=(dotnet src/Replicator.Cli/bin/Release/net10.0/replicator.dll)
# The pair runs as deployed: the link authenticated and encrypted with a pair key.
"${replicator[@]}" keygen --out "$work/pair.key" >/dev/null
key=(--link-key "$work/pair.key")

# Preallocated, written images: no server pays for first-touch block allocation the others skip.
# Random bytes, not zeroes: a server that answers reads of zero blocks as holes (ours does) would
# otherwise skip sending the very data the read jobs measure.
head -c "$((size_mb << 20))" /dev/urandom >"$work/disk.img"
cp "$work/disk.img" "$work/secondary.img"
cp "$work/disk.img" "$work/secondary-unix.img"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 400); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }
wait_socket() { for _ in $(seq 1 400); do [ -S "$1" ] && return 0; sleep 0.05; done; echo "socket $1 never appeared" >&2; return 1; }

results="$work/results.tsv"
: >"$results"
jobs=("randwrite 4k 1 0" "randwrite 4k 32 0" "write 1M 8 0" "randwrite 4k 1 1" "randread 4k 1 0" "randread 4k 32 0")

# User + system clock ticks of the processes given, summed (0 for none, and for one that has exited:
# its job then fails and says so, rather than this stopping the script).
clock_ticks=$(getconf CLK_TCK)
cpu_ticks() { local total=0 p; for p in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$total"; }

fio_job() { # URI JOB SECONDS [FIO_OPTION...]: one of the jobs above, as JSON
  local uri=$1 rw bs depth flush seconds=$3
  read -r rw bs depth flush <<<"$2"
  fio --ioengine=nbd --uri="$uri" --rw="$rw" --bs="$bs" --iodepth="$depth" --fsync="$flush" \
    --size="${size_mb}M" --runtime="$seconds" --time_based --output-format=json "${@:4}"
}

run_jobs() { # NAME URI [SERVER_PID...]
  local name=$1 uri=$2
  local servers=("${@:3}")
  if [ "$warmup" -gt 0 ]; then
    for job in "${jobs[@]}"; do fio_job "$uri" "$job" "$warmup" --name=warmup >/dev/null 2>&1 || true; done
  fi
  for job in "${jobs[@]}"; do
    read -r rw bs depth flush <<<"$job"
    local label="$rw $bs qd$depth" out ticks0 ticks1 started ended
    [ "$flush" = 1 ] && label="$label +flush"
    ticks0=$(cpu_ticks "${servers[@]}"); started=$(date +%s.%N)
    if ! out=$(fio_job "$uri" "$job" "$runtime" --name=peer --ramp_time="$ramp" 2>"$work/fio.err"); then
      printf '%s\t%s\tfailed: %s\n' "$name" "$label" "$(tail -n 1 "$work/fio.err")" >>"$results"
      continue
    fi
    ended=$(date +%s.%N); ticks1=$(cpu_ticks "${servers[@]}")
    python3 -c '
import json, sys
text = sys.stdin.read()
job = json.loads(text[text.index("{"):])["jobs"][0]
w, s = job["read" if "read" in sys.argv[3] else "write"], job.get("sync", {})
p99 = lambda lat: lat.get("percentile", {}).get("99.000000", 0) / 1000
flush = "\t%.1f" % p99(s["lat_ns"]) if s.get("total_ios") else "\t"
servers, ticks, hz = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[8])
seconds = float(sys.argv[7]) - float(sys.argv[6])
cpu = "\t%.1f" % (ticks / hz / seconds * 1e6 / w["iops"]) if servers and w["iops"] else "\t"
print("%s\t%s\t%.0f\t%.1f\t%.1f%s%s" % (sys.argv[1], sys.argv[2], w["iops"], w["bw_bytes"] / 1e6, p99(w["clat_ns"]), flush, cpu))
' "$name" "$label" "$rw" "${#servers[@]}" "$((ticks1 - ticks0))" "$started" "$ended" "$clock_ticks" <<<"$out" >>"$results"
  done
}

skip() { for job in "${jobs[@]}"; do read -r rw bs depth flush <<<"$job"; l="$rw $bs qd$depth"; [ "$flush" = 1 ] && l="$l +flush"; printf '%s\t%s\tskipped: %s\n' "$1" "$l" "$2" >>"$results"; done; }

# --- replicator, replicated ----------------------------------------------------------------
sport=$(free_port); pport=$(free_port)
"${replicator[@]}" secondary --image "$work/secondary.img" --listen "127.0.0.1:$sport" --state-dir "$work/s" "${key[@]}" >"$work/s.log" 2>&1 &
pids+=($!); wait_port "$sport"
"${replicator[@]}" primary --image "$work/disk.img" --peer "127.0.0.1:$sport" --nbd "127.0.0.1:$pport" --state-dir "$work/p" --epoch-ms 25 --skip-initial-sync "${key[@]}" "${primary_args[@]}" >"$work/p.log" 2>&1 &
pids+=($!); wait_port "$pport"
run_jobs "replicator, replicated" "nbd://127.0.0.1:$pport/" "${pids[@]}"
status=$("${replicator[@]}" status --state-dir "$work/p" --json 2>&1 || true)
stop_servers
replication_note=$(python3 -c '
import json, sys
try:
    s = json.loads(sys.argv[1])["status"]
except Exception:
    print("status unavailable: " + sys.argv[1][:200]); sys.exit()
degraded = s.get("Degraded")
acked = s.get("LastAcknowledgedEpoch")
print(("DEGRADED during the run: %s" % degraded) if degraded else "replication stayed on; last acknowledged epoch %s" % acked)
' "$status")

# --- replicator, replicated, on a Unix-domain socket ---------------------------------------------
sport=$(free_port)
"${replicator[@]}" secondary --image "$work/secondary-unix.img" --listen "127.0.0.1:$sport" --state-dir "$work/su" "${key[@]}" >"$work/su.log" 2>&1 &
pids+=($!); wait_port "$sport"
"${replicator[@]}" primary --image "$work/disk.img" --peer "127.0.0.1:$sport" --nbd "unix:$work/replicated.sock" --state-dir "$work/pu" --epoch-ms 25 --skip-initial-sync "${key[@]}" "${primary_args[@]}" >"$work/pu.log" 2>&1 &
pids+=($!)
if wait_socket "$work/replicated.sock"; then
  run_jobs "replicator, replicated, unix" "nbd+unix:///?socket=$work/replicated.sock" "${pids[@]}"
else
  skip "replicator, replicated, unix" "the primary did not serve: $(tail -n 1 "$work/pu.log")"
fi
stop_servers

# --- replicator, unreplicated: the same export and write filter, no secondary ------------------
pport=$(free_port)
"${replicator[@]}" primary --image "$work/disk.img" --no-replication --nbd "127.0.0.1:$pport" --state-dir "$work/p-off" >"$work/p-off.log" 2>&1 &
pids+=($!)
if wait_port "$pport"; then
  run_jobs "replicator, unreplicated" "nbd://127.0.0.1:$pport/" "${pids[@]}"
else
  skip "replicator, unreplicated" "primary --no-replication did not serve: $(tail -n 1 "$work/p-off.log")"
fi
stop_servers

# --- replicator NBD server over the file: the first run's secondary promoted, serving its image ---
# (a blank secondary is never promoted, so it is the one that followed the replicated run)
sport=$(free_port); nport=$(free_port)
"${replicator[@]}" secondary --image "$work/secondary.img" --listen "127.0.0.1:$sport" --nbd "127.0.0.1:$nport" --state-dir "$work/s" "${key[@]}" >"$work/f.log" 2>&1 &
pids+=($!); wait_port "$sport"
if "${replicator[@]}" failover --state-dir "$work/s" >"$work/failover.log" 2>&1 && wait_port "$nport"; then
  run_jobs "replicator NBD, file" "nbd://127.0.0.1:$nport/" "${pids[@]}"
else
  skip "replicator NBD, file" "the promoted secondary did not serve: $(tail -n 3 "$work/failover.log" "$work/f.log" | tr '\n' ' ')"
fi
stop_servers

# --- peers on the same file ------------------------------------------------------------------
port=$(free_port)
qemu-nbd -f raw -b 127.0.0.1 -p "$port" -t "$work/disk.img" 2>"$work/qemu-nbd.log" & pids+=($!); wait_port "$port"
run_jobs "qemu-nbd" "nbd://127.0.0.1:$port/" "${pids[@]}"
stop_servers

port=$(free_port)
nbdkit -f -i 127.0.0.1 -p "$port" file file="$work/disk.img" 2>"$work/nbdkit.log" & pids+=($!); wait_port "$port"
run_jobs "nbdkit file" "nbd://127.0.0.1:$port/" "${pids[@]}"
stop_servers

qemu-nbd -f raw -k "$work/qemu-nbd.sock" -t "$work/disk.img" 2>"$work/qemu-nbd-unix.log" & pids+=($!); wait_socket "$work/qemu-nbd.sock"
run_jobs "qemu-nbd, unix" "nbd+unix:///?socket=$work/qemu-nbd.sock" "${pids[@]}"
stop_servers

nbdkit -f -U "$work/nbdkit.sock" file file="$work/disk.img" 2>"$work/nbdkit-unix.log" & pids+=($!); wait_socket "$work/nbdkit.sock"
run_jobs "nbdkit file, unix" "nbd+unix:///?socket=$work/nbdkit.sock" "${pids[@]}"
stop_servers

port=$(free_port)
cat >"$work/nbd-server.conf" <<EOF
[generic]
    listenaddr = 127.0.0.1
    port = $port
    allowlist = false
[disk]
    exportname = $work/disk.img
    flush = true
    fua = true
    trim = true
EOF
# As a daemon, forking one child per connection. Not in the foreground (-d): that serves a single
# connection and exits, and fio's nbd engine opens two per job (one to learn the size).
wait_file() { for _ in $(seq 1 400); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
if nbd-server -C "$work/nbd-server.conf" -p "$work/nbd-server.pid" 2>"$work/nbd-server.log" && wait_file "$work/nbd-server.pid" && wait_port "$port"; then
  run_jobs "nbd-server" "nbd://127.0.0.1:$port/disk"
else
  skip "nbd-server" "did not serve: $(tail -n 1 "$work/nbd-server.log")"
fi
pids+=("$(cat "$work/nbd-server.pid" 2>/dev/null)") && rm -f "$work/nbd-server.pid"
stop_servers

# --- the table ---------------------------------------------------------------------------------
echo
echo "fio $(fio --version) nbd engine; ${runtime}s per job after ${ramp}s warm-up, every server first run through every job for ${warmup}s untimed; ${size_mb} MiB preallocated image; $(nproc) CPUs"
echo "replicated run: $replication_note"
if [ -n "${PRIMARY_ARGS:-}" ]; then echo "replicating primaries started with: $PRIMARY_ARGS"; fi
python3 - "$results" <<'EOF'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
print("%-30s %-24s %9s %9s %11s %13s %12s" % ("server", "job", "IOPS", "MB/s", "p99 us", "p99 flush us", "CPU us/IO"))
for r in rows:
    if len(r) == 3:
        print("%-30s %-24s %s" % (r[0], r[1], r[2]))
    else:
        print("%-30s %-24s %9s %9s %11s %13s %12s" % (r[0], r[1], r[2], r[3], r[4], r[5] or "-", r[6] or "-"))

iops = {(r[0], r[1]): float(r[2]) for r in rows if len(r) == 7}
jobs = list(dict.fromkeys(r[1] for r in rows))
names = list(dict.fromkeys(r[0] for r in rows))
# The TCP export against every TCP row; the Unix-socket export against the Unix-socket rows.
for ours, others in (("replicator, replicated", [n for n in names if not n.endswith(", unix")]),
                     ("replicator, replicated, unix", [n for n in names if n.endswith(", unix")])):
    servers = [n for n in others if n != ours]
    if ours not in names or not servers:
        continue
    print()
    print("IOPS of %s / IOPS of each other row (1.00 = equal; above 1 = ours faster)" % ours)
    print("%-24s" % "job" + "".join("  %s" % n for n in servers))
    for job in jobs:
        cells = []
        for n in servers:
            a, b = iops.get((ours, job)), iops.get((n, job))
            cells.append("  %*s" % (len(n), "%.2f" % (a / b) if a and b else "-"))
        print("%-24s" % job + "".join(cells))
EOF
