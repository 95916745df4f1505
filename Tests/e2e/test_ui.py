"""`storm ui` against a real cluster: Storm's REST API (docs/STORM-UI-REST-API.md in Apache Storm) endpoint by
endpoint, field by field, with values that follow the running topology; its errors; and a UI that stays up and
follows the leader when nimbus goes away."""

import json
import socket
import subprocess

from conftest import Cluster, free_port, storm_bin, upload, wait_until
from stormclient import JavaComponent, TopologyBuilder
from test_workers import WORKER_CONF, worker_ports
from uicluster import UI, running  # noqa: F401 (a fixture)

# Every field Storm's document lists for each answer (the resource fields included).
CLUSTER_FIELDS = {"stormVersion", "supervisors", "topologies", "slotsTotal", "slotsUsed", "slotsFree", "executorsTotal",
                  "tasksTotal", "schedulerDisplayResource", "totalMem", "totalCpu", "availMem", "availCpu",
                  "memAssignedPercentUtil", "cpuAssignedPercentUtil"}
SUPERVISOR_FIELDS = {"id", "host", "uptime", "uptimeSeconds", "slotsTotal", "slotsUsed", "totalMem", "totalCpu",
                     "usedMem", "usedCpu"}
NIMBUS_FIELDS = {"host", "port", "status", "nimbusUpTime", "nimbusUpTimeSeconds", "nimbusLogLink", "version"}
WORKER_FIELDS = {"supervisorId", "host", "port", "topologyId", "topologyName", "executorsTotal", "assignedMemOnHeap",
                 "assignedMemOffHeap", "assignedCpu", "componentNumTasks", "uptime", "uptimeSeconds", "workerLogLink"}
OWNER_FIELDS = {"owner", "totalTopologies", "totalExecutors", "totalWorkers", "totalTasks", "totalMemoryUsage",
                "totalCpuUsage", "memoryGuarantee", "cpuGuarantee", "isolatedNodes", "memoryGuaranteeRemaining",
                "cpuGuaranteeRemaining", "totalReqOnHeapMem", "totalReqOffHeapMem", "totalReqMem", "totalReqCpu",
                "totalAssignedOnHeapMem", "totalAssignedOffHeapMem"}
TOPOLOGY_SUMMARY_FIELDS = {"id", "name", "status", "uptime", "uptimeSeconds", "tasksTotal", "workersTotal",
                           "executorsTotal", "replicationCount", "requestedMemOnHeap", "requestedMemOffHeap",
                           "requestedTotalMem", "requestedCpu", "assignedMemOnHeap", "assignedMemOffHeap",
                           "assignedTotalMem", "assignedCpu"}
TOPOLOGY_FIELDS = {"id", "name", "uptime", "uptimeSeconds", "status", "tasksTotal", "workersTotal", "executorsTotal",
                   "msgTimeout", "windowHint", "schedulerDisplayResource", "replicationCount", "debug", "samplingPct",
                   "assignedMemOnHeap", "assignedMemOffHeap", "assignedTotalMem", "assignedCpu", "requestedMemOnHeap",
                   "requestedMemOffHeap", "requestedCpu", "topologyStats", "workers", "spouts", "bolts",
                   "configuration", "window"}
TOPOLOGY_STATS_FIELDS = {"windowPretty", "window", "emitted", "transferred", "completeLatency", "acked", "failed"}
ERROR_FIELDS = {"lastError", "errorHost", "errorPort", "errorTime", "errorLapsedSecs", "errorWorkerLogLink"}
SPOUT_FIELDS = {"spoutId", "executors", "emitted", "completeLatency", "transferred", "tasks", "acked", "failed",
                "requestedMemOnHeap", "requestedMemOffHeap", "requestedCpu"} | ERROR_FIELDS
BOLT_FIELDS = {"boltId", "capacity", "processLatency", "executeLatency", "executors", "tasks", "acked", "failed",
               "emitted", "executed", "requestedMemOnHeap", "requestedMemOffHeap", "requestedCpu"} | ERROR_FIELDS
