"""The queries behind Storm's UI pages (topology, component, supervisor, history, owners) against a running
topology, asked through a client generated from Apache Storm's own storm.thrift (the copy streamparse bundles,
loaded with thriftpy2)."""

import pytest
from streamparse.thrift import storm_thrift
from thriftpy2.rpc import make_client
from thriftpy2.transport import TFramedTransportFactory

from conftest import free_port, ttypes, wait_until
from stormclient import JavaComponent, TopologyBuilder
from test_workers import submit, workers_cluster  # noqa: F401 (a fixture)


def storms_client(port):
    return make_client(storm_thrift.Nimbus, "127.0.0.1", port, trans_factory=TFramedTransportFactory(), timeout=20000)


def word_count():
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 2)
    builder.set_bolt("count", JavaComponent("org.apache.storm.testing.TestWordCounter", ["word", "count"]),
                     3).fields_grouping("words", ["word"])
    return builder.build()


def executed(page):
    stats = page.id_to_bolt_agg_stats.get("count")
    return stats.specific_stats.bolt.executed if stats else 0


def emitted(page):
    stats = page.id_to_spout_agg_stats.get("words")
    return stats.common_stats.emitted if stats else 0


def test_pages_of_a_running_topology_and_its_history(workers_cluster):  # noqa: F811
    slot = free_port()
    workers_cluster.add_supervisor("a", [slot])
    client = workers_cluster.client()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
    [supervisor] = client.getClusterInfo().supervisors
    topology_id = submit(client, "pages", word_count(), {"topology.workers": 1, "topology.users": ["alice"]})
    storm = storms_client(workers_cluster.leader_port())

    # The topology page: its counts grow from one call to the next.
    assert wait_until(lambda: executed(storm.getTopologyPageInfo(topology_id, ":all-time", False)) > 0, 60), \
        workers_cluster.supervisors["a"].log_text()[-3000:]
    first = storm.getTopologyPageInfo(topology_id, "", False)
    assert wait_until(lambda: executed(storm.getTopologyPageInfo(topology_id, "", False)) > executed(first), 30)
    assert wait_until(lambda: emitted(storm.getTopologyPageInfo(topology_id, "", False)) > emitted(first), 30)
    assert (first.id, first.name, first.status) == (topology_id, "pages", "ACTIVE")
    # 2 spout and 3 bolt executors, one acker for the one worker; one task each.
    assert (first.num_executors, first.num_tasks, first.num_workers) == (6, 6, 1)
    assert set(first.id_to_spout_agg_stats) == {"words"} and set(first.id_to_bolt_agg_stats) == {"count"}
    assert first.id_to_spout_agg_stats["words"].common_stats.num_executors == 2
    assert first.id_to_bolt_agg_stats["count"].common_stats.num_executors == 3
    assert first.id_to_bolt_agg_stats["count"].common_stats.num_tasks == 3
    assert first.topology_stats.window_to_emitted[":all-time"] >= emitted(first) > 0
    assert '"topology.users"' in first.topology_conf
    [worker] = first.workers
    assert (worker.supervisor_id, worker.host, worker.port) == (supervisor.supervisor_id, "127.0.0.1", slot)
    assert (worker.topology_id, worker.topology_name, worker.num_executors) == (topology_id, "pages", 6)
    assert worker.component_to_num_tasks == {"words": 2, "count": 3}
    with_sys = storm.getTopologyPageInfo(topology_id, "", True)
    assert set(with_sys.id_to_bolt_agg_stats) == {"count", "__acker"}
    assert with_sys.workers[0].component_to_num_tasks == {"words": 2, "count": 3, "__acker": 1}

    # The component pages: each executor where it runs, the bolt's input stream, the spout's output stream.
    bolt = storm.getComponentPageInfo(topology_id, "count", ":all-time", False)
    assert (bolt.component_type, bolt.topology_name, bolt.topology_status) == (
        storm_thrift.ComponentType.BOLT, "pages", "ACTIVE")
    assert (bolt.num_executors, bolt.num_tasks, bolt.errors) == (3, 3, [])
    assert sorted((e.exec_summary.host, e.exec_summary.port) for e in bolt.exec_stats) == [("127.0.0.1", slot)] * 3
    assert sum(e.stats.specific_stats.bolt.executed for e in bolt.exec_stats) > 0
    [(stream, inputs)] = bolt.gsid_to_input_stats.items()
    assert (stream.componentId, stream.streamId) == ("words", "default")
    assert inputs.specific_stats.bolt.executed > 0
    assert bolt.window_to_stats[":all-time"].specific_stats.bolt.executed > 0
    spout = storm.getComponentPageInfo(topology_id, "words", "", False)
    assert spout.component_type == storm_thrift.ComponentType.SPOUT and spout.num_executors == 2
    assert spout.sid_to_output_stats["default"].common_stats.emitted > 0

    # The supervisor page, by id and by host (no id, as Storm's UI asks).
    page = storm.getSupervisorPageInfo(supervisor.supervisor_id, "", False)
    assert [s.supervisor_id for s in page.supervisor_summaries] == [supervisor.supervisor_id]
    [worker] = page.worker_summaries
    assert (worker.topology_id, worker.port, worker.num_executors) == (topology_id, slot, 6)
    by_host = storm.getSupervisorPageInfo(None, "127.0.0.1", False)
    assert [s.supervisor_id for s in by_host.supervisor_summaries] == [supervisor.supervisor_id]

    # Owners (not in the storm.thrift streamparse bundles: asked through our client).
    [owner] = client.getOwnerResourceSummaries("")
    assert owner.owner == first.owner
    assert (owner.total_topologies, owner.total_executors, owner.total_workers, owner.total_tasks) == (1, 6, 1, 6)

    # The history: the running topology, then the killed one, for its users.
    assert topology_id in storm.getTopologyHistory("").topo_ids
    assert storm.getTopologyHistory("alice").topo_ids == [topology_id]
    assert storm.getTopologyHistory("mallory").topo_ids == []
    client.killTopologyWithOpts("pages", ttypes.KillOptions(wait_secs=0))
    assert wait_until(lambda: client.getTopologySummaries() == [], 30)
    assert storm.getTopologyHistory("alice").topo_ids == [topology_id]
    assert storm.getTopologyHistory("").topo_ids == [topology_id]

    # Unknown ids: NotAliveException naming them.
    with pytest.raises(storm_thrift.NotAliveException) as e:
        storm.getTopologyPageInfo(topology_id, "", False)
    assert topology_id in e.value.msg
    with pytest.raises(storm_thrift.NotAliveException) as e:
        storm.getSupervisorPageInfo("no-such-supervisor", "", False)
    assert "no-such-supervisor" in e.value.msg


def test_an_unassigned_topology_lists_its_components_and_an_unknown_one_is_not_alive(workers_cluster):  # noqa: F811
    client = workers_cluster.client()  # no supervisor: the topology stays unassigned
    topology_id = submit(client, "components", word_count(), {"topology.workers": 1})
    storm = storms_client(workers_cluster.leader_port())
    with pytest.raises(storm_thrift.NotAliveException) as e:
        storm.getComponentPageInfo(topology_id, "nosuch", "", False)
    assert "'nosuch'" in e.value.msg
    # Before any executor reports, each component is listed with its parallelism and nothing counted.
    page = storm.getTopologyPageInfo(topology_id, "", False)
    assert (page.num_workers, page.workers) == (0, [])
    count = page.id_to_bolt_agg_stats["count"]
    assert (count.common_stats.num_executors, count.common_stats.emitted, count.specific_stats.bolt.executed) == (3, 0, 0)
    assert page.id_to_spout_agg_stats["words"].common_stats.num_tasks == 2
    assert "__acker" not in page.id_to_bolt_agg_stats
