"""What the topology benchmarks share: a cluster of ZooKeeper, one nimbus and one supervisor on loopback, and a
topology run on it until its workers are up and tuples flow."""
import contextlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "e2e"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from conftest import Cluster, ZooKeeper, free_port, ttypes, upload, wait_until  # noqa: E402,F401
from test_workers import executed, worker_processes  # noqa: E402,F401


@contextlib.contextmanager
def supervised(slots=2, extra_conf=(), credentials=None):
    """A fresh cluster, its supervisor offering `slots` slots, and a nimbus client; everything stops afterwards.
    `extra_conf` is given to every daemon; `credentials` are what the client authenticates with."""
    zk = ZooKeeper()
    cluster = None
    try:
        cluster = Cluster(zk, nimbuses=1, credentials=credentials,
                          extra_conf=["-c", "task.heartbeat.frequency.secs=1", "-c", "nimbus.task.launch.secs=60",
                                      *extra_conf])
        supervisor = cluster.add_supervisor("a", [free_port() for _ in range(slots)])
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 60)
        yield cluster, supervisor, client
    finally:
        if cluster:
            cluster.stop()
        zk.stop()


@contextlib.contextmanager
def one_supervisor(slots=2):
    """A nimbus client of a fresh cluster whose supervisor offers `slots` slots; everything stops afterwards."""
    with supervised(slots) as (_, _, client):
        yield client


@contextlib.contextmanager
def running(client, name, topology, workers, counted):
    """Submits a topology without ackers, waits for its workers and for `counted` to execute tuples, yields its id,
    and kills it afterwards (waiting until its workers are gone)."""
    conf = {"topology.workers": workers, "topology.acker.executors": 0}
    client.submitTopology(name, upload(client), json.dumps(conf), topology)
    topology_id = client.getTopologySummaryByName(name).id
    assert wait_until(lambda: len(worker_processes(topology_id)) == workers, 60), "workers did not start"
    assert wait_until(lambda: executed(client, name, counted) > 0, 60), "no tuples flowed"
    try:
        yield topology_id
    finally:
        client.killTopologyWithOpts(name, ttypes.KillOptions(wait_secs=0))
        assert wait_until(lambda: not worker_processes(topology_id), 60)