COMPONENT_FIELDS = {"user", "id", "encodedId", "name", "executors", "tasks", "requestedMemOnHeap",
                    "requestedMemOffHeap", "requestedCpu", "schedulerDisplayResource", "topologyId", "topologyStatus",
                    "encodedTopologyId", "window", "componentType", "windowHint", "debug", "samplingPct",
                    "eventLogLink", "profilingAndDebuggingCapable", "profileActionEnabled", "profilerActive",
                    "componentErrors", "outputStats", "executorStats"}
EXECUTOR_FIELDS = {"id", "uptime", "uptimeSeconds", "host", "port", "emitted", "transferred", "acked", "failed",
                   "workerLogLink"}


def executed(ui, topology_id, bolt, window="600"):
    return next(b["executed"] for b in ui.get(f"/api/v1/topology/{topology_id}?window={window}")["bolts"]
                if b["boltId"] == bolt)


def test_cluster_nimbus_supervisor_and_topology_summaries(running):
    cluster, client, ui, topology_id, dead_seed = running
    summary = ui.get("/api/v1/cluster/summary")
    assert CLUSTER_FIELDS <= set(summary), CLUSTER_FIELDS - set(summary)
    assert (summary["supervisors"], summary["topologies"]) == (1, 1)
    assert (summary["slotsTotal"], summary["slotsUsed"], summary["slotsFree"]) == (2, 1, 1)
    info = client.getTopologyInfo(topology_id)
    assert summary["executorsTotal"] == len(info.executors)
    assert summary["stormVersion"] == client.getLeader().version

    nimbuses = ui.get("/api/v1/nimbus/summary")["nimbuses"]
    assert all(NIMBUS_FIELDS <= set(n) for n in nimbuses), nimbuses
    by_port = {int(n["port"]): n for n in nimbuses}
    assert by_port[cluster.nimbus_ports[0]]["status"] == "Leader"
    assert by_port[dead_seed]["status"] == "Offline"
    status, text = ui.request("GET", "/metrics")
    assert status == 200 and 'process_open_fds{daemon="ui",host="' in text

    supervisors = ui.get("/api/v1/supervisor/summary")["supervisors"]
    assert len(supervisors) == 1 and SUPERVISOR_FIELDS <= set(supervisors[0]), supervisors
    expected = client.getClusterInfo().supervisors[0]
    assert supervisors[0]["id"] == expected.supervisor_id
    assert (supervisors[0]["host"], supervisors[0]["slotsTotal"], supervisors[0]["slotsUsed"]) == ("127.0.0.1", 2, 1)

    topologies = ui.get("/api/v1/topology/summary")["topologies"]
    assert len(topologies) == 1 and TOPOLOGY_SUMMARY_FIELDS <= set(topologies[0]), topologies
    t = topologies[0]
    assert (t["id"], t["name"], t["status"], t["workersTotal"]) == (topology_id, "saturated", "ACTIVE", 1)
    assert t["executorsTotal"] == len(info.executors) and t["replicationCount"] == 1

    # The cluster's configuration is nimbus' own.
    assert ui.get("/api/v1/cluster/configuration")["nimbus.thrift.port"] == cluster.nimbus_ports[0]


