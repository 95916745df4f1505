#!/usr/bin/env python3
"""Backpressure: a fast spout into a bolt ten times slower or more, in one worker and across two workers.

usage: swift build -c release && STORM_BIN=.build/release/storm scripts/bench_backpressure.py [--seconds 60]

Storm's sentence spout (millions of tuples a second) feeds storm.swift.testing.SlowBolt at 10 us a tuple (at most
100k tuples a second), which feeds a discarding sink. Every queue on the way is bounded, so the spout must slow
to the bolt's pace: the workers' RSS is sampled every 5 s and should stay flat, and the sink's rate should be the
slow bolt's.
"""
import argparse
import time

from benchlib import executed, one_supervisor, running, worker_processes
from stormclient import JavaComponent, TopologyBuilder


def topology():
    b = TopologyBuilder()
    b.set_spout("sentences", JavaComponent("storm.swift.SentenceSpout", ["sentence"]), 1)
    b.set_bolt("slow", JavaComponent("storm.swift.testing.SlowBolt", ["value"], args=[10]), 1).shuffle_grouping("sentences")
    b.set_bolt("sink", JavaComponent("org.apache.storm.perf.bolt.DevNullBolt", []), 1).shuffle_grouping("slow")
    return b.build()


def rss_mib(pids):
    out = []
    for pid in sorted(pids):
        with open(f"/proc/{pid}/status") as f:
            out.append(next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    with one_supervisor() as client:
        for workers in (1, 2):
            name = f"pressure{workers}"
            with running(client, name, topology(), workers, "sink") as topology_id:
                samples = []
                c0, t0 = executed(client, name, "sink"), time.time()
                for _ in range(args.seconds // 5):
                    time.sleep(5)
                    samples.append(rss_mib(worker_processes(topology_id)))
                c1, t1 = executed(client, name, "sink"), time.time()
                emitted = executed(client, name, "sentences")
            first, last = samples[0], samples[-1]
            print(f"{workers} worker(s): sink {(c1 - c0) / (t1 - t0) / 1e3:.1f}k tuples/s, spout emitted {emitted} in all; "
                  f"RSS per worker after 5 s {', '.join(f'{r:.0f}' for r in first)} MiB, after {args.seconds} s "
                  f"{', '.join(f'{r:.0f}' for r in last)} MiB; samples {[[round(r) for r in s] for s in samples]}", flush=True)

if __name__ == "__main__":
    main()
