#!/usr/bin/env python3
"""Measures `storm ui` on a real cluster (ZooKeeper, one nimbus, one supervisor, N light topologies of one worker
each): REST requests per second for /api/v1/topology/<id> with 1 and 16 clients (wrk, from Debian's packages), with the
UI's answer cache off and on, the UI's RSS before and after, and ZooKeeper's bytes received per minute while the cluster idles (what the workers'
heartbeats, windowed stats included, cost it).

    STORM_BIN=.build/release/storm scripts/bench_ui.py [--topologies 10] [--seconds 10] [--idle-secs 60]
    STORM_BIN=OLD/storm scripts/bench_ui.py --no-ui      # ZooKeeper's bytes only, for a build without `storm ui`
"""
import argparse
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "e2e"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from conftest import Cluster, ZooKeeper, free_port, storm_bin, terminate, upload, wait_until  # noqa: E402
from stormclient import JavaComponent, TopologyBuilder  # noqa: E402
from test_workers import executed, worker_processes  # noqa: E402


def light_topology():
    b = TopologyBuilder()
    b.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 1)
    b.set_bolt("count", JavaComponent("org.apache.storm.testing.TestWordCounter", ["word", "count"]), 2) \
        .fields_grouping("words", ["word"])
    return b.build()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


def wrk(url, clients, seconds):
    out = subprocess.run(["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    distribution = out[out.index("Latency Distribution"):]
    p50 = re.search(r"50%\s+(\S+)", distribution).group(1)
    p99 = re.search(r"99%\s+(\S+)", distribution).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, int(errors.group(1)) if errors else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topologies", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--idle-secs", type=int, default=60)
    parser.add_argument("--no-ui", action="store_true", help="measure ZooKeeper's bytes only")
    args = parser.parse_args()

    zk = ZooKeeper()
    cluster = ui = None
    try:
        # Storm's default periods: the workers' heartbeats to ZooKeeper every task.heartbeat.frequency.secs (3 s).
        cluster = Cluster(zk, nimbuses=1, storm_defaults=True, extra_conf=["-c", "nimbus.task.launch.secs=60"])
        cluster.add_supervisor("a", [free_port() for _ in range(args.topologies)])
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 60)
        ids = []
        for i in range(args.topologies):
            name = f"light{i}"
            client.submitTopology(name, upload(client), '{"topology.workers": 1}', light_topology())
            ids.append(client.getTopologySummaryByName(name).id)
        assert wait_until(lambda: all(len(worker_processes(t)) == 1 for t in ids), 120), "workers did not start"
        assert wait_until(lambda: all(executed(client, f"light{i}", "count") > 0 for i in range(args.topologies)), 120)

        before = zk.mntr()
        time.sleep(args.idle_secs)
        after = zk.mntr()
        per_minute = 60 / args.idle_secs
        received = (int(after["zk_bytes_received_count"]) - int(before["zk_bytes_received_count"])) * per_minute
        packets = (int(after["zk_packets_received"]) - int(before["zk_packets_received"])) * per_minute
        print(f"zookeeper, {args.topologies} topologies idling: {received / 1024:.1f} KiB/min received "
              f"in {packets:.0f} requests/min")
        if args.no_ui:
            return

        for cache_ms in (0, 1000):
            port = free_port()
            ui = subprocess.Popen([storm_bin(), "ui", *cluster.conf, "-c", f"ui.port={port}",
                                   "-c", f"ui.api.cache.ms={cache_ms}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}/api/v1/topology/{ids[0]}?window=600"

            def up():
                try:
                    return urllib.request.urlopen(url, timeout=5).status == 200
                except OSError:
                    return False
            assert wait_until(up, 30), "the UI did not answer"
            print(f"ui.api.cache.ms={cache_ms}: rss after start {rss_mib(ui.pid):.1f} MiB")
            for clients in (1, 16):
                rps, p50, p99, errors = wrk(url, clients, args.seconds)
                print(f"  /api/v1/topology/<id>, {clients:2d} clients: {rps:8.0f} requests/s, p50 {p50}, p99 {p99}, "
                      f"{errors} errors")
            print(f"  rss after load {rss_mib(ui.pid):.1f} MiB")
            terminate(ui)
            ui = None
    finally:
        if ui:
            terminate(ui)
        if cluster:
            cluster.stop()
        zk.stop()


if __name__ == "__main__":
    main()