def test_supervisor_workers_owners_and_history(running):
    cluster, client, ui, topology_id, _ = running
    supervisor_id = client.getClusterInfo().supervisors[0].supervisor_id
    (worker_port,) = worker_ports(topology_id)
    for query in (f"id={supervisor_id}", "host=127.0.0.1"):
        page = ui.get(f"/api/v1/supervisor?{query}")
        assert [s["id"] for s in page["supervisors"]] == [supervisor_id]
        assert len(page["workers"]) == 1 and WORKER_FIELDS <= set(page["workers"][0]), page["workers"]
        worker = page["workers"][0]
        assert (worker["topologyId"], worker["topologyName"], worker["port"]) == (topology_id, "saturated", worker_port)
        assert worker["componentNumTasks"] == {"sentences": 1, "split": 2, "slow": 1}
        assert f"{topology_id}%2F{worker_port}%2Fworker.log" in worker["workerLogLink"]

    assert ui.get(f"/api/v1/topology-workers/{topology_id}")["hostPortList"] == [
        {"host": "127.0.0.1", "port": worker_port}]

    owners = ui.get("/api/v1/owner-resources")["owners"]
    assert len(owners) == 1 and OWNER_FIELDS <= set(owners[0]), owners
    owner = owners[0]
    assert (owner["totalTopologies"], owner["totalWorkers"]) == (1, 1)
    assert ui.get(f"/api/v1/owner-resources/{owner['owner']}")["owners"][0]["totalTopologies"] == 1

    assert topology_id in ui.get("/api/v1/history/summary")["topo-history"]


def test_topology_page_counts_grow_and_the_slow_bolt_shows_its_latency_and_capacity(running):
    _, client, ui, topology_id, _ = running
    # Windowed stats reach nimbus with the workers' heartbeats: wait for a few seconds of work in the 10-minute
    # window.
    assert wait_until(lambda: executed(ui, topology_id, "slow") > 500, 60)
    page = ui.get(f"/api/v1/topology/{topology_id}?window=600")
    assert TOPOLOGY_FIELDS <= set(page), TOPOLOGY_FIELDS - set(page)
    assert (page["id"], page["name"], page["status"], page["window"], page["windowHint"]) == (
        topology_id, "saturated", "ACTIVE", "600", "10m 0s")
    assert (page["workersTotal"], page["msgTimeout"]) == (1, 60)
    assert page["configuration"]["topology.max.spout.pending"] == 50
    assert [s["window"] for s in page["topologyStats"]] == ["600", "10800", "86400", ":all-time"]
    assert all(TOPOLOGY_STATS_FIELDS <= set(s) for s in page["topologyStats"])
    assert len(page["workers"]) == 1 and WORKER_FIELDS <= set(page["workers"][0])

    (spout,) = page["spouts"]
    assert SPOUT_FIELDS <= set(spout), SPOUT_FIELDS - set(spout)
    assert spout["spoutId"] == "sentences" and spout["emitted"] > 0 and spout["acked"] > 0
    assert float(spout["completeLatency"]) > 1.0, spout
    bolts = {b["boltId"]: b for b in page["bolts"]}
    assert set(bolts) == {"split", "slow"}, "the acker shows only with sys=1"
    assert all(BOLT_FIELDS <= set(b) for b in bolts.values())
    slow = bolts["slow"]
    assert (slow["executors"], slow["tasks"]) == (1, 1)
    # 1 ms of sleep a tuple, give or take a loaded machine's scheduling.
    assert 0.8 <= float(slow["executeLatency"]) <= 20, slow
    assert float(slow["processLatency"]) >= float(slow["executeLatency"]) * 0.9, slow
    assert float(slow["capacity"]) > 0.6, slow
    assert bolts["split"]["transferred"] >= bolts["split"]["emitted"] > 0

    before = executed(ui, topology_id, "slow")
    assert wait_until(lambda: executed(ui, topology_id, "slow") > before, 20)

    with_sys = ui.get(f"/api/v1/topology/{topology_id}?window=600&sys=1")
    assert "__acker" in {b["boltId"] for b in with_sys["bolts"]}

    metrics = ui.get(f"/api/v1/topology/{topology_id}/metrics?window=600")
    assert metrics["window"] == "600"
    slow_metrics = next(b for b in metrics["bolts"] if b["id"] == "slow")
    (executed_split,) = slow_metrics["executed"]
    assert (executed_split["component_id"], executed_split["stream_id"]) == ("split", "default")
    assert executed_split["value"] > 0
    assert not any(s["stream_id"].startswith("__") for s in slow_metrics["emitted"])

    graph = ui.get(f"/api/v1/topology/{topology_id}/visualization?window=600")
    assert set(graph) == {"sentences", "split", "slow"}
    assert graph["slow"][":type"] == "bolt" and graph["sentences"][":type"] == "spout"
    (edge,) = graph["slow"][":inputs"]
    assert (edge[":component"], edge[":stream"], edge[":grouping"]) == ("split", "default", "shuffle")
    assert graph["slow"][":capacity"] > 0.6


