#!/usr/bin/env python3
"""Which writer each stalled commit waited behind: reads `perf script -F comm,tid,time,event,trace` of a
run recorded by bench/stalls and prints every commit of the change log (a `pwrite64` of the committer's
thread) that took longer than the threshold, with what else was writing to the disk meanwhile: the other
threads' syncs (`fsync`, `fdatasync`) in progress during it, and the bytes each program queued for the disk
in the window before it and during it (discards apart). Then, over all commits, how often a commit stalled when each kind of
sync was in progress, and when none was: what sets the stalls, if anything on this machine does.

    stall-writers.py PERF_SCRIPT_TEXT [THRESHOLD_MS (10)] [COMMITTER_THREAD (lease-store)]
"""
import bisect
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^\s*(.+?)\s+(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)$")
BIO = re.compile(r"^\S+ (\S+) (\d+) \+ (\d+)")
# Writes queued this long before a commit count as its neighbours: a synced write waits for the disk's
# cache flush, which carries whatever the disk was given before it.
BEFORE = 0.2


def parse(path, committer):
    commits, syncs, bios, open_calls = [], [], [], {}
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            comm, tid, t, event, trace = m.group(1), int(m.group(2)), float(m.group(3)), m.group(4), m.group(5)
            if event.startswith("syscalls:sys_enter_"):
                open_calls[(tid, event[19:])] = t
            elif event.startswith("syscalls:sys_exit_"):
                call = event[18:]
                start = open_calls.pop((tid, call), None)
                if start is None:
                    continue
                if call == "pwrite64" and comm == committer:
                    commits.append((start, t))
                elif call in ("fsync", "fdatasync", "sync_file_range"):
                    syncs.append((start, t, comm, call))
            elif event == "block:block_bio_queue":
                b = BIO.match(trace)
                # Writes and discards (`D`: ext4's `discard` option trims a removed file's blocks at once).
                if b and ("W" in b.group(1) or "D" in b.group(1)):
                    bios.append((t, comm if "W" in b.group(1) else f"{comm} (discard)", int(b.group(3)) * 512))
    return commits, syncs, bios


def main():
    path = sys.argv[1]
    threshold = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.010
    committer = sys.argv[3] if len(sys.argv) > 3 else "lease-store"
    commits, syncs, bios = parse(path, committer)
    if not commits:
        sys.exit(f"no pwrite64 of the thread {committer} in {path}: nothing was committed")
    t0 = commits[0][0]
    stalls = [c for c in commits if c[1] - c[0] > threshold]
    durations = sorted(c[1] - c[0] for c in commits)
    print(f"{len(commits)} commits; median {1000 * durations[len(durations) // 2]:.2f} ms, "
          f"p99 {1000 * durations[int(len(durations) * 0.99)]:.2f} ms, longest {1000 * durations[-1]:.1f} ms; "
          f"{len(stalls)} over {1000 * threshold:.0f} ms")

    def overlapping(start, end):
        return [s for s in syncs if s[0] < end and s[1] > start]

    def queued(start, end):
        by = defaultdict(int)
        for t, comm, size in bios:
            if start <= t <= end and comm != committer:
                by[comm] += size
        return by

    for start, end in stalls:
        sy = overlapping(start, end)
        around = queued(start - BEFORE, end)
        syncs_text = "; ".join(f"{c} {call} {1000 * (e - s):.1f} ms (from {1000 * (s - start):+.1f} ms)"
                               for s, e, c, call in sy)
        if not syncs_text:
            before = [s for s in syncs if s[1] <= start]
            last = max(before, key=lambda s: s[1], default=None)
            syncs_text = "none" + (f"; the last, {last[2]} {last[3]} of {1000 * (last[1] - last[0]):.1f} ms, ended "
                                   f"{1000 * (start - last[1]):.1f} ms before" if last else "")
        bytes_text = ", ".join(f"{c} {b / 1024:.0f} KiB" for c, b in sorted(around.items(), key=lambda x: -x[1])) or "none"
        print(f"  +{start - t0:8.3f} s  {1000 * (end - start):6.1f} ms  other syncs in progress: {syncs_text}")
        print(f"  {'':22}writes queued from {1000 * BEFORE:.0f} ms before to its end: {bytes_text}")

    # How often a commit stalled with each kind of sync in progress. A sync's kind is its call and its
    # thread's name with digits dropped (kworker/u8:2 and kworker/u8:0 are one kind).
    def kind(comm):
        return re.sub(r"\d+", "N", comm)

    discards = sorted(t for t, comm, _ in bios if comm.endswith("(discard)"))
    seen, stalled = defaultdict(int), defaultdict(int)
    for start, end in commits:
        kinds = {f"{kind(c)} {call}" for _, _, c, call in overlapping(start, end)} or {"(no other sync)"}
        if bisect.bisect_right(discards, end) > bisect.bisect_left(discards, start - BEFORE):
            kinds.add(f"(a discard from {1000 * BEFORE:.0f} ms before)")
        for k in kinds:
            seen[k] += 1
            if end - start > threshold:
                stalled[k] += 1
    print(f"commits over {1000 * threshold:.0f} ms, by the other syncs in progress during them:")
    for k in sorted(seen, key=lambda k: -stalled[k]):
        print(f"  {k:38} {stalled[k]:5} of {seen[k]:7} commits ({100 * stalled[k] / seen[k]:.2f} %)")
    totals = defaultdict(int)
    for _, comm, size in bios:
        if comm != committer:
            totals[kind(comm)] += size
    span = commits[-1][1] - t0
    print(f"written by others over the {span:.0f} s: " +
          ", ".join(f"{k} {b / 2**20:.1f} MiB" for k, b in sorted(totals.items(), key=lambda x: -x[1])))


if __name__ == "__main__":
    main()
