"""A cluster of real processes: ZooKeeper, two nimbuses, two supervisors; daemons die with kill -9."""

import json
import os
import time

import pytest
from thrift.TSerialization import deserialize
from thrift.Thrift import TApplicationException

from conftest import Cluster, connect, shell_topology, ttypes, upload, wait_until

SLOTS_A = [6700, 6701]
SLOTS_B = [6710, 6711]


def slots_in_use(client, name):
    """(port) of every executor of a topology, from getTopologyInfo."""
    info = client.getTopologyInfoByName(name)
    return sorted({e.port for e in info.executors})


def submit(client, name, workers=2):
    client.submitTopology(name, upload(client), json.dumps({"topology.workers": workers}), shell_topology())


def local_assignments(cluster, supervisor):
    path = os.path.join(cluster.supervisor_dir(supervisor), "local-assignments")
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as f:
        return deserialize(ttypes.LSSupervisorAssignments(), f.read()).assignments


def test_submit_lands_on_both_supervisors_and_followers_refuse_writes(cluster):
    client = cluster.add_two_supervisors(SLOTS_A, SLOTS_B)
    leader = cluster.leader_port()
    [follower] = [p for p in cluster.nimbus_ports if p != leader]

    submit(client, "spread", workers=2)
    assert wait_until(lambda: len(slots_in_use(client, "spread")) == 2)
    used = slots_in_use(client, "spread")
    assert used[0] in SLOTS_A and used[1] in SLOTS_B, used
    info = client.getClusterInfo()
    assert sorted((s.num_workers, s.num_used_workers) for s in info.supervisors) == [(2, 1), (2, 1)]
    assert [t.sched_status for t in info.topologies] == ["Fully Scheduled"]
    assert sorted((n.port, n.isLeader) for n in info.nimbuses) == sorted([(leader, True), (follower, False)])
    assert all(n.version == "2.8.0" for n in info.nimbuses)

    # Each supervisor recorded which of its ports run what.
    a, b = local_assignments(cluster, "a"), local_assignments(cluster, "b")
    assert len(a) == 1 and len(b) == 1
    [(port_a, work_a)] = a.items()
    [(port_b, work_b)] = b.items()
    assert port_a in SLOTS_A and port_b in SLOTS_B
    assert work_a.topology_id == work_b.topology_id == client.getTopologySummaryByName("spread").id
    assert len(work_a.executors) + len(work_b.executors) == client.getTopologySummaryByName("spread").num_executors

    # A follower answers reads but refuses writes, naming the leader.
    follower_client = connect(follower)
    assert [t.name for t in follower_client.getTopologySummaries()] == ["spread"]
    with pytest.raises(TApplicationException) as e:
        follower_client.deactivate("spread")
    assert f"is not the leader; the leader is 127.0.0.1:{leader}" in e.value.message
    # The CLI follows the leader whichever seed it reaches first.
    result = cluster.cli("deactivate", "spread", "-c", f'nimbus.seeds=["127.0.0.1:{follower}"]')
    assert result.returncode == 0, result.stderr
    assert client.getTopologySummaryByName("spread").status == "INACTIVE"

    # A topology too big for the free slots gets what fits, and the rest when slots free up.
    submit(client, "big", workers=4)
    assert wait_until(lambda: len(slots_in_use(client, "big")) == 2)
    status = client.getTopologySummaryByName("big").sched_status
    assert status == "Running with fewer workers than requested: 2 of 4 (not enough free slots)"
    client.killTopologyWithOpts("spread", ttypes.KillOptions(wait_secs=0))
    assert wait_until(lambda: len(slots_in_use(client, "big")) == 4, timeout=20)
    assert client.getTopologySummaryByName("big").sched_status == "Fully Scheduled"

    # Rebalance recomputes the assignment with the new worker count.
    client.rebalance("big", ttypes.RebalanceOptions(wait_secs=0, num_workers=1))
    assert wait_until(lambda: len(slots_in_use(client, "big")) == 1, timeout=20)


