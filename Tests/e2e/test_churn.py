"""A cluster under churn: many topologies submitted and killed in a row, and what the processes it starts inherit.

The supervisor's ZooKeeper load is counted from ZooKeeper's side (the `cons` four-letter word lists each
connection's received requests); open descriptors are read from /proc/<pid>/fd."""

import json
import os
import re
import time

from conftest import Cluster, four_letter_word, free_port, ttypes, upload, wait_until
from stormclient import JavaComponent, ShellBolt, TopologyBuilder, pack_resources
from test_cluster import local_assignments
from test_multilang import resources
from test_workers import WORKER_CONF, worker_ports

# ----- descriptors and connections of a process, from /proc -----


def descriptors(pid):
    """fd -> what it refers to (`socket:[inode]`, `pipe:[inode]`, a path), for a live process."""
    out = {}
    folder = f"/proc/{pid}/fd"
    for fd in os.listdir(folder):
        try:
            out[int(fd)] = os.readlink(os.path.join(folder, fd))
        except OSError:
            pass  # closed meanwhile
    return out


def tcp_connections(pid):
    """(local port, remote port, listening) of each TCP socket the process holds."""
    inodes = {int(m.group(1)) for m in map(re.compile(r"socket:\[(\d+)\]").fullmatch, descriptors(pid).values()) if m}
    out = []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[9]) in inodes:
                local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
                out.append((local, remote, fields[3] == "0A"))
    return out


def zookeeper_requests(zookeeper, pid):
    """client port -> requests ZooKeeper has received on that connection of the process (`recved` in `cons`)."""
    ports = {local for local, remote, _ in tcp_connections(pid) if remote == zookeeper.port}
    assert ports, f"process {pid} holds no connection to ZooKeeper"
    out = {}
    for line in (four_letter_word(zookeeper.port, "cons") or "").splitlines():
        m = re.search(r":(\d+)\[\d+\]\(.*recved=(\d+)", line)
        if m and int(m.group(1)) in ports:
            out[int(m.group(1))] = int(m.group(2))
    return out


def requests_since(before, now):
    """Requests between two `zookeeper_requests` readings; a new connection counts from zero."""
    return sum(count - before.get(port, 0) for port, count in now.items())


# ----- submit/kill churn -----


def tiny_topology():
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 1)
    return builder.build()


def assigned_topologies(cluster, supervisor):
    return {a.topology_id for a in local_assignments(cluster, supervisor).values()}


# Few requests on a timer (heartbeats, the periodic re-read of the assignments): what is counted is what the churn
# causes, however long a cycle takes on a busy machine.
QUIET_SUPERVISOR = ["-c", "supervisor.heartbeat.frequency.secs=10", "-c", "supervisor.monitor.frequency.secs=30",
                    "-c", "nimbus.supervisor.timeout.secs=60"]


def test_supervisor_zookeeper_requests_stay_flat_over_50_submit_kill_cycles(zookeeper):
    cluster = Cluster(zookeeper, nimbuses=1, extra_conf=WORKER_CONF + QUIET_SUPERVISOR)
    try:
        cluster.add_supervisor("a", [free_port()])
        supervisor = cluster.supervisors["a"]
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
        topology = tiny_topology()
        per_cycle = []
        last = zookeeper_requests(zookeeper, supervisor.process.pid)
        for cycle in range(50):
            name = f"churn-{cycle}"
            client.submitTopology(name, upload(client), json.dumps({"topology.workers": 1}), topology)
            topology_id = client.getTopologySummaryByName(name).id
            # The supervisor takes each assignment, and lets it go, as promptly as at the first cycle.
            assert wait_until(lambda: topology_id in assigned_topologies(cluster, "a"), 30), \
                (per_cycle, supervisor.log_text()[-3000:])
            client.killTopologyWithOpts(name, ttypes.KillOptions(wait_secs=0))
            assert wait_until(lambda: topology_id not in assigned_topologies(cluster, "a"), 30), \
                (per_cycle, supervisor.log_text()[-3000:])
            now = zookeeper_requests(zookeeper, supervisor.process.pid)
            per_cycle.append(requests_since(last, now))
            last = now
            # Growth doubles every cycle: stop at once rather than after minutes of an overloaded supervisor.
            assert cycle < 10 or per_cycle[-1] <= 1.5 * sum(per_cycle[:10]), f"requests per cycle grew: {per_cycle}"
        first, final = sum(per_cycle[:10]), sum(per_cycle[-10:])
        print(f"supervisor ZooKeeper requests per cycle: {per_cycle}")
        assert final <= 1.5 * first, f"requests grew from {first} (first 10 cycles) to {final} (last 10): {per_cycle}"
        # Still a daemon that stops when asked.
        stopping = time.time()
        assert supervisor.stop() == 0
        assert time.time() - stopping < 10
    finally:
        cluster.stop()


