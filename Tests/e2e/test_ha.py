"""Nimbus high availability with real processes: a leader that lacks a topology's files still schedules it, from
the records in ZooKeeper, and gets the archive back from a supervisor."""

import io
import os
import shutil
import time
import zipfile

from conftest import Cluster, connect, upload, wait_until
from test_workers import WORKER_CONF, executed, free_port, submit, word_topology, worker_ports


def resources_archive():
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        z.writestr("resources/hello.txt", "kept across nimbuses\n")
    return data.getvalue()


def slots_of(client, topology_id):
    return {(e.host, e.port) for e in client.getTopologyInfo(topology_id).executors}


def test_a_new_leader_without_the_files_reschedules_a_dead_supervisors_work(zookeeper):
    cluster = Cluster(zookeeper, nimbuses=2, extra_conf=WORKER_CONF)
    try:
        run_scenario(cluster)
    finally:
        cluster.stop()


def run_scenario(cluster):
    ports_a = [free_port(), free_port()]
    ports_b = [free_port(), free_port()]
    client = cluster.add_two_supervisors(ports_a, ports_b)
    archive = resources_archive()
    location = upload(client, archive)
    client.submitTopology("ha", location, '{"topology.workers": 4}', word_topology(bolts=4))
    topology_id = client.getTopologySummaryByName("ha").id
    assert wait_until(lambda: len(worker_ports(topology_id)) == 4, 60)
    assert wait_until(lambda: executed(client, "ha", "sink") > 20, 30)
    client.transport.close()

    # The follower loses its disk: kill -9, its copy of the topology gone. Then the leader dies too, and the
    # follower comes back as the only nimbus, with records in ZooKeeper and no files of its own.
    leader = cluster.leader_port()
    [follower] = [p for p in cluster.nimbus_ports if p != leader]
    cluster.nimbuses[follower].kill9()
    shutil.rmtree(f"{cluster.dir}/nimbus-{follower}/nimbus/stormdist")
    cluster.nimbuses[leader].kill9()
    cluster.nimbuses[follower].start()
    cluster.wait_for_nimbus(follower)
    client = connect(follower)
    assert wait_until(lambda: client.getLeader().port == follower, Cluster.SESSION_TIMEOUT_MS / 1000 + 15)

    # Supervisor b dies with its workers (a machine going away). Every slot left is this topology's: its
    # executors join the live ones on a.
    cluster.supervisors["b"].kill_groups()
    a_slots = {("127.0.0.1", p) for p in ports_a}
    assert wait_until(lambda: slots_of(client, topology_id) == a_slots, 60), slots_of(client, topology_id)
    summary = client.getTopologySummary(topology_id)
    assert summary.sched_status == "Running with fewer workers than requested: 2 of 4 (not enough free slots)"
    assert wait_until(lambda: set(worker_ports(topology_id)) == set(ports_a), 60)
    before = executed(client, "ha", "sink")
    assert wait_until(lambda: executed(client, "ha", "sink") > before + 20, 60)

    # Supervisor a handed its copy of the archive back: the new leader holds every file again.
    assert wait_until(lambda: client.getTopologyInfo(topology_id).replication_count == 1, 30)
    with open(f"{cluster.dir}/nimbus-{follower}/nimbus/stormdist/{topology_id}/stormjar.jar", "rb") as f:
        assert f.read() == archive
    log = cluster.nimbuses[follower].log_text()
    assert "monitor round failed" not in log
    # Either supervisor may have handed it back: b holds a copy too until it dies.
    assert any("handed the archive of topology" in cluster.supervisors[s].log_text() for s in ("a", "b"))

    # b comes back: it downloads the files from the new leader and the topology spreads out to four workers.
    cluster.supervisors["b"].start()
    assert wait_until(lambda: len(slots_of(client, topology_id)) == 4, 60)
    assert wait_until(lambda: len(worker_ports(topology_id)) == 4, 60)
    with open(f"{cluster.dir}/supervisor-b/supervisor/stormdist/{topology_id}/resources/hello.txt") as f:
        assert f.read() == "kept across nimbuses\n"
    before = executed(client, "ha", "sink")
    assert wait_until(lambda: executed(client, "ha", "sink") > before + 20, 60)
    client.transport.close()


def test_a_follower_copies_a_new_topology_at_once_and_the_leader_waits_for_it(zookeeper):
    """With Storm's default periods (a monitor round every 10 s) the follower still holds a new topology's files
    within moments: it watches topologies. A topology asking for two copies is assigned once both exist."""
    cluster = Cluster(zookeeper, nimbuses=2, storm_defaults=True)
    try:
        client = cluster.add_two_supervisors([free_port()], [free_port()])
        started = time.time()
        topology_id = submit(client, "copied", word_topology(), {"topology.workers": 1, "topology.min.replication.count": 2})
        assert wait_until(lambda: client.getTopologyInfo(topology_id).replication_count == 2, 5)
        took = time.time() - started
        leader = cluster.leader_port()
        [follower] = [p for p in cluster.nimbus_ports if p != leader]
        assert os.path.exists(f"{cluster.dir}/nimbus-{follower}/nimbus/stormdist/{topology_id}/stormjar.jar")
        assert wait_until(lambda: len(slots_of(client, topology_id)) == 1, 15)
        print(f"replicated to the follower in {took:.2f} s")
        client.transport.close()
    finally:
        cluster.stop()
