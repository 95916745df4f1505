"""At-least-once processing under kill -9: an acked topology of a numbered spout, a Swift bolt, a pystorm bolt and a
recording sink on two supervisors, while a worker, a supervisor with its workers, the leader nimbus and ZooKeeper
die one at a time. Every number must be acked and reach the sink; duplicates are counted, losses fail the test.

Run with `-s` to see the report (messages, faults, recovery times, duplicates, lost)."""

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from conftest import Cluster, ZooKeeper, free_port, upload, wait_until
from test_security import PASSWORDS, secured_conf, supervisor_conf
from stormclient import JavaComponent, ShellBolt, TopologyBuilder, pack_resources
from test_workers import WORKER_CONF, worker_logs, worker_ports

# pystorm's Bolt anchors what it emits to the tuple it is processing and acks it after process returns.
RELAY = """
    from pystorm import Bolt

    class Relay(Bolt):
        def process(self, tup):
            self.emit([tup.values[0]])

    Relay().run()
"""

MESSAGES = 200_000
RATE = 2_000  # messages a second, shared by the two spout tasks
SPOUT_TASKS = 2
CONF = {
    "topology.workers": 4,
    # Short, so what a dead worker held is replayed within the test; bounded, so a replay is small.
    "topology.message.timeout.secs": 10,
    "topology.max.spout.pending": 1000,
}


class Run:
    """The topology's files: the spout's progress (one file per task) and what the sink saw."""

    def __init__(self, messages=MESSAGES):
        self.messages = messages
        self.dir = tempfile.mkdtemp(prefix="chaos-")
        self.state = os.path.join(self.dir, "progress")
        self.sink = os.path.join(self.dir, "sink.txt")

    def watermarks(self):
        """Per spout task, the number below which all of its numbers are acked."""
        out = []
        for task in range(SPOUT_TASKS):
            try:
                with open(f"{self.state}.{task}") as f:
                    out.append(int(f.read()))
            except (OSError, ValueError):
                out.append(task)
        return out

    def seen(self):
        try:
            with open(self.sink) as f:
                return [int(line) for line in f if line.strip()]
        except OSError:
            return []

    def highest_seen(self):
        """Per spout task, the highest of its numbers the sink has seen."""
        top = [-1] * SPOUT_TASKS
        for n in self.seen():
            top[n % SPOUT_TASKS] = max(top[n % SPOUT_TASKS], n)
        return top

    def done(self):
        # A task's watermark ends on its first number at or past MESSAGES.
        return all(w >= self.messages for w in self.watermarks())


def topology(run):
    builder = TopologyBuilder()
    builder.set_spout("numbers", JavaComponent("storm.swift.testing.NumberedSpout", ["n"],
                                               args=[run.messages, run.state, RATE]), SPOUT_TASKS)
    builder.set_bolt("swift", JavaComponent("storm.swift.testing.SlowBolt", ["value"], args=[0]), 2) \
        .shuffle_grouping("numbers")
    builder.set_bolt("python", ShellBolt(["python3", "relay.py"], ["n"]), 2).shuffle_grouping("swift")
    builder.set_bolt("sink", JavaComponent("storm.swift.testing.RecordingSink", [], args=[run.sink]), 2) \
        .shuffle_grouping("python")
    return builder.build()


def submit(client, name, run):
    folder = tempfile.mkdtemp(prefix="chaos-resources-")
    with open(os.path.join(folder, "relay.py"), "w") as f:
        f.write(textwrap.dedent(RELAY))
    client.submitTopology(name, upload(client, pack_resources(folder)), json.dumps(CONF), topology(run))
    return client.getTopologySummaryByName(name).id


