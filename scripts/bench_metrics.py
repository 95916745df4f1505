#!/usr/bin/env python3
"""What metrics cost: the word count with its worker writing its metrics every second against not writing them,
and a supervisor's /metrics scraped with 1 and with 20 topologies running on it.

usage: swift build -c release && STORM_BIN=.build/release/storm scripts/bench_metrics.py [--rounds 3] [--seconds 20]

- Word count (sentence spout -> split -> count, one worker, no ackers): tuples executed per second by count, in
  alternating rounds with `worker.metrics.export.secs` 1 (the worker renders and writes its metrics every second,
  five times as often as by default) and 86400 (never within the round). The built-in metrics are read from counts
  the executors keep for the UI anyway, so this is the whole of their cost.
- Scrape: 20 topologies of one worker each (acked sentences at 50 a second -> split x2 -> count x2) on one
  supervisor; /metrics fetched 20 times: time per scrape and size, with 1 topology and with 20.
"""
import argparse
import json
import statistics
import time
import urllib.request

from benchlib import executed, supervised, ttypes, upload, wait_until, worker_processes
from stormclient import JavaComponent, TopologyBuilder


def word_count():
    b = TopologyBuilder()
    b.set_spout("sentences", JavaComponent("storm.swift.SentenceSpout", ["sentence"]), 1)
    b.set_bolt("split", JavaComponent("org.apache.storm.perf.bolt.SplitSentenceBolt", ["word"]), 1) \
        .shuffle_grouping("sentences")
    b.set_bolt("count", JavaComponent("org.apache.storm.perf.bolt.CountBolt", ["word", "count"]), 1) \
        .fields_grouping("split", ["word"])
    return b.build()


def small_topology():
    b = TopologyBuilder()
    b.set_spout("sentences", JavaComponent("storm.swift.AckedSentenceSpout", ["sentence"], args=[50]), 1)
    b.set_bolt("split", JavaComponent("org.apache.storm.perf.bolt.SplitSentenceBolt", ["word"]), 2) \
        .shuffle_grouping("sentences")
    b.set_bolt("count", JavaComponent("org.apache.storm.perf.bolt.CountBolt", ["word", "count"]), 2) \
        .fields_grouping("split", ["word"])
    return b.build()


def scrape(port, times=20):
    durations, size = [], 0
    for _ in range(times):
        start = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
            body = r.read()
        durations.append(time.perf_counter() - start)
        size = len(body)
    lines = [line for line in body.decode().splitlines() if line and not line.startswith("#")]
    return durations, size, len(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with supervised(slots=21) as (_, supervisor, client):
        rates = {1: [], 86400: []}
        for round_ in range(args.rounds):
            for export in (1, 86400):
                name = f"wc{round_}x{export}"
                conf = {"topology.workers": 1, "topology.acker.executors": 0, "worker.metrics.export.secs": export}
                client.submitTopology(name, upload(client), json.dumps(conf), word_count())
                topology_id = client.getTopologySummaryByName(name).id
                assert wait_until(lambda: executed(client, name, "count") > 0, 60)
                time.sleep(5)
                before, t0 = executed(client, name, "count"), time.time()
                time.sleep(args.seconds)
                after, t1 = executed(client, name, "count"), time.time()
                rates[export].append((after - before) / (t1 - t0))
                print(f"round {round_ + 1} export every {export} s: {rates[export][-1] / 1e6:.2f} M tuples/s", flush=True)
                client.killTopologyWithOpts(name, ttypes.KillOptions(wait_secs=0))
                assert wait_until(lambda: not worker_processes(topology_id), 60)
        for export, values in rates.items():
            print(f"word count, export every {export} s: {min(values) / 1e6:.2f}-{max(values) / 1e6:.2f} M tuples/s")
        ratios = [a / b for a, b in zip(rates[1], rates[86400])]
        print(f"with/without export, per round: {', '.join(f'{r:.3f}' for r in ratios)}")

        for count in (1, 20):
            for i in range(len(client.getClusterInfo().topologies), count):
                conf = {"topology.workers": 1}
                client.submitTopology(f"small{i}", upload(client), json.dumps(conf), small_topology())
            def exposed():
                with urllib.request.urlopen(f"http://127.0.0.1:{supervisor.metrics_port}/metrics") as r:
                    return r.read().decode().count("storm_uptime_seconds{topology=")
            assert wait_until(lambda: exposed() == count, 180), exposed()
            time.sleep(3)
            durations, size, samples = scrape(supervisor.metrics_port)
            print(f"{count} topologies: scrape {min(durations) * 1e3:.1f}-{max(durations) * 1e3:.1f} ms "
                  f"(median {statistics.median(durations) * 1e3:.1f}), {size / 1024:.0f} KiB, {samples} samples")


if __name__ == "__main__":
    main()