def test_component_pages(running):
    _, _, ui, topology_id, _ = running
    assert wait_until(lambda: executed(ui, topology_id, "slow") > 100, 60)
    (worker_port,) = worker_ports(topology_id)
    slow = ui.get(f"/api/v1/topology/{topology_id}/component/slow?window=600")
    assert COMPONENT_FIELDS <= set(slow), COMPONENT_FIELDS - set(slow)
    assert (slow["id"], slow["componentType"], slow["topologyId"], slow["name"]) == (
        "slow", "bolt", topology_id, "saturated")
    assert (slow["executors"], slow["tasks"], slow["topologyStatus"]) == (1, 1, "ACTIVE")
    assert [w["window"] for w in slow["boltStats"]] == ["600", "10800", "86400", ":all-time"]
    (executor,) = slow["executorStats"]
    assert EXECUTOR_FIELDS <= set(executor), EXECUTOR_FIELDS - set(executor)
    assert (executor["host"], executor["port"]) == ("127.0.0.1", worker_port)
    assert executor["executed"] > 0 and float(executor["capacity"]) > 0.6
    # The component's capacity is its busiest executor's, in every window.
    assert {w["capacity"] for w in slow["boltStats"]} == {executor["capacity"]}
    (inputs,) = slow["inputStats"]
    assert (inputs["component"], inputs["stream"]) == ("split", "default") and inputs["executed"] > 0
    assert 0.8 <= float(inputs["executeLatency"]) <= 20

    spout = ui.get(f"/api/v1/topology/{topology_id}/component/sentences")
    assert spout["componentType"] == "spout" and spout["window"] == ":all-time"
    assert [w["window"] for w in spout["spoutSummary"]] == ["600", "10800", "86400", ":all-time"]
    default = next(o for o in spout["outputStats"] if o["stream"] == "default")
    assert default["emitted"] > 0 and default["acked"] > 0
    assert len(spout["executorStats"]) == 1


def test_actions_change_the_status_and_kill_waits(running):
    _, client, ui, topology_id, _ = running
    status = lambda: ui.get(f"/api/v1/topology/{topology_id}")["status"]  # noqa: E731
    answer = ui.post(f"/api/v1/topology/{topology_id}/deactivate")
    assert answer == {"topologyOperation": "deactivate", "topologyId": topology_id, "status": "success"}
    assert status() == "INACTIVE"
    ui.post(f"/api/v1/topology/{topology_id}/activate")
    assert status() == "ACTIVE"
    body = json.dumps({"rebalanceOptions": {"numWorkers": 2, "executors": {"split": "1"}}, "callback": "foo"})
    ui.post(f"/api/v1/topology/{topology_id}/rebalance/0", body)
    assert wait_until(lambda: status() == "ACTIVE" and len(worker_ports(topology_id)) == 2, 60)
    assert ui.get(f"/api/v1/topology/{topology_id}")["workersTotal"] == 2
    ui.post(f"/api/v1/topology/{topology_id}/kill/3")
    assert status() == "KILLED"
    assert wait_until(lambda: ui.request("GET", f"/api/v1/topology/{topology_id}")[0] == 404, 30)


