#!/usr/bin/env python3
"""Soak: topology churn beside a steady acked stream, for as long as asked (an hour by default).

A cluster of ZooKeeper, one nimbus and two supervisors on loopback runs "steady": a numbered spout (acked, every
number a tuple tree) through a Swift bolt into a recording sink, on two workers. Beside it, every few seconds, a
small topology is submitted, rebalanced and killed. Once a minute the script samples every daemon and steady worker
(RSS, open descriptors, threads, ZooKeeper requests in that minute, counted from ZooKeeper's side). At the end the
spout stops emitting, every number it emitted must be acked and in the sink: lost numbers are counted.

    scripts/soak.py [--minutes 60] [--rate 500] [--churn-every 3]

Needs `swift build` first (it runs .build/debug/storm unless STORM_BIN names another build) and what
scripts/install-deps.sh installs. Prints one line per minute and a summary: each process's figures in its first
full minute and its last, and the ratio."""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "e2e"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from conftest import Cluster, ZooKeeper, free_port, ttypes, upload, wait_until  # noqa: E402
from stormclient import JavaComponent, TopologyBuilder  # noqa: E402
from test_chaos import Run  # noqa: E402
from test_churn import descriptors, zookeeper_requests, requests_since  # noqa: E402
from test_workers import worker_ports  # noqa: E402


def status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def steady_topology(run, rate):
    builder = TopologyBuilder()
    builder.set_spout("numbers", JavaComponent("storm.swift.testing.NumberedSpout", ["n"],
                                               args=[run.messages, run.state, rate]), 2)
    builder.set_bolt("relay", JavaComponent("storm.swift.testing.SlowBolt", ["n"], args=[0]), 2).shuffle_grouping("numbers")
    builder.set_bolt("sink", JavaComponent("storm.swift.testing.RecordingSink", [], args=[run.sink]), 2) \
        .shuffle_grouping("relay")
    return builder.build()


def churn_topology():
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 1)
    builder.set_bolt("sink", JavaComponent("org.apache.storm.perf.bolt.DevNullBolt", []), 2).shuffle_grouping("words")
    return builder.build()


class Sampler:
    """Per process, once a minute: RSS and its anonymous part (KiB: what the process holds itself, where the rest is
    the shared pages of its binary and libraries), descriptors, threads, ZooKeeper requests since the last sample."""

    def __init__(self, zookeeper, processes):
        self.zk = zookeeper
        self.processes = processes  # name -> pid
        self.last = {name: zookeeper_requests(zookeeper, pid) for name, pid in processes.items()}
        self.rows = []

    def sample(self, minute):
        row = {}
        for name, pid in self.processes.items():
            now = zookeeper_requests(self.zk, pid)
            row[name] = {"rss_kib": status(pid, "VmRSS"), "anon_kib": status(pid, "RssAnon"), "fds": len(descriptors(pid)),
                         "threads": status(pid, "Threads"), "zk_requests": requests_since(self.last[name], now)}
            self.last[name] = now
        self.rows.append(row)
        print(f"minute {minute:3d}: " + "; ".join(
            f"{name} rss {v['rss_kib'] // 1024} MiB (anon {v['anon_kib'] / 1024:.1f}) fds {v['fds']} threads {v['threads']} zk {v['zk_requests']}/min"
            for name, v in row.items()), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=int, default=500, help="numbers a second from the steady spout")
    parser.add_argument("--churn-every", type=float, default=3, help="seconds between churn steps")
    args = parser.parse_args()

    run = Run(messages=int(args.rate * args.minutes * 60))
    zk = ZooKeeper()
    cluster = None
    try:
        cluster = Cluster(zk, nimbuses=1, extra_conf=["-c", "task.heartbeat.frequency.secs=1",
                                                       "-c", "nimbus.task.launch.secs=60"])
        cluster.add_supervisor("a", [free_port() for _ in range(4)])
        cluster.add_supervisor("b", [free_port() for _ in range(4)])
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 2, 60)
        conf = {"topology.workers": 2, "topology.message.timeout.secs": 30, "topology.max.spout.pending": 1000}
        client.submitTopology("steady", upload(client), json.dumps(conf), steady_topology(run, args.rate))
        steady_id = client.getTopologySummaryByName("steady").id
        assert wait_until(lambda: len(worker_ports(steady_id)) == 2, 60), "steady's workers did not start"
        assert wait_until(lambda: any(w > 100 for w in run.watermarks()), 60), "steady's numbers are not acked"

        processes = {"nimbus": next(iter(cluster.nimbuses.values())).process.pid}
        processes.update({f"supervisor-{n}": d.process.pid for n, d in cluster.supervisors.items()})
        processes.update({f"worker-{port}": pid for port, pid in sorted(worker_ports(steady_id).items())})
        sampler = Sampler(zk, processes)

        started = time.time()
        next_sample = started + 60
        steps = {"submitted": 0, "rebalanced": 0, "killed": 0, "refused": 0}
        alive = []  # churn topologies, oldest first
        serial = 0
        while time.time() - started < args.minutes * 60:
            try:
                if len(alive) >= 2:
                    client.killTopologyWithOpts(alive.pop(0), ttypes.KillOptions(wait_secs=0))
                    steps["killed"] += 1
                elif alive and serial % 2 == 0:
                    client.rebalance(alive[-1], ttypes.RebalanceOptions(wait_secs=0, num_workers=2))
                    steps["rebalanced"] += 1
                    serial += 1
                else:
                    serial += 1
                    name = f"churn-{serial}"
                    client.submitTopology(name, upload(client), json.dumps({"topology.workers": 1, "topology.acker.executors": 0}),
                                          churn_topology())
                    alive.append(name)
                    steps["submitted"] += 1
            except ttypes.NotAliveException:
                steps["refused"] += 1
            except Exception as error:  # noqa: BLE001 - a refusal is counted; the soak goes on
                steps["refused"] += 1
                print(f"churn step failed: {error!r}", flush=True)
                client = cluster.client()
            time.sleep(args.churn_every)
            if time.time() >= next_sample:
                sampler.sample(len(sampler.rows) + 1)
                next_sample += 60

        print(f"churn: {steps}", flush=True)
        # The spout was sized to stop at the end; every number it emitted must be acked, then found in the sink.
        finished = wait_until(lambda: run.done(), timeout=max(120, args.minutes * 60 * 0.2), interval=1)
        seen = run.seen()
        unique = set(seen)
        expected = run.messages if finished else min(run.watermarks())
        lost = sum(1 for n in range(expected) if n not in unique)
        print(f"steady: {expected} numbers {'all acked' if finished else 'acked so far (spout still running)'}, "
              f"{len(seen) - len(unique)} seen twice, {lost} lost", flush=True)
        if len(sampler.rows) >= 2:
            first, last = sampler.rows[0], sampler.rows[-1]
            print("first full minute -> last minute (ratio):")
            for name in processes:
                print("  " + name + ": " + ", ".join(
                    f"{key} {first[name][key]} -> {last[name][key]} ({last[name][key] / max(1, first[name][key]):.2f}x)"
                    for key in ("rss_kib", "anon_kib", "fds", "threads", "zk_requests")))
        return 0 if lost == 0 else 1
    finally:
        if cluster:
            cluster.stop()
        zk.stop()


if __name__ == "__main__":
    sys.exit(main())
