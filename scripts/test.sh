#!/usr/bin/env bash
# Builds the solution (warnings are errors) and runs every test project.
# Ends with one line: "tests: N passed, N failed[, N skipped]". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The end-to-end tests drive real NBD clients (qemu-io, nbdsh, nbdinfo) and ocf-tester: install them if missing.
if ! bash scripts/install-test-deps.sh; then
  echo "could not install the outside tools the end-to-end tests need (scripts/install-test-deps.sh)"
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

if ! dotnet build Replicator.sln -c Release 2>&1 | tee "$log" | grep -E "error|warn|Build succeeded|Time Elapsed"; then
  :
fi
if ! grep -q "Build succeeded" "$log" || grep -qE "[1-9][0-9]* Warning\(s\)" "$log"; then
  echo "build failed or warned; see above"
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

dotnet test Replicator.sln -c Release --no-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# One summary line per test assembly: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ..."
read -r passed failed skipped < <(grep -E "^(Passed|Failed)! +- +Failed:" "$log" | awk -F'[:,]' '
  { f += $2; p += $4; s += $6; n++ } END { print p + 0, f + 0, s + 0 }')
runs=$(grep -cE "^(Passed|Failed)! +- +Failed:" "$log")
if [ "$runs" -eq 0 ]; then
  echo "no test assembly reported results"
  failed=$((failed + 1))
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi

summary="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
