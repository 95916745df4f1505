#!/usr/bin/env python3
"""Backpressure: a fast spout into a bolt ten times slower or more, in one worker and across two workers.

usage: swift build -c release && STORM_BIN=.build/release/storm scripts/bench_backpressure.py [--seconds 60]

Storm's sentence spout (millions of tuples a second) feeds storm.swift.testing.SlowBolt at 10 us a tuple (at most
100k tuples a second), which feeds a discarding sink. Every queue on the way is bounded, so the spout must slow
to the bolt's pace: the workers' RSS is sampled every 5 s and should stay flat, and the sink's rate should be the
slow bolt's.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "e2e"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from conftest import Cluster, ZooKeeper, free_port, ttypes, upload, wait_until  # noqa: E402
from stormclient import JavaComponent, TopologyBuilder  # noqa: E402
from test_workers import executed, worker_processes  # noqa: E402


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
    zk = ZooKeeper()
    cluster = None
    try:
        cluster = Cluster(zk, nimbuses=1, extra_conf=["-c", "task.heartbeat.frequency.secs=1", "-c", "nimbus.task.launch.secs=60"])
        cluster.add_supervisor("a", [free_port(), free_port()])
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 60)
        for workers in (1, 2):
            name = f"pressure{workers}"
            client.submitTopology(name, upload(client), json.dumps({"topology.workers": workers, "topology.acker.executors": 0}),
                                  topology())
            topology_id = client.getTopologySummaryByName(name).id
            assert wait_until(lambda: len(worker_processes(topology_id)) == workers, 60)
            assert wait_until(lambda: executed(client, name, "sink") > 0, 60)
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
            client.killTopologyWithOpts(name, ttypes.KillOptions(wait_secs=0))
            assert wait_until(lambda: not worker_processes(topology_id), 60)
    finally:
        if cluster:
            cluster.stop()
        zk.stop()


if __name__ == "__main__":
    main()
