#!/usr/bin/env python3
"""Throughput of topologies in worker processes: ZooKeeper, one nimbus, one supervisor with two slots, on loopback.

usage: swift build -c release && STORM_BIN=.build/release/storm scripts/bench_workers.py [--seconds 30] [--warmup 10]

Each case submits a topology of built-in Swift components, lets it warm up, then reads the executors' counts
(worker heartbeats, every second, through nimbus' getTopologyInfo) twice, `--seconds` apart:
- word count (sentence spout -> split, shuffle -> count, fields on "word") in one worker and in two workers;
- spout -> sink (discarding bolt) in one worker: raw tuples per second between two threads;
- spout -> sink in two workers: every tuple crosses a TCP connection on loopback.
Memory, at the end of the window: each worker's RSS, and the workers' PSS summed (shared pages counted once).
"""
import argparse
import time

from benchlib import executed, one_supervisor, running, worker_processes
from stormclient import JavaComponent, TopologyBuilder


def word_count(split=1, count=1):
    b = TopologyBuilder()
    b.set_spout("sentences", JavaComponent("storm.swift.SentenceSpout", ["sentence"]), 1)
    b.set_bolt("split", JavaComponent("org.apache.storm.perf.bolt.SplitSentenceBolt", ["word"]), split) \
        .shuffle_grouping("sentences")
    b.set_bolt("count", JavaComponent("org.apache.storm.perf.bolt.CountBolt", ["word", "count"]), count) \
        .fields_grouping("split", ["word"])
    return b.build(), "count"


def spout_to_sink():
    b = TopologyBuilder()
    b.set_spout("sentences", JavaComponent("storm.swift.SentenceSpout", ["sentence"]), 1)
    b.set_bolt("sink", JavaComponent("org.apache.storm.perf.bolt.DevNullBolt", []), 1).shuffle_grouping("sentences")
    return b.build(), "sink"


def memory_mib(topology_id):
    """Each worker's RSS, and the PSS of all of them (shared pages, such as the binary's, counted once)."""
    rss, pss = [], 0
    for pid in worker_processes(topology_id):
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss.append(int(line.split()[1]) / 1024)
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
    return sorted(rss), pss


def measure(client, name, topology, counted, workers, seconds, warmup):
    with running(client, name, topology, workers, counted) as topology_id:
        time.sleep(warmup)
        c0, t0 = executed(client, name, counted), time.time()
        time.sleep(seconds)
        c1, t1 = executed(client, name, counted), time.time()
        ports = sorted({(e.component_id, e.port) for e in client.getTopologyInfoByName(name).executors})
        return (c1 - c0) / (t1 - t0), memory_mib(topology_id), ports


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--only", default="", help="run only the cases whose title contains this")
    args = parser.parse_args()
    with one_supervisor() as client:
        cases = [
            ("word count, 1 worker (1 spout, 1 split, 1 count)", "wc1", word_count(), 1, "words"),
            ("word count, 2 workers (1 spout, 2 split, 2 count)", "wc2", word_count(2, 2), 2, "words"),
            ("spout -> sink, 1 worker", "ss1", spout_to_sink(), 1, "tuples"),
            ("spout -> sink, 2 workers (every tuple over loopback TCP)", "ss2", spout_to_sink(), 2, "tuples"),
        ]
        for title, name, (topology, counted), workers, unit in cases:
            if args.only not in title:
                continue
            rate, (rss, pss), placement = measure(client, name, topology, counted, workers, args.seconds, args.warmup)
            print(f"{title}: {rate / 1e6:.2f}M {unit}/s; RSS per worker {', '.join(f'{r:.0f}' for r in rss)} MiB, "
                  f"PSS of all workers {pss:.0f} MiB  {placement}", flush=True)


if __name__ == "__main__":
    main()