def test_leader_dies_and_the_other_takes_over(cluster):
    client = cluster.add_two_supervisors(SLOTS_A, SLOTS_B)
    leader = cluster.leader_port()
    [follower] = [p for p in cluster.nimbus_ports if p != leader]
    submit(client, "survivor")
    assert wait_until(lambda: len(slots_in_use(client, "survivor")) == 2)
    before = client.getTopologyInfoByName("survivor")
    topology_id = before.id
    # The follower copies the topology's code from the leader.
    follower_client = connect(follower)
    assert wait_until(lambda: os.path.exists(f"{cluster.dir}/nimbus-{follower}/nimbus/stormdist/{topology_id}/stormcode.ser"))

    cluster.nimbuses[leader].kill9()
    started = time.time()
    assert wait_until(lambda: follower_client.getLeader().port == follower, timeout=Cluster.SESSION_TIMEOUT_MS / 1000 + 10)
    took_over = time.time() - started
    assert took_over < Cluster.SESSION_TIMEOUT_MS / 1000 + 5, took_over

    after = follower_client.getTopologyInfo(topology_id)
    assert after.status == "ACTIVE"
    assert sorted((e.executor_info.task_start, e.port) for e in after.executors) == \
        sorted((e.executor_info.task_start, e.port) for e in before.executors)
    assert follower_client.getUserTopology(topology_id) == shell_topology()
    # The new leader accepts writes.
    follower_client.deactivate("survivor")
    assert follower_client.getTopologySummaryByName("survivor").status == "INACTIVE"
    nimbuses = follower_client.getClusterInfo().nimbuses
    assert [(n.port, n.isLeader) for n in nimbuses] == [(follower, True)]


def test_supervisor_dies_its_work_moves_and_it_comes_back_as_itself(cluster):
    cluster.add_supervisor("a", SLOTS_A)
    b = cluster.add_supervisor("b", SLOTS_B)
    client = cluster.client()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 2)
    b_id = open(os.path.join(cluster.supervisor_dir("b"), "supervisor-id"), "rb").read()
    submit(client, "mover")
    assert wait_until(lambda: len(slots_in_use(client, "mover")) == 2)

    b.kill9()
    started = time.time()
    assert wait_until(lambda: slots_in_use(client, "mover") == SLOTS_A, timeout=Cluster.SESSION_TIMEOUT_MS / 1000 + 10)
    moved = time.time() - started
    assert moved < Cluster.SESSION_TIMEOUT_MS / 1000 + 5, moved
    assert len(client.getClusterInfo().supervisors) == 1

    b.start()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 2)
    assert open(os.path.join(cluster.supervisor_dir("b"), "supervisor-id"), "rb").read() == b_id
    summaries = {s.num_workers for s in client.getClusterInfo().supervisors}
    assert summaries == {2}
    # The returning supervisor gets work again: a new topology lands on it.
    submit(client, "newcomer", workers=2)
    assert wait_until(lambda: slots_in_use(client, "newcomer") == SLOTS_B)


def test_zookeeper_restart_under_a_running_cluster(cluster, zookeeper):
    client = cluster.add_two_supervisors(SLOTS_A, SLOTS_B)
    submit(client, "steady")
    assert wait_until(lambda: len(slots_in_use(client, "steady")) == 2)
    before = slots_in_use(client, "steady")

    zookeeper.stop()
    with pytest.raises(TApplicationException) as e:
        submit(client, "while-down")
    assert "ZooKeeper" in e.value.message
    time.sleep(2)
    zookeeper.start()

    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 2, timeout=30)
    assert slots_in_use(client, "steady") == before
    submit(client, "after")
    assert wait_until(lambda: len(slots_in_use(client, "after")) == 2)
    for daemon in list(cluster.nimbuses.values()) + list(cluster.supervisors.values()):
        text = daemon.log_text()
        # The outage is said once per process, not once per retry.
        assert text.count("lost the ZooKeeper connection") == 1, text
        assert daemon.process.poll() is None


def test_nimbus_kill9_and_restart_keeps_everything(zookeeper):
    cluster = Cluster(zookeeper, nimbuses=1)
    try:
        [port] = cluster.nimbus_ports
        client = cluster.add_two_supervisors(SLOTS_A, SLOTS_B)
        submit(client, "kept")
        submit(client, "leaving", workers=1)
        client.deactivate("kept")
        assert wait_until(lambda: len(slots_in_use(client, "kept")) == 2 and len(slots_in_use(client, "leaving")) == 1)
        kept = client.getTopologyInfoByName("kept")
        client.killTopologyWithOpts("leaving", ttypes.KillOptions(wait_secs=6))

        cluster.nimbuses[port].kill9()
        cluster.nimbuses[port].start()
        cluster.wait_for_nimbus(port)
        client = cluster.client(port)
        assert wait_until(lambda: client.getLeader().port == port, timeout=20)
        statuses = {t.name: t.status for t in client.getTopologySummaries()}
        assert statuses == {"kept": "INACTIVE", "leaving": "KILLED"}
        again = client.getTopologyInfo(kept.id)
        assert sorted((e.executor_info.task_start, e.port) for e in again.executors) == \
            sorted((e.executor_info.task_start, e.port) for e in kept.executors)
        # The pending kill finishes after the restart; submits continue with fresh ids.
        assert wait_until(lambda: [t.name for t in client.getTopologySummaries()] == ["kept"], timeout=30)
        submit(client, "fresh", workers=1)
        assert client.getTopologySummaryByName("fresh").id.startswith("fresh-1-")
    finally:
        cluster.stop()