def recover(run, started, timeout=120):
    """Seconds from `started` until every number emitted before the fault is acked: each spout task's watermark
    has passed the highest of its numbers the sink had seen when the fault came."""
    before = run.highest_seen()
    ok = wait_until(lambda: run.done() or all(w > top for w, top in zip(run.watermarks(), before)), timeout, 0.2)
    assert ok, f"no recovery within {timeout} s: watermarks {run.watermarks()}, highest seen then {before}"
    return time.time() - started


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def chaos(cluster, zookeeper, run, name, supervisors, more_faults=()):
    """Starts the topology, applies the four faults (then `more_faults`: (label, action) pairs) one at a time,
    waits for every number, and reports."""
    client = cluster.client()
    topology_id = submit(client, name, run)
    assert wait_until(lambda: len(worker_ports(topology_id)) == CONF["topology.workers"], 90), \
        cluster.supervisors["a"].log_text()[-3000:]
    assert wait_until(lambda: min(run.watermarks()) > 2000, 60), worker_logs(cluster, topology_id)[-3000:]
    recoveries = []

    # 1. A worker: its supervisor starts it again; what it held times out and is replayed.
    port, pid = sorted(worker_ports(topology_id).items())[0]
    started = time.time()
    os.kill(pid, signal.SIGKILL)
    recoveries.append(("worker kill -9", recover(run, started)))
    assert wait_until(lambda: port in worker_ports(topology_id), 60)

    # 2. A supervisor and everything it started, as when its machine dies: nimbus moves its workers.
    victim = supervisors[1]
    daemon = cluster.supervisors[victim]
    before = set(worker_ports(topology_id))
    started = time.time()
    kill_group(daemon.process.pid)
    daemon.process.wait()
    daemon.log.close()
    recoveries.append((f"supervisor {victim} kill -9 with its workers", recover(run, started)))
    assert set(worker_ports(topology_id)) != before
    daemon.start()

    # 3. The leader nimbus: the other takes over; the workers never needed it.
    leader = cluster.leader_port()
    started = time.time()
    cluster.nimbuses[leader].kill9()
    recoveries.append(("leader nimbus kill -9", recover(run, started)))
    assert wait_until(lambda: cluster.leader_port() not in (None, leader), 60)
    recoveries.append(("  (a new leader elected)", time.time() - started))

    # 4. ZooKeeper, down for five seconds.
    started = time.time()
    zookeeper.process.kill()
    zookeeper.process.wait()
    zookeeper.log.close()
    time.sleep(5)
    zookeeper.start()
    recoveries.append(("ZooKeeper kill -9, restarted after 5 s", recover(run, started)))
    for label, action in more_faults:
        started = time.time()
        action()
        recoveries.append((label, recover(run, started)))
    assert not run.done(), f"every number was acked before the faults ended: raise the messages above {run.messages}"

    assert wait_until(run.done, 600, 0.5), f"watermarks {run.watermarks()} of {run.messages}"
    # Acked trees and their complete latency reach getTopologyInfo through the workers' heartbeats.
    def spout_stats():
        acked, latency, bolt_acks = 0, 0.0, 0
        for e in cluster.client().getTopologyInfoByName(name).executors:
            if e.stats is None:
                continue
            if e.component_id == "numbers":
                acked += sum(e.stats.specific.spout.acked.get(":all-time", {}).values())
                latency = max([latency, *e.stats.specific.spout.complete_ms_avg.get(":all-time", {}).values()])
            elif e.component_id == "python":
                bolt_acks += sum(e.stats.specific.bolt.acked.get(":all-time", {}).values())
        return acked, latency, bolt_acks
    assert wait_until(lambda: all(x > 0 for x in spout_stats()), 30), spout_stats()
    seen = run.seen()
    lost = run.messages - len(set(seen) & set(range(run.messages)))
    logs = worker_logs(cluster, topology_id)
    faults = 4 + len(more_faults)
    report = [f"messages {run.messages}, faults {faults}, sink saw {len(seen)}: duplicates {len(seen) - len(set(seen))}, lost {lost}"]
    report += [f"  {what}: recovered in {secs:.1f} s" for what, secs in recoveries]
    print("\n".join(["", f"chaos report ({name}):"] + report))
    assert lost == 0, "\n".join(report)
    # What the dead worker held was failed by timeout, and said so.
    assert "timed out" in logs, logs[-3000:]
    return report


@pytest.fixture
def chaos_cluster(zookeeper):
    c = Cluster(zookeeper, nimbuses=2, extra_conf=WORKER_CONF)
    yield c
    c.stop()


def test_every_message_is_processed_at_least_once_while_daemons_are_killed(chaos_cluster, zookeeper):
    run = Run()
    chaos_cluster.add_supervisor("a", [free_port() for _ in range(3)])
    chaos_cluster.add_supervisor("b", [free_port() for _ in range(3)])
    assert wait_until(lambda: len(chaos_cluster.client().getClusterInfo().supervisors) == 2)
    chaos(chaos_cluster, zookeeper, run, "chaos", ["a", "b"])


