#!/usr/bin/env python3
"""Renders the Markdown tables of docs/performance.md from `replicator bench --json` output.

usage: scripts/bench-tables.py docs/perf/bench.json
"""
import json
import sys


def size(b):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= scale:
            v = b / scale
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.2f} {unit}"
    return f"{b} B"


def ms(us):
    return f"{us / 1000:.2f}"


def key(c):
    return f"| {c['epochMs']} ms | {size(c['dirtyDiskBytes'])} | {size(c['dirtyRamBytes'])} | {size(c['writeSize'])} |"


def main(path):
    configs = json.load(open(path))
    print("**Latency and throughput.**\n")
    print("| epoch | dirty disk | dirty RAM | write | ckpt/s | commit p50 | p90 | p99 | p99.9 | max | floor | p50/floor | p99/floor | pause p50 | p99 | max | repl MB/s | unrepl MB/s | ratio | unrepl + flush/epoch MB/s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in configs:
        cu, pu = c["commitUs"], c["pauseUs"]
        print(f"{key(c)} {c['checkpointsPerSecond']:.0f} | {ms(cu['p50'])} | {ms(cu['p90'])} | {ms(cu['p99'])} | {ms(cu['p999'])} | {ms(cu['max'])} | "
              f"{ms(c['floorUs'])} | {c['commitP50ToFloor']:.1f}× | {c['commitP99ToFloor']:.0f}× | {pu['p50']:.0f} | {pu['p99']:.0f} | {pu['max']:.0f} | "
              f"{c['replicatedMBps']:.0f} | {c['unreplicatedMBps']:.0f} | {c['throughputRatio']:.2f} | "
              f"{c.get('unreplicatedFlushedMBps', 0):.0f} | {c.get('flushedThroughputRatio', 0):.2f} |")
    print("\n**Commit phases**, p50 (p99) in µs, and what each epoch actually carried.\n")
    names = ["drain", "capture", "link", "queue", "journalWrite", "flush", "ack", "apply"]
    print("| epoch | dirty disk | dirty RAM | write | " + " | ".join(names) + " | link/floor | flush/floor | disk/epoch | RAM/epoch | wire/epoch | buffer peak |")
    print("|---|---|---|---|" + "---|" * (len(names) + 6))
    for c in configs:
        ph = c["phasesUs"]
        cells = " | ".join(f"{ph[n]['p50']:.0f} ({ph[n]['p99']:.0f})" for n in names)
        print(f"{key(c)} {cells} | {c['linkP50ToFloor']:.1f}× | {c['flushP50ToFloor']:.1f}× | {size(c['achievedDirtyDiskBytes'])} | "
              f"{size(c['achievedDirtyRamBytes'])} | {size(c['wireBytesPerEpoch'])} | {size(c['bufferPeakBytes'])} |")
    print("\n**Guest write latency** (µs, p50 / p99) **and allocations** (bytes per completed write; GC collections gen0/1/2).\n")
    print("| epoch | dirty disk | dirty RAM | write | paced repl | closed repl | closed unrepl | alloc B/write (paced) | RAM copied B/write | closed repl B/write | closed unrepl B/write | GC paced | closed repl | closed unrepl |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in configs:
        w, a, g = c["writeUs"], c["closedLoopAllocBytesPerWrite"], c["gcCollections"]
        lat = " | ".join(f"{w[k]['p50']:.0f} / {w[k]['p99']:.0f}" for k in ("pacedReplicated", "closedReplicated", "closedUnreplicated"))
        gc = " | ".join("/".join(str(n) for n in g[k]) for k in ("paced", "closedReplicated", "closedUnreplicated"))
        print(f"{key(c)} {lat} | {c['allocBytesPerWrite']:.0f} | {c['ramCopyBytesPerWrite']:.0f} | {a['replicated']:.0f} | {a['unreplicated']:.0f} | {gc} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/perf/bench.json")