def test_supervisors_fetch_topology_files_and_resources(cluster):
    import io
    import zipfile
    client = cluster.add_two_supervisors(SLOTS_A, SLOTS_B)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("resources/split.py", "print('split')\n")
        z.writestr("resources/data/words.txt", "a b c\n")
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    client.submitTopology("files", upload(client, archive.getvalue()), json.dumps({"topology.workers": 2}),
                          shell_topology())
    topology_id = client.getTopologySummaryByName("files").id
    dirs = [os.path.join(cluster.supervisor_dir(name), "stormdist", topology_id) for name in ("a", "b")]
    assert wait_until(lambda: all(os.path.exists(os.path.join(d, "stormconf.ser")) for d in dirs), timeout=20)
    for d in dirs:
        assert open(os.path.join(d, "resources", "split.py")).read() == "print('split')\n"
        assert open(os.path.join(d, "resources", "data", "words.txt")).read() == "a b c\n"
        assert not os.path.exists(os.path.join(d, "resources", "META-INF"))
        assert deserialize(ttypes.StormTopology(), open(os.path.join(d, "stormcode.ser"), "rb").read()) == shell_topology()
    client.killTopologyWithOpts("files", ttypes.KillOptions(wait_secs=0))
    assert wait_until(lambda: not any(os.path.exists(d) for d in dirs), timeout=20)


def test_daemons_whose_session_expired_register_and_watch_again(cluster):
    """A real session expiry: a daemon frozen (SIGSTOP) for longer than storm.zookeeper.session.timeout loses its
    session; when it thaws it opens a new one, registers again and follows the cluster again."""
    import signal
    client = cluster.add_two_supervisors(SLOTS_A, SLOTS_B)
    submit(client, "before")
    assert wait_until(lambda: len(slots_in_use(client, "before")) == 2)
    frozen_for = Cluster.SESSION_TIMEOUT_MS / 1000 + 4

    # Supervisor b: its node goes with its session and its work moves to a.
    b = cluster.supervisors["b"]
    b.process.send_signal(signal.SIGSTOP)
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, frozen_for + 10)
    time.sleep(1)
    b.process.send_signal(signal.SIGCONT)
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 2, 30)
    assert wait_until(lambda: "registering supervisor" in b.log_text() and "again" in b.log_text(), 10), b.log_text()[-2000:]
    # It follows assignments again: a new topology of two workers lands on both supervisors.
    submit(client, "after-supervisor")
    assert wait_until(lambda: len(slots_in_use(client, "after-supervisor")) == 2, 30)

    # The leader: the other nimbus takes over; the thawed one comes back as a follower, registered again.
    leader = cluster.leader_port()
    [other] = [p for p in cluster.nimbus_ports if p != leader]
    cluster.nimbuses[leader].process.send_signal(signal.SIGSTOP)
    other_client = connect(other)
    assert wait_until(lambda: other_client.getLeader().port == other, frozen_for + 10)
    cluster.nimbuses[leader].process.send_signal(signal.SIGCONT)
    assert wait_until(lambda: sorted(n.port for n in other_client.getClusterInfo().nimbuses) == sorted(cluster.nimbus_ports), 30)
    assert "registering nimbus" in cluster.nimbuses[leader].log_text()
    # The thawed nimbus answers as a follower, and copies a topology submitted now.
    thawed = connect(leader)
    assert wait_until(lambda: thawed.getLeader().port == other, 10)
    other_client.killTopologyWithOpts("before", ttypes.KillOptions(wait_secs=0))  # frees two slots
    submit(other_client, "after-nimbus")
    topology_id = other_client.getTopologySummaryByName("after-nimbus").id
    assert wait_until(lambda: other_client.getTopologyInfo(topology_id).replication_count == 2, 30)
    assert wait_until(lambda: len(slots_in_use(other_client, "after-nimbus")) == 2, 30)