# ----- what a worker and its shell children inherit -----

HOLD = """
    from stormclient.multilang import BasicBolt

    class Hold(BasicBolt):
        def process(self, tup):
            pass

    Hold().run()
"""


def children_of(pid):
    """pid -> command line of each live child of a process."""
    out = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = [a.decode() for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out[int(entry)] = args
    return out


def shared_with(pid, other):
    """Sockets and pipes `pid` holds that `other` holds too: the same open socket or pipe, not a look-alike."""
    mine = {target for target in descriptors(pid).values() if target.startswith(("socket:", "pipe:"))}
    return mine & set(descriptors(other).values())


def test_workers_and_their_shell_children_inherit_no_descriptor(zookeeper):
    cluster = Cluster(zookeeper, nimbuses=1, extra_conf=WORKER_CONF)
    try:
        cluster.add_supervisor("a", [free_port()])
        supervisor = cluster.supervisors["a"]
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
        builder = TopologyBuilder()
        builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 1)
        builder.set_bolt("hold", ShellBolt(["python3", "hold.py"], []), 1).shuffle_grouping("words")
        client.submitTopology("inherit", upload(client, pack_resources(resources(hold=HOLD))),
                              json.dumps({"topology.workers": 1}), builder.build())
        topology_id = client.getTopologySummaryByName("inherit").id
        assert wait_until(lambda: len(worker_ports(topology_id)) == 1, 60), supervisor.log_text()[-3000:]
        [(port, worker)] = worker_ports(topology_id).items()

        def shell_child():
            found = [pid for pid, args in children_of(worker).items() if "hold.py" in args]
            return found[0] if found else None
        assert wait_until(lambda: shell_child() is not None, 60), supervisor.log_text()[-3000:]
        # The worker is up: its own ZooKeeper session and its slot's listener are open.
        assert wait_until(lambda: (port, 0, True) in tcp_connections(worker), 30)
        child = shell_child()

        # The worker holds its own ZooKeeper connection, not its supervisor's as well, and nothing else of it.
        assert shared_with(worker, supervisor.process.pid) == set(), \
            (descriptors(worker), tcp_connections(worker), tcp_connections(supervisor.process.pid))
        assert len([c for c in tcp_connections(worker) if c[1] == zookeeper.port]) == 1, tcp_connections(worker)
        supervisor_files = {t for t in descriptors(supervisor.process.pid).values() if t.startswith("/")}
        worker_files = {t for t in descriptors(worker).values() if t.startswith("/")}
        assert supervisor_files & worker_files <= {"/dev/null"}, supervisor_files & worker_files

        # The worker runs with a worker's allocator settings, beside the supervisor's environment.
        with open(f"/proc/{worker}/environ", "rb") as f:
            environment = dict(v.decode().split("=", 1) for v in f.read().split(b"\0") if b"=" in v)
        assert "glibc.malloc.tcache_count=128" in environment.get("GLIBC_TUNABLES", "").split(":"), environment
        assert environment.get("PATH") == os.environ.get("PATH")

        # The shell child has its three pipes to the worker, and no socket, pipe or file of the worker's or the
        # supervisor's.
        held = {fd: target for fd, target in descriptors(child).items()}
        assert all(held[fd].startswith("pipe:") for fd in (0, 1, 2)), held
        assert tcp_connections(child) == [], held
        assert shared_with(child, supervisor.process.pid) == set(), held
        assert {t for fd, t in held.items() if fd > 2} & set(descriptors(worker).values()) == set(), held
    finally:
        cluster.stop()
