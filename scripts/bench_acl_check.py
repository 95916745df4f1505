#!/usr/bin/env python3
"""What nimbus' ZooKeeper ACL check (storm.nimbus.zookeeper.acls.check) costs at its start.

A cluster state of N topologies is made while ZooKeeper is open (each topology with its base, assignment, conf record
carrying its own identity, log config, four workers' heartbeats and two components' errors), then nimbus is started
with storm.zookeeper.auth.* several times: the first start fixes every node, the later ones only check. Prints, for
each start, what nimbus logs: the nodes checked, how long the walk took, and how many nodes it fixed.

    scripts/bench_acl_check.py [--topologies 200] [--starts 3]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "e2e"))
from conftest import ZooKeeper, free_port, storm_bin, terminate, wait_until  # noqa: E402
from test_corrupt_state import zk_commands  # noqa: E402


def open_cluster_state(zk, topologies):
    """The nodes an open cluster of `topologies` topologies leaves, made through ZooKeeper's own CLI in one session."""
    folders = ["storms", "assignments", "stormconf", "stormcode", "logconfigs", "workerbeats", "errors",
               "supervisors", "nimbuses", "code-holders"]
    commands = ["create /storm x"] + [f"create /storm/{f} x" for f in folders]
    for i in range(topologies):
        tid = f"topo{i}-1-1"
        conf = ('{"storm.zookeeper.topology.auth.scheme":"digest",'
                f'"storm.zookeeper.topology.auth.payload":"t{i}:secret{i}"}}')
        commands += [f"create /storm/storms/{tid} x", f"create /storm/assignments/{tid} x",
                     f"create /storm/stormconf/{tid} '{conf}'", f"create /storm/stormcode/{tid} x",
                     f"create /storm/logconfigs/{tid} x", f"create /storm/workerbeats/{tid} x",
                     f"create /storm/errors/{tid} x"]
        commands += [f"create /storm/workerbeats/{tid}/node-{6700 + w} x" for w in range(4)]
        for component in ("split", "count"):
            commands += [f"create /storm/errors/{tid}/{component} x", f"create /storm/errors/{tid}/{component}/e1 x"]
    zk_commands(zk, *commands, check=False)
    return len(commands)


def start_nimbus(zk, workdir, number):
    log_path = os.path.join(workdir, f"nimbus-{number}.log")
    process = subprocess.Popen([
        storm_bin(), "nimbus", "-c", f"storm.local.dir={workdir}/local", "-c", 'storm.zookeeper.servers=["127.0.0.1"]',
        "-c", f"storm.zookeeper.port={zk.port}", "-c", f"nimbus.thrift.port={free_port()}",
        "-c", "nimbus.metrics.port=0", "-c", "storm.zookeeper.auth.scheme=digest",
        "-c", "storm.zookeeper.auth.payload=storm:bench-secret",
    ], stdout=open(log_path, "w"), stderr=subprocess.STDOUT)

    def log():
        with open(log_path) as f:
            return f.read()
    try:
        assert wait_until(lambda: "checked the ACLs of" in log(), 300), log()[-3000:]
        checked = re.search(r"checked the ACLs of (\d+) ZooKeeper node\(s\) under \S+ in (\d+) ms", log())
        fixed = re.search(r"fixed the ACLs of (\d+) ZooKeeper node", log())
        return int(checked.group(1)), int(checked.group(2)), int(fixed.group(1)) if fixed else 0
    finally:
        terminate(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topologies", type=int, default=200)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    zk = ZooKeeper()
    try:
        workdir = tempfile.mkdtemp(prefix="bench-acl-")
        began = time.time()
        made = open_cluster_state(zk, args.topologies)
        print(f"made {made} nodes of {args.topologies} topologies on an open ZooKeeper in {time.time() - began:.1f} s")
        for number in range(args.starts):
            checked, ms, fixed = start_nimbus(zk, workdir, number)
            print(f"start {number + 1}: checked {checked} nodes in {ms} ms ({checked / max(ms, 1) * 1000:,.0f} "
                  f"nodes/s), fixed {fixed}")
    finally:
        zk.stop()


if __name__ == "__main__":
    main()
