"""Garbage in the cluster state and orphaned records: one unreadable ZooKeeper node affects its own topology alone,
and a topology whose storms/ node is gone leaves nothing holding its slots."""

import json
import subprocess
import time

import pytest

from conftest import Cluster, free_port, shell_topology, ttypes, upload, wait_until
from test_workers import WORKER_CONF, word_topology, worker_ports, worker_processes

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
# Thrift's binary protocol reads the first byte as a field type; 'n' (0x6e) is none, so no struct reader accepts it.
GARBAGE = "not-a-thrift-struct"


def zk_commands(zookeeper, *commands, check=True):
    """Runs ZooKeeper CLI commands (`set PATH DATA`, `create PATH DATA`) against the test's server."""
    script = "".join(c + "\n" for c in commands) + "quit\n"
    result = subprocess.run([ZKCLI, "-server", f"127.0.0.1:{zookeeper.port}"], input=script, capture_output=True,
                            text=True, timeout=60)
    assert not check or result.returncode == 0, result.stdout + result.stderr
    # The CLI prints data on stdout and some errors (a missing node) on stderr.
    return result.stdout + result.stderr


def zk_get(zookeeper, path):
    """What `get` prints: the node's data, or `Node does not exist: PATH`."""
    return zk_commands(zookeeper, f"get {path}", check=False)


def watch_log_count(log, line, count, secs=4):
    """Watches a nimbus log for `secs` (several monitor rounds at one a second): `line` is there `count` times."""
    assert wait_until(lambda: log().count(line) >= count, 30), log()[-4000:]
    deadline = time.time() + secs
    while time.time() < deadline:
        assert log().count(line) == count, log()[-4000:]
        time.sleep(0.5)


@pytest.fixture
def one_nimbus(zookeeper):
    c = Cluster(zookeeper, nimbuses=1)
    yield c
    c.stop()


def submit(client, name, workers=1):
    client.submitTopology(name, upload(client), json.dumps({"topology.workers": workers}), shell_topology())
    return client.getTopologySummaryByName(name).id


def assigned(client, name):
    return len(client.getTopologyInfoByName(name).executors) > 0


def errors_of(client, topology_id):
    return [e.error for errors in client.getTopologyInfo(topology_id).errors.values() for e in errors]


def everything_answers(cluster, client, names):
    """The queries every operator runs: each answers, and lists every topology named."""
    info = client.getClusterInfo()
    assert sorted(t.name for t in info.topologies) == sorted(names)
    assert sorted(t.name for t in client.getTopologySummaries()) == sorted(names)
    listed = cluster.cli("list")
    assert listed.returncode == 0, listed.stderr
    for name in names:
        assert name in listed.stdout
    return info


def test_unreadable_assignment_is_rewritten_and_reported_once(one_nimbus, zookeeper):
    cluster = one_nimbus
    cluster.add_supervisor("a", [free_port() for _ in range(3)])
    client = cluster.client()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
    good, bad = submit(client, "good"), submit(client, "bad")
    assert wait_until(lambda: assigned(client, "good") and assigned(client, "bad"), 30)

    zk_commands(zookeeper, f"set /storm/assignments/{bad} {GARBAGE}")
    # Queries answer throughout, and the leader rewrites the assignment it owns.
    everything_answers(cluster, client, ["good", "bad"])
    assert len(client.getTopologyInfo(good).executors) > 0
    assert wait_until(lambda: GARBAGE not in zk_get(zookeeper, f"/storm/assignments/{bad}"), 30)
    assert wait_until(lambda: assigned(client, "bad"), 30)
    everything_answers(cluster, client, ["good", "bad"])
    # The topology's errors say which record was unreadable.
    assert wait_until(lambda: any(f"/storm/assignments/{bad}" in e and "unreadable" in e for e in errors_of(client, bad)))
    assert not errors_of(client, good)
    # Logged once, however many rounds pass (one a second here), and no round failed.
    log = cluster.nimbuses[cluster.nimbus_ports[0]].log_text
    watch_log_count(log, f"record /storm/assignments/{bad} is unreadable", 1)
    assert "nimbus monitor round failed" not in log()

    # New work is still scheduled.
    submit(client, "later")
    assert wait_until(lambda: assigned(client, "later"), 30)


