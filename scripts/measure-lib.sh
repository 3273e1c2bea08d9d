# Shared by the measurement scripts (sync-rate.sh, verify-rate.sh, dirty-log.sh): sourced, not run.
# Sets up a work directory removed at exit (kept with KEEP=1), background processes stopped at exit,
# fio installed when missing, the replicator built, and a pair key in the work directory.
# The caller sets SCRIPT_NAME first (for messages) and runs from the repository's root.

work=$(mktemp -d)
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
cleanup() { stop_all; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

if ! PATH="/usr/bin:/usr/sbin:$PATH" command -v fio >/dev/null 2>&1; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  echo "$SCRIPT_NAME: installing fio"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends fio >/dev/null
fi
export PATH="/usr/bin:/usr/sbin:$PATH"

dotnet build src/Replicator.Cli -c Release -v q -nologo >/dev/null
replicator=(dotnet src/Replicator.Cli/bin/Release/net10.0/replicator.dll)
"${replicator[@]}" keygen --out "$work/pair.key" >/dev/null

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for FILE TEXT: until TEXT appears in FILE (bounded: two minutes).
wait_for() { for _ in $(seq 1 2400); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "$SCRIPT_NAME: '$2' never appeared in $1" >&2; tail -n 20 "$1" >&2; return 1; }
