"""Storm's `debug`: a component's or a whole topology's emitted tuples sampled at a percentage into the event
logger (`topology.eventlogger.executors`), written to the worker's events.log in Storm's line format, switched on
and off through nimbus' Thrift API (Storm's own IDL) and the UI, and read through the log viewer from the UI's link."""

import glob
import json
import time
import urllib.parse
import urllib.request

import pytest

from conftest import Cluster, free_port, ttypes, upload, wait_until
from stormclient import JavaComponent, TopologyBuilder
from test_workers import WORKER_CONF, executed
from uicluster import UI, LogViewer


@pytest.fixture
def debug_cluster(zookeeper):
    cluster = Cluster(zookeeper, nimbuses=1, extra_conf=[*WORKER_CONF, "-c", "task.refresh.poll.secs=2"])
    ui = viewer = None
    try:
        cluster.add_supervisor("a", [free_port()])
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
        viewer = LogViewer(f"{cluster.dir}/supervisor-a/logs")
        ui = UI(cluster, "-c", f"logviewer.port={viewer.port}")
        yield cluster, client, ui
    finally:
        for part in (ui, viewer):
            if part:
                part.stop()
        cluster.stop()


def sampled_topology():
    builder = TopologyBuilder()
    builder.set_spout("sentences", JavaComponent("storm.swift.AckedSentenceSpout", ["sentence"], args=[200]))
    builder.set_bolt("split", JavaComponent("org.apache.storm.perf.bolt.SplitSentenceBolt", ["word"]), 2) \
        .shuffle_grouping("sentences")
    builder.set_bolt("count", JavaComponent("org.apache.storm.testing.TestWordCounter", ["word", "count"]), 2) \
        .fields_grouping("split", ["word"])
    return builder.build()


def events(cluster, topology_id):
    lines = []
    for path in glob.glob(f"{cluster.dir}/supervisor-a/logs/workers-artifacts/{topology_id}/*/events.log"):
        with open(path) as f:
            lines += f.read().splitlines()
    return lines


def emitted(client, name, component):
    total = 0
    for e in client.getTopologyInfoByName(name).executors:
        if e.component_id == component and e.stats is not None:
            total += e.stats.emitted.get(":all-time", {}).get("default", 0)
    return total


def test_debug_samples_a_component_at_the_asked_percentage(debug_cluster):
    cluster, client, ui = debug_cluster
    conf = {"topology.workers": 1, "topology.eventlogger.executors": 1}
    client.submitTopology("sampled", upload(client), json.dumps(conf), sampled_topology())
    topology_id = client.getTopologySummaryByName("sampled").id
    assert wait_until(lambda: executed(client, "sampled", "count") > 100, 60)
    assert events(cluster, topology_id) == []

    # Half of split's tuples, through Storm's IDL.
    client.debug("sampled", "split", True, 50)
    assert wait_until(lambda: len(events(cluster, topology_id)) > 20, 30)
    start_events, start_emitted = len(events(cluster, topology_id)), emitted(client, "sampled", "split")
    time.sleep(10)
    added_events = len(events(cluster, topology_id)) - start_events
    added_emitted = emitted(client, "sampled", "split") - start_emitted
    assert added_emitted > 1000 and 0.4 <= added_events / added_emitted <= 0.6, (added_events, added_emitted)
    # Storm's line: date, component, task, message id (none for a bolt), values.
    line = events(cluster, topology_id)[-1]
    date, component, task, message_id, values = line.split(",", 4)
    assert component == "split" and int(task) in range(1, 20) and message_id == ""
    assert values.startswith("[") and values.endswith("]") and " " not in values.strip("[]")
    assert time.strptime(date, "%a %b %d %H:%M:%S UTC %Y")
    assert {l.split(",")[1] for l in events(cluster, topology_id)} == {"split"}
    info = client.getTopologyPageInfo(topology_id, ":all-time", False)
    assert info.debug_options is None or not info.debug_options.enable
    page = client.getComponentPageInfo(topology_id, "split", ":all-time", False)
    assert (page.debug_options.enable, page.debug_options.samplingpct) == (True, 50)

    # Off: nothing more is sampled.
    client.debug("sampled", "split", False, 50)
    time.sleep(4)
    settled = len(events(cluster, topology_id))
    time.sleep(3)
    assert len(events(cluster, topology_id)) == settled

    # The whole topology through the UI, at 100 %: the spout's lines carry its message ids.
    answer = ui.post(f"/api/v1/topology/{topology_id}/debug/enable/100")
    assert answer == {"topologyOperation": "debug", "topologyId": topology_id, "status": "success"}
    assert wait_until(lambda: any(l.split(",")[1] == "sentences" for l in events(cluster, topology_id)), 30)
    spout_line = next(l for l in reversed(events(cluster, topology_id)) if l.split(",")[1] == "sentences")
    assert spout_line.split(",")[3].isdigit(), spout_line
    assert ui.get(f"/api/v1/topology/{topology_id}")["debug"] is True
    component = ui.get(f"/api/v1/topology/{topology_id}/component/count")
    assert component["debug"] is True and component["samplingPct"] == 100
    # The UI's link to the sampled tuples opens events.log through the node's log viewer.
    link = component["eventLogLink"]
    assert f":{ui_viewer_port(ui)}/api/v1/log?file=" in link and "events.log" in urllib.parse.unquote(link), link
    with urllib.request.urlopen(link, timeout=10) as r:
        assert ",count," in r.read().decode()
    ui.post(f"/api/v1/topology/{topology_id}/debug/disable/100")


def ui_viewer_port(ui):
    return next(a for a in ui.process.args if a.startswith("logviewer.port=")).split("=")[1]


def test_debug_refuses_what_it_cannot_do_in_one_line(debug_cluster):
    cluster, client, ui = debug_cluster
    client.submitTopology("plain", upload(client), json.dumps({"topology.workers": 1}), sampled_topology())
    topology_id = client.getTopologySummaryByName("plain").id
    with pytest.raises(Exception) as refused:
        client.debug("plain", "split", True, 10)
    assert "has no event logger to sample into: submit it with topology.eventlogger.executors above 0" \
        in str(refused.value)
    with pytest.raises(ttypes.NotAliveException):
        client.debug("nosuch", "", True, 10)
    status, message = ui.error("POST", f"/api/v1/topology/{topology_id}/debug/enable/10")
    assert status == 400 and "has no event logger" in message
    status, message = ui.error("POST", f"/api/v1/topology/{topology_id}/component/split/debug/louder/10")
    assert (status, message) == (400, "debug action 'louder' is not enable or disable")
    status, message = ui.error("POST", f"/api/v1/topology/{topology_id}/debug/enable/lots")
    assert (status, message) == (400, "sampling percentage 'lots' is not a number")
    with pytest.raises(Exception) as refused:
        client.debug("plain", "nosuch", False, 10)
    assert "topology 'plain' has no component 'nosuch' to debug" in str(refused.value)
    # Disabling needs no event logger, and a percentage out of range is clamped, as Storm's.
    client.debug("plain", "", False, 250)
    assert client.getTopologyPageInfo(topology_id, ":all-time", False).debug_options.samplingpct == 100