def test_unreadable_storm_base_breaks_only_its_topology(one_nimbus, zookeeper):
    cluster = one_nimbus
    cluster.add_supervisor("a", [free_port() for _ in range(3)])
    client = cluster.client()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
    good, bad = submit(client, "good"), submit(client, "broken")
    assert wait_until(lambda: assigned(client, "good") and assigned(client, "broken"), 30)
    slots = {e.port for e in client.getTopologyInfo(bad).executors}

    zk_commands(zookeeper, f"set /storm/storms/{bad} {GARBAGE}")
    reason = f"record /storm/storms/{bad} is unreadable"
    info = everything_answers(cluster, client, ["good", "broken"])
    [broken] = [t for t in info.topologies if t.id == bad]
    assert reason in broken.sched_status, broken.sched_status
    [fine] = [t for t in info.topologies if t.id == good]
    assert fine.sched_status == "Fully Scheduled"
    # Its own info names the record, and so do its errors; its assignment, and so its workers, stay put.
    topology_info = client.getTopologyInfoByName("broken")
    assert reason in topology_info.sched_status
    assert {e.port for e in topology_info.executors} == slots
    assert wait_until(lambda: any(reason in e for e in errors_of(client, bad)), 30)
    assert len(client.getTopologyInfo(good).executors) > 0

    # The name stays taken, and other topologies are scheduled around it.
    with pytest.raises(ttypes.AlreadyAliveException):
        submit(client, "broken")
    submit(client, "later")
    assert wait_until(lambda: assigned(client, "later"), 30)
    log = cluster.nimbuses[cluster.nimbus_ports[0]].log_text
    watch_log_count(log, reason, 1)
    assert "nimbus monitor round failed" not in log()

    # Killing it removes it at once: nothing can be waited on for a topology whose state is unknown.
    result = cluster.cli("kill", "broken")
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: sorted(t.name for t in client.getClusterInfo().topologies) == ["good", "later"], 30)
    assert wait_until(lambda: "Node does not exist" in zk_get(zookeeper, f"/storm/assignments/{bad}"), 15)


def test_unreadable_supervisor_nimbus_heartbeat_error_and_code_records_fail_no_query(one_nimbus, zookeeper):
    cluster = one_nimbus
    cluster.add_supervisor("a", [free_port(), free_port()])
    client = cluster.client()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
    [real] = client.getClusterInfo().supervisors
    topology_id = submit(client, "steady")
    assert wait_until(lambda: assigned(client, "steady"), 30)
    expected_user_topology = client.getUserTopology(topology_id)

    # Records nobody rewrites (a supervisor and a nimbus that do not exist, a heartbeat and an error of no
    # worker), and a code record the leader owns.
    zk_commands(
        zookeeper,
        f"create /storm/supervisors/ghost-supervisor {GARBAGE}",
        f"create /storm/nimbuses/ghost:6627 {GARBAGE}",
        f"create /storm/workerbeats/{topology_id} x",
        f"create /storm/workerbeats/{topology_id}/ghost-6700 {GARBAGE}",
        f"create /storm/errors/{topology_id} x",
        f"create /storm/errors/{topology_id}/spout x",
        f"create /storm/errors/{topology_id}/spout/e0000000000 {GARBAGE}",
        f"set /storm/stormcode/{topology_id} {GARBAGE}",
    )
    info = everything_answers(cluster, client, ["steady"])
    assert [s.supervisor_id for s in info.supervisors] == [real.supervisor_id]
    assert [n.port for n in info.nimbuses] == [cluster.nimbus_ports[0]]
    assert client.getLeader().port == cluster.nimbus_ports[0]
    topology_info = client.getTopologyInfo(topology_id)
    assert len(topology_info.executors) > 0
    assert client.getUserTopology(topology_id) == expected_user_topology
    # The leader rewrites the code record from its files; the rest are reported in the topology's errors.
    assert wait_until(lambda: GARBAGE not in zk_get(zookeeper, f"/storm/stormcode/{topology_id}"), 30)
    for record in (f"/storm/workerbeats/{topology_id}/ghost-6700", f"/storm/errors/{topology_id}/spout/e0000000000",
                   f"/storm/stormcode/{topology_id}"):
        assert wait_until(lambda: any(record in e for e in errors_of(client, topology_id)), 30), (record, errors_of(client, topology_id))
    log = cluster.nimbuses[cluster.nimbus_ports[0]].log_text
    watch_log_count(log, "record /storm/supervisors/ghost-supervisor is unreadable", 1)
    assert "nimbus monitor round failed" not in log()

    # Scheduling goes on: the real supervisor's second slot takes a new topology.
    submit(client, "next")
    assert wait_until(lambda: assigned(client, "next"), 30)


@pytest.fixture
def workers_cluster(zookeeper):
    c = Cluster(zookeeper, nimbuses=1, extra_conf=WORKER_CONF)
    yield c
    c.stop()


def test_topology_whose_storms_node_is_deleted_frees_its_slots(workers_cluster, zookeeper):
    cluster = workers_cluster
    cluster.add_supervisor("a", [free_port(), free_port()])
    client = cluster.client()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
    client.submitTopology("old", upload(client), json.dumps({"topology.workers": 2}), word_topology("sink"))
    old = client.getTopologySummaryByName("old").id
    assert wait_until(lambda: len(worker_ports(old)) == 2, 60)

    zk_commands(zookeeper, f"deleteall /storm/storms/{old}")
    deleted = time.time()
    client.submitTopology("new", upload(client), json.dumps({"topology.workers": 2}), word_topology("sink"))
    new = client.getTopologySummaryByName("new").id
    assert wait_until(lambda: len(worker_ports(new)) == 2, 60), cluster.nimbuses[cluster.nimbus_ports[0]].log_text()[-3000:]
    assert client.getTopologySummaryByName("new").sched_status == "Fully Scheduled"
    assert wait_until(lambda: not worker_processes(old), 30), worker_processes(old)
    took = time.time() - deleted
    for kind in ("assignments", "workerbeats", "errors", "stormcode", "stormconf", "code-holders"):
        assert wait_until(lambda: "Node does not exist" in zk_get(zookeeper, f"/storm/{kind}/{old}"), 15), kind
    assert took < 45, took