def test_bad_input_is_answered_clearly(running):
    _, _, ui, topology_id, _ = running
    status, message = ui.error("GET", "/api/v1/topology/nope-1-1")
    assert status == 404 and "nope-1-1" in message
    status, message = ui.error("GET", f"/api/v1/topology/{topology_id}/component/nope")
    assert status == 404 and "nope" in message
    status, message = ui.error("GET", "/api/v1/supervisor?id=no-such-supervisor")
    assert status == 404 and "no-such-supervisor" in message
    assert ui.error("GET", "/api/v1/supervisor")[0] == 400
    status, message = ui.error("GET", f"/api/v1/topology/{topology_id}?window=7")
    assert status == 400 and "unknown window '7'" in message
    status, message = ui.error("GET", f"/api/v1/topology/{topology_id}?sys=maybe")
    assert status == 400 and "sys" in message
    status, message = ui.error("POST", f"/api/v1/topology/{topology_id}/kill/soon")
    assert status == 400 and "wait time 'soon'" in message
    assert ui.error("POST", f"/api/v1/topology/{topology_id}/rebalance/-1")[0] == 400
    status, message = ui.error("POST", f"/api/v1/topology/{topology_id}/rebalance/0", "{not json")
    assert status == 400 and "rebalance body" in message
    assert ui.error("POST", "/api/v1/topology/nope-1-1/deactivate")[0] == 404
    assert ui.error("GET", "/api/v1/no/such/endpoint")[0] == 404
    # None of it hurt the daemon or the topology.
    assert ui.get(f"/api/v1/topology/{topology_id}")["status"] == "ACTIVE"
    assert ui.process.poll() is None


def test_actions_can_be_disabled(running):
    cluster, _, _, topology_id, _ = running
    ui = UI(cluster, "-c", "ui.actions.enabled=false")
    try:
        status, message = ui.error("POST", f"/api/v1/topology/{topology_id}/kill/0")
        assert status == 403 and "ui.actions.enabled" in message
        assert ui.get(f"/api/v1/topology/{topology_id}")["status"] == "ACTIVE"
    finally:
        ui.stop()


def test_the_ui_stays_up_while_nimbus_is_down_and_follows_the_new_leader(zookeeper):
    cluster = Cluster(zookeeper, nimbuses=2, extra_conf=WORKER_CONF)
    ui = None
    try:
        cluster.add_supervisor("a", [free_port()])
        client = cluster.client()
        assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
        b = TopologyBuilder()
        b.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 1)
        client.submitTopology("ha", upload(client), json.dumps({"topology.workers": 1}), b.build())
        topology_id = client.getTopologySummaryByName("ha").id
        ui = UI(cluster)
        assert ui.get(f"/api/v1/topology/{topology_id}")["status"] == "ACTIVE"

        leader = cluster.leader_port()
        cluster.nimbuses[leader].kill9()
        other = next(p for p in cluster.nimbus_ports if p != leader)
        # The follower takes over; actions go to it once the UI has noticed.
        assert wait_until(lambda: cluster.leader_port() == other, 60)
        assert wait_until(
            lambda: ui.request("POST", f"/api/v1/topology/{topology_id}/deactivate")[0] == 200, 30), ui.log()
        assert ui.get(f"/api/v1/topology/{topology_id}")["status"] == "INACTIVE"

        # Every nimbus down: each API call says so with 503, the pages are still served.
        cluster.nimbuses[other].kill9()
        status, message = ui.error("GET", "/api/v1/cluster/summary")
        assert status == 503 and "nimbus" in message
        assert ui.request("GET", "/")[0] == 200
        # A nimbus back: the UI answers again without a restart.
        cluster.nimbuses[leader].start()
        assert wait_until(lambda: ui.request("GET", "/api/v1/cluster/summary")[0] == 200, 60), ui.log()
        assert ui.process.poll() is None
    finally:
        if ui:
            ui.stop()
        cluster.stop()


def test_a_ui_that_cannot_start_says_why_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([storm_bin(), "ui", "-c", "ui.host=127.0.0.1", "-c", f"ui.port={port}"],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip() == \
        f"storm: ui cannot listen on ui.port {port}: Address already in use", result.stderr
    result = subprocess.run([storm_bin(), "ui", "-c", "ui.port=eighty"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip() == \
        'storm: config key \'ui.port\' must be an integer, not "eighty"', result.stderr
