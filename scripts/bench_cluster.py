#!/usr/bin/env python3
"""Cluster benchmark: failure detection times and ZooKeeper load, with real processes on loopback.

usage: scripts/bench_cluster.py [--session-timeout-ms 20000] [--idle-seconds 60]

Starts ZooKeeper, two nimbuses and two supervisors (`swift build` first), submits one topology of two workers,
then measures:
ZooKeeper writes (zxid delta) and bytes received per minute while the cluster idles; time from `kill -9` of a
supervisor to its executors being reassigned; time from `kill -9` of the leader nimbus to a new leader.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "e2e"))
import conftest  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from conftest import Cluster, ZooKeeper, connect, upload, wait_until  # noqa: E402
from test_workers import word_topology  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--session-timeout-ms", type=int, default=20000)
    parser.add_argument("--idle-seconds", type=int, default=60)
    args = parser.parse_args()
    Cluster.SESSION_TIMEOUT_MS = args.session_timeout_ms
    # ZooKeeper's default tick (2 s) allows sessions of up to 40 s, so the session timeout asked for holds.
    zk = ZooKeeper(tick_ms=2000)
    cluster = None
    try:
        # Storm's periods (heartbeats every 5 s, monitor every 10 s), so the load is what a default cluster makes.
        cluster = Cluster(zk, nimbuses=2, storm_defaults=True)
        cluster.add_supervisor("a", [6700, 6701])
        cluster.add_supervisor("b", [6710, 6711])
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 2, 60)
        client.submitTopology("bench", upload(client), json.dumps({"topology.workers": 2}),
                            word_topology("sink", spouts=1, bolts=1))
        ports = lambda: sorted({e.port for e in client.getTopologyInfoByName("bench").executors})  # noqa: E731
        assert wait_until(lambda: len(ports()) == 2, 60)
        time.sleep(5)

        z0, b0 = zk.zxid(), int(zk.mntr()["zk_bytes_received_count"])
        time.sleep(args.idle_seconds)
        z1, b1 = zk.zxid(), int(zk.mntr()["zk_bytes_received_count"])
        scale = 60 / args.idle_seconds
        print(f"session timeout {args.session_timeout_ms} ms; idle cluster of 1 topology, 2 nimbuses, 2 supervisors:")
        print(f"  ZooKeeper writes: {(z1 - z0) * scale:.0f}/min; bytes received from clients: {(b1 - b0) * scale:.0f}/min")

        cluster.supervisors["b"].kill9()
        started = time.time()
        assert wait_until(lambda: ports() == [6700, 6701], 120, 0.05)
        print(f"  supervisor kill -9 to executors reassigned: {time.time() - started:.1f} s")

        leader = cluster.leader_port()
        [follower] = [p for p in cluster.nimbus_ports if p != leader]
        other = connect(follower)
        cluster.nimbuses[leader].kill9()
        started = time.time()
        assert wait_until(lambda: other.getLeader().port == follower, 120, 0.05)
        print(f"  leader nimbus kill -9 to new leader: {time.time() - started:.1f} s")
    finally:
        if cluster:
            cluster.stop()
        zk.stop()


if __name__ == "__main__":
    main()
