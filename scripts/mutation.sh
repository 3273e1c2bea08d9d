#!/usr/bin/env bash
# Mutation testing of the safety code: Stryker.NET (pinned in .config/dotnet-tools.json) mutates the
# files a target's stryker-config.json names and runs that target's tests against each mutant
# (per-test coverage). Prints Stryker's table, then the score per file from its JSON report; fails
# (exit non-zero) when the overall score or any file's is under the config's thresholds.break, or a
# file has a mutant no test reaches. Reports land in StrykerOutput/<target>/reports/.
#
# Targets:
#   core     (default) the core's safety files, tests/Replicator.Core.Tests/stryker-config.json;
#            about 30 minutes on 2 cores
#   hosts    the hosts' safety files (the secondary's journal, its journal -> ack -> apply order,
#            the node state record, the dirty log file), tests/Replicator.Hosts.Tests/stryker-config.json
#            (the hosts' tests and the simulator's journal tests); about 7 minutes
#
# Usage: scripts/mutation.sh [core|hosts] [extra dotnet-stryker options]
set -euo pipefail
cd "$(dirname "$0")/.."
target=core
case "${1:-}" in
  core|hosts) target=$1; shift ;;
  ""|-*) ;;
  *) echo "mutation.sh: unknown target '$1' (core or hosts; dotnet-stryker options start with -)" >&2; exit 2 ;;
esac
case "$target" in
  core) tests=tests/Replicator.Core.Tests ;;
  hosts) tests=tests/Replicator.Hosts.Tests ;;
esac
dotnet tool restore >/dev/null
output="$(pwd)/StrykerOutput/$target"
rm -rf "$output"
status=0
(cd "$tests" && dotnet stryker --config-file stryker-config.json --output "$output" "$@") || status=$?

report="$output/reports/mutation-report.json"
if [ -f "$report" ]; then
  python3 - "$report" "$tests/stryker-config.json" <<'PY' || status=1
import json, sys
files = json.load(open(sys.argv[1]))["files"]
goal = json.load(open(sys.argv[2]))["stryker-config"]["thresholds"]["break"]
under = []
detected = {"Killed", "Timeout"}
counted = detected | {"Survived", "NoCoverage"}
total_detected = total_counted = 0
print(f"{'file':58} {'score':>7} {'killed':>7} {'survived':>9} {'no coverage':>12}")
for name, f in sorted(files.items()):
    states = [m["status"] for m in f["mutants"]]
    d = sum(s in detected for s in states)
    c = sum(s in counted for s in states)
    if c == 0:
        continue  # a file the config does not mutate
    total_detected += d
    total_counted += c
    score = 100.0 * d / c
    short = name.split("src/")[-1]
    print(f"{short:58} {score:6.1f}% {d:7} {states.count('Survived'):9} {states.count('NoCoverage'):12}")
    if score < goal or "NoCoverage" in states:
        under.append(short)
print(f"{'all files':58} {100.0 * total_detected / max(total_counted, 1):6.1f}%")
if under:
    print(f"under the goal of {goal}% or with mutants no test reaches: {', '.join(under)}")
    sys.exit(1)
PY
fi

exit "$status"