class Namespaces:
    """A network namespace per supervisor, each joined by a veth pair to a bridge on the host, where ZooKeeper and
    the nimbuses listen: supervisors and workers reach each other only through their links, like hosts on a
    switch. Everything is made here and removed by `remove`."""

    def __init__(self, count):
        tag = "%04x" % random.randrange(1 << 16)
        subnet = f"10.{random.randrange(100, 250)}.{random.randrange(1, 250)}"
        self.host = f"{subnet}.1"
        self.bridge = f"stbr{tag}"
        self.names = [f"storm-{tag}-{i}" for i in range(count)]
        self.links = [f"stv{tag}{i}" for i in range(count)]
        self.addresses = [f"{subnet}.{i + 2}" for i in range(count)]
        self.made = []
        try:
            self.ip("link", "add", "name", self.bridge, "type", "bridge")
            self.made.append(("link", self.bridge))
            self.ip("addr", "add", f"{self.host}/24", "dev", self.bridge)
            self.ip("link", "set", self.bridge, "up")
            for name, link, address in zip(self.names, self.links, self.addresses):
                self.ip("netns", "add", name)
                self.made.append(("netns", name))
                self.ip("link", "add", link, "type", "veth", "peer", "name", link + "n")
                self.ip("link", "set", link + "n", "netns", name)
                self.ip("link", "set", link, "master", self.bridge)
                self.ip("link", "set", link, "up")
                self.ip("netns", "exec", name, "ip", "addr", "add", f"{address}/24", "dev", link + "n")
                self.ip("netns", "exec", name, "ip", "link", "set", link + "n", "up")
                self.ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        except (OSError, subprocess.CalledProcessError) as e:
            self.remove()
            detail = getattr(e, "stderr", None) or str(e)
            pytest.skip(f"network namespaces are refused here ({detail.strip()}): needs root and a kernel that allows "
                        "ip netns, veth and bridges")

    @staticmethod
    def ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)

    def reachable(self, index, port):
        """Whether a TCP connection from namespace `index` reaches the host's `port`."""
        probe = f"import socket; socket.create_connection(('{self.host}', {port}), timeout=2).close()"
        return subprocess.run(["ip", "netns", "exec", self.names[index], sys.executable, "-c", probe],
                              capture_output=True).returncode == 0

    def cut(self, index):
        self.ip("link", "set", self.links[index], "down")

    def restore(self, index):
        self.ip("link", "set", self.links[index], "up")

    def remove(self):
        for kind, name in reversed(self.made):
            subprocess.run(["ip", kind, "del", name], capture_output=True, timeout=30)
        self.made = []


@pytest.fixture
def namespaces():
    ns = Namespaces(2)
    yield ns
    ns.remove()


def unauthenticated_call_fails(namespaces, index, port):
    """Whether nimbus at `port` on the host refuses a client in namespace `index` that does not authenticate."""
    probe = textwrap.dedent(f"""
        import sys
        from thrift.protocol import TBinaryProtocol
        from thrift.transport import TSocket, TTransport
        from storm_thrift import Nimbus
        sock = TSocket.TSocket({namespaces.host!r}, {port})
        sock.setTimeout(5000)
        transport = TTransport.TFramedTransport(sock)
        transport.open()
        try:
            Nimbus.Client(TBinaryProtocol.TBinaryProtocol(transport)).getLeader()
        except TTransport.TTransportException:
            sys.exit(7)
    """)
    run = subprocess.run(["ip", "netns", "exec", namespaces.names[index], sys.executable, "-c", probe],
                         capture_output=True, text=True, timeout=60)
    return run.returncode == 7


def test_the_same_on_a_secured_cluster_across_network_namespaces_with_a_link_cut_and_restored(namespaces):
    """The chaos run again, on a cluster secured as docs/security.md says (SASL DIGEST-MD5, SimpleACLAuthorizer,
    ZooKeeper digest ACLs, authenticated worker links), its supervisors in network namespaces of their own."""
    zookeeper = ZooKeeper(address="0.0.0.0")
    conf, jaas_files = secured_conf(tempfile.mkdtemp(prefix="chaos-secured-"))
    cluster = Cluster(zookeeper, nimbuses=2, extra_conf=[*WORKER_CONF, *conf], host=namespaces.host,
                      credentials=("admin", PASSWORDS["admin"]))
    try:
        for i, name in enumerate(["a", "b"]):
            assert wait_until(lambda: namespaces.reachable(i, zookeeper.port), 10), \
                f"namespace {namespaces.names[i]} cannot reach ZooKeeper on the host"
            cluster.add_supervisor(name, [free_port() for _ in range(3)], netns=namespaces.names[i],
                                   hostname=namespaces.addresses[i], extra_conf=supervisor_conf(jaas_files))
        assert wait_until(lambda: len(cluster.client().getClusterInfo().supervisors) == 2, 30), \
            cluster.supervisors["a"].log_text()[-2000:]
        hosts = {s.host for s in cluster.client().getClusterInfo().supervisors}
        assert hosts == set(namespaces.addresses)
        assert all(unauthenticated_call_fails(namespaces, 1, port) for port in cluster.nimbus_ports)

        def cut_link():
            # Longer than the ZooKeeper session and nimbus' supervisor timeout: nimbus moves b's workers away.
            namespaces.cut(1)
            time.sleep(12)
            namespaces.restore(1)

        run = Run(messages=260_000)
        chaos(cluster, zookeeper, run, "secured, network namespaces", ["a", "b"],
              more_faults=[("link of supervisor b cut for 12 s, then restored", cut_link)])
    finally:
        cluster.stop()
        zookeeper.stop()
