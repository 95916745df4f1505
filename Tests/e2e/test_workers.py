"""Topologies running in worker processes: ZooKeeper, nimbus, two supervisors, their workers; tuples between
workers over TCP; workers and supervisors killed with kill -9."""

import glob
import json
import os
import re
import signal
import time

import pytest

from conftest import Cluster, free_port, ttypes, upload, wait_until
from stormclient import JavaComponent, TopologyBuilder

SENTENCES = [
    "the cow jumped over the moon", "an apple a day keeps the doctor away", "four score and seven years ago",
    "snow white and the seven dwarfs", "i am at two with nature",
]

# Short periods: workers heartbeat every second, nimbus and supervisors notice within seconds.
WORKER_TIMEOUT_SECS = 5
WORKER_CONF = [
    "-c", "worker.heartbeat.frequency.secs=1", "-c", "task.heartbeat.frequency.secs=1",
    "-c", f"supervisor.worker.timeout.secs={WORKER_TIMEOUT_SECS}", "-c", "supervisor.worker.start.timeout.secs=30",
    "-c", "supervisor.worker.shutdown.sleep.secs=1", "-c", "nimbus.task.launch.secs=60",
    "-c", "nimbus.task.timeout.secs=10",
]


@pytest.fixture
def workers_cluster(zookeeper):
    c = Cluster(zookeeper, nimbuses=1, extra_conf=WORKER_CONF)
    yield c
    c.stop()


def worker_processes(topology_id):
    """pid -> command line of every live `storm worker` process of a topology."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if b"worker" in args and topology_id.encode() in args:
            out[int(entry)] = [a.decode() for a in args]
    return out


def worker_ports(topology_id):
    """port -> pid of each worker of a topology."""
    return {int(args[args.index("--port") + 1]): pid for pid, args in worker_processes(topology_id).items()}


def worker_logs(cluster, topology_id):
    text = ""
    for path in glob.glob(f"{cluster.dir}/supervisor-*/logs/workers-artifacts/{topology_id}/*/worker.log"):
        with open(path, errors="replace") as f:
            text += f.read()
    return text


def two_supervisors(cluster, slots=2):
    ports_a = [free_port() for _ in range(slots)]
    ports_b = [free_port() for _ in range(slots)]
    return cluster.add_two_supervisors(ports_a, ports_b), ports_a, ports_b


def submit(client, name, topology, conf):
    client.submitTopology(name, upload(client), json.dumps(conf), topology)
    return client.getTopologySummaryByName(name).id


def start(client, name, topology, workers, flowing=None, more_than=10):
    """Submits a topology of `workers` workers and waits until they run (and, given a component, until it has
    processed more than `more_than` tuples); returns the topology id."""
    topology_id = submit(client, name, topology, {"topology.workers": workers})
    assert wait_until(lambda: len(worker_ports(topology_id)) == workers, 60)
    if flowing:
        assert wait_until(lambda: executed(client, name, flowing) > more_than, 30)
    return topology_id


def executed(client, name, component):
    """Tuples a component's executors have executed (bolts) or emitted (spouts), from worker heartbeats."""
    total = 0
    for e in client.getTopologyInfoByName(name).executors:
        if e.component_id != component or e.stats is None:
            continue
        if e.stats.specific.bolt is not None:
            total += sum(e.stats.specific.bolt.executed.get(":all-time", {}).values())
        else:
            total += sum(e.stats.emitted.get(":all-time", {}).values())
    return total


def word_topology(bolt="sink", spouts=1, bolts=2):
    """Storm's TestWordSpout (ten words a second per task) into a discarding sink or a fields-grouped counter."""
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), spouts)
    if bolt == "sink":
        builder.set_bolt("sink", JavaComponent("org.apache.storm.perf.bolt.DevNullBolt", []), bolts).shuffle_grouping("words")
    else:
        builder.set_bolt("count", JavaComponent("org.apache.storm.testing.TestWordCounter", ["word", "count"]), bolts) \
            .fields_grouping("words", ["word"])
    return builder.build()


def word_count_topology(limit, spouts=2, splits=4, counts=4, logs=2):
    """`limit` sentences from each spout task, split, counted, and each count logged."""
    builder = TopologyBuilder()
    builder.set_spout("sentences", JavaComponent("storm.swift.SentenceSpout", ["sentence"], args=[limit]), spouts)
    builder.set_bolt("split", JavaComponent("org.apache.storm.perf.bolt.SplitSentenceBolt", ["word"]), splits) \
        .shuffle_grouping("sentences")
    builder.set_bolt("count", JavaComponent("org.apache.storm.testing.TestWordCounter", ["word", "count"]), counts) \
        .fields_grouping("split", ["word"])
    builder.set_bolt("log", JavaComponent("org.apache.storm.flux.wrappers.bolts.LogInfoBolt", []), logs) \
        .shuffle_grouping("count")
    return builder.build()


def expected_counts(limit, spout_tasks):
    counts = {}
    for task in spout_tasks:
        for i in range(limit):
            for word in SENTENCES[(task + i) % 5].split():
                counts[word] = counts.get(word, 0) + 1
    return counts


def assert_counted_exactly(cluster, client, name, topology_id, limit):
    """Waits until the word count `name` has split, counted and logged every word of its `limit` sentences a spout
    task, then checks the last count each word's counter logged."""
    spout_tasks = [e.executor_info.task_start for e in client.getTopologyInfoByName(name).executors
                   if e.component_id == "sentences"]
    expected = expected_counts(limit, spout_tasks)
    total_words = sum(expected.values())

    def counts():
        return [executed(client, name, c) for c in ("sentences", "split", "count", "log")]
    # Heartbeats report each worker's counts within a second of each other.
    want = [len(spout_tasks) * limit, len(spout_tasks) * limit, total_words, total_words]
    assert wait_until(lambda: counts() == want, 60), (counts(), want, worker_logs(cluster, topology_id)[-3000:])
    final = {}
    for word, count in re.findall(r"component=log:\d+ (?:\[\w+\] )?\[(\w+), (\d+)\]", worker_logs(cluster, topology_id)):
        final[word] = max(final.get(word, 0), int(count))
    assert final == expected


def test_word_count_across_two_supervisors_and_four_workers_is_exact(workers_cluster):
    client, ports_a, ports_b = two_supervisors(workers_cluster)
    limit = 500
    topology_id = submit(client, "words", word_count_topology(limit), {"topology.workers": 4})
    assert wait_until(lambda: len(worker_ports(topology_id)) == 4, 60), workers_cluster.supervisors["a"].log_text()
    assert sorted(worker_ports(topology_id)) == sorted(ports_a + ports_b)

    # Every word reached one counter (fields grouping across workers), which counted it exactly.
    assert_counted_exactly(workers_cluster, client, "words", topology_id, limit)

    # The executors really were spread: every worker ran some and every supervisor ran two workers.
    info = client.getTopologyInfoByName("words")
    assert len({e.port for e in info.executors}) == 4


def test_worker_kill9_is_restarted_and_processing_resumes(workers_cluster):
    client, ports_a, ports_b = two_supervisors(workers_cluster, slots=1)
    topology = word_topology("count", spouts=1, bolts=2)
    topology_id = start(client, "restart", topology, 2, flowing="count")

    port, pid = sorted(worker_ports(topology_id).items())[0]
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: worker_ports(topology_id).get(port) not in (None, pid), 30), \
        workers_cluster.supervisors["a"].log_text()[-3000:]
    supervisor_logs = workers_cluster.supervisors["a"].log_text() + workers_cluster.supervisors["b"].log_text()
    assert f"(pid {pid}) ended with signal 9" in supervisor_logs

    # The new worker's counters start from zero; processing resumes across both workers.
    before = executed(client, "restart", "count")
    assert wait_until(lambda: executed(client, "restart", "count") > before + 10, 30)


def test_a_hung_worker_is_restarted_and_one_that_keeps_hanging_backs_off(workers_cluster):
    client, [port_a], _ = two_supervisors(workers_cluster, slots=1)
    topology_id = start(client, "hung", word_topology("count", spouts=1, bolts=2), 2, flowing="count")
    supervisor = workers_cluster.supervisors["a"]

    def hang(port):
        pid = worker_ports(topology_id)[port]
        os.kill(pid, signal.SIGSTOP)  # alive, but its heartbeats stop
        return pid

    for times in (1, 2):
        hung = hang(port_a)
        # Replaced after supervisor.worker.timeout.secs: the stopped process killed, a new one started.
        assert wait_until(lambda: worker_ports(topology_id).get(port_a) not in (None, hung), WORKER_TIMEOUT_SECS + 30)
        assert wait_until(lambda: not os.path.exists(f"/proc/{hung}") or open(f"/proc/{hung}/stat").read().split()[2] == "Z", 10)
        log = supervisor.log_text()
        assert "restarting worker" in log and "heartbeat is" in log
        # Hung within 30 s of its launch: it counts as failing, and the pause grows.
        assert f"the worker on port {port_a} failed {times} time(s) in a row" in log, log[-2000:]
        # The new worker's first heartbeats must be in before it is stopped again.
        assert wait_until(lambda: executed(client, "hung", "count") > 0, 30)
        time.sleep(2)
    before = executed(client, "hung", "count")
    assert wait_until(lambda: executed(client, "hung", "count") > before + 10, 30)


def test_deactivate_stops_emission_and_activate_resumes(workers_cluster):
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    topology = word_topology("sink", spouts=2, bolts=2)
    topology_id = start(client, "pause", topology, 2, flowing="sink", more_than=20)

    client.deactivate("pause")
    # Both spout tasks' workers say so; then the counts settle (heartbeats report every second)...
    assert wait_until(lambda: worker_logs(workers_cluster, topology_id).count("spouts deactivated") == 2, 30)

    def settled():
        first = executed(client, "pause", "words")
        time.sleep(2.5)
        return executed(client, "pause", "words") == first
    assert wait_until(settled, 60, interval=0)
    # ...and stay put: nothing is emitted while the topology is inactive.
    paused = executed(client, "pause", "words")
    time.sleep(3)
    assert executed(client, "pause", "words") == paused

    client.activate("pause")
    assert wait_until(lambda: executed(client, "pause", "words") > paused + 10, 30)


def test_rebalance_two_to_four_workers_keeps_running_and_unassigned_workers_stop(workers_cluster):
    client, ports_a, ports_b = two_supervisors(workers_cluster)
    topology = word_topology("count", spouts=2, bolts=4)
    topology_id = start(client, "grow", topology, 2, flowing="count")

    client.rebalance("grow", ttypes.RebalanceOptions(wait_secs=0, num_workers=4))
    assert wait_until(lambda: len(worker_ports(topology_id)) == 4, 60)
    assert wait_until(lambda: len({e.port for e in client.getTopologyInfoByName("grow").executors}) == 4, 30)
    before = executed(client, "grow", "count")
    assert wait_until(lambda: executed(client, "grow", "count") > before + 10, 30)

    # Back to one worker: the three workers whose slots are no longer assigned are stopped.
    client.rebalance("grow", ttypes.RebalanceOptions(wait_secs=0, num_workers=1))
    assert wait_until(lambda: len(worker_ports(topology_id)) == 1, 60), worker_ports(topology_id)
    logs = workers_cluster.supervisors["a"].log_text() + workers_cluster.supervisors["b"].log_text()
    assert "the port is no longer assigned" in logs
    before = executed(client, "grow", "count")
    assert wait_until(lambda: executed(client, "grow", "count") > before + 10, 30)


def test_supervisor_kill9_and_restart_adopts_its_workers(workers_cluster):
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    topology = word_topology("sink", spouts=1, bolts=2)
    topology_id = start(client, "adopt", topology, 2)
    workers = worker_ports(topology_id)

    supervisor = workers_cluster.supervisors["a"]
    supervisor.kill9()
    supervisor.start()
    assert wait_until(lambda: "adopted worker" in supervisor.log_text(), 30), supervisor.log_text()[-3000:]
    # The same processes, none restarted, none duplicated: watched past supervisor.worker.timeout.secs, so a
    # supervisor that adopted them but did not read their heartbeats would have restarted them by then.
    deadline = time.time() + WORKER_TIMEOUT_SECS + 3
    while time.time() < deadline:
        assert worker_ports(topology_id) == workers
        time.sleep(0.5)
    assert "restarting worker" not in supervisor.log_text().split("adopted worker", 1)[1]


def test_killed_topology_leaves_no_process_behind(workers_cluster):
    client, _, _ = two_supervisors(workers_cluster)
    topology = word_topology("sink", spouts=2, bolts=2)
    topology_id = start(client, "doomed", topology, 4)

    assert wait_until(lambda: worker_logs(workers_cluster, topology_id).count("spouts activated") == 4, 30)

    wait = 15
    killed = time.time()
    client.killTopologyWithOpts("doomed", ttypes.KillOptions(wait_secs=wait))
    # During the wait the workers live on with their spouts deactivated; after it, they are gone.
    assert wait_until(lambda: worker_logs(workers_cluster, topology_id).count("spouts deactivated") >= 4, wait - 2)
    assert len(worker_processes(topology_id)) == 4
    assert client.getTopologyInfo(topology_id).status == "KILLED"
    assert wait_until(lambda: not worker_processes(topology_id), wait + 30), worker_processes(topology_id)
    assert time.time() - killed >= wait, "the workers went before the kill's wait was over"
    assert wait_until(lambda: not client.getClusterInfo().topologies, 30)


def test_workers_keep_processing_while_zookeeper_is_down(workers_cluster, zookeeper):
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 1)
    builder.set_bolt("count", JavaComponent("org.apache.storm.testing.TestWordCounter", ["word", "count"]), 2) \
        .fields_grouping("words", ["word"])
    builder.set_bolt("log", JavaComponent("org.apache.storm.flux.wrappers.bolts.LogInfoBolt", []), 2) \
        .shuffle_grouping("count")
    topology_id = start(client, "steady", builder.build(), 2)

    def logged():
        return worker_logs(workers_cluster, topology_id).count("LogInfoBolt")
    assert wait_until(lambda: logged() > 10, 30)
    workers = worker_ports(topology_id)

    # Tuples flow between the two workers with the cluster state gone: they need it only to change course.
    zookeeper.stop()
    during = logged()
    assert wait_until(lambda: logged() > during + 20, 10)
    time.sleep(2)
    zookeeper.start()

    assert wait_until(lambda: executed(workers_cluster.client(), "steady", "count") > 0, 30)
    assert worker_ports(topology_id) == workers  # no worker restarted for the outage
    after = logged()
    assert wait_until(lambda: logged() > after + 10, 10)


def test_garbage_on_a_worker_port_closes_only_that_connection(workers_cluster):
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    topology_id = start(client, "sturdy", word_topology("count", spouts=1, bolts=2), 2, flowing="count")
    workers = worker_ports(topology_id)

    import socket
    for payload in [b"GET / HTTP/1.0\r\n\r\n", b"\x10\x00\x00\x00storm-swift/1 other-topology-1-1",
                    b"\xff\xff\xff\xff" * 4]:
        for port in workers:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(payload)
                s.settimeout(5)
                try:
                    assert s.recv(1) == b""  # the worker closes the connection
                except ConnectionResetError:
                    pass

    logs = worker_logs(workers_cluster, topology_id)
    assert "closed a transport connection" in logs
    assert worker_ports(topology_id) == workers
    before = executed(client, "sturdy", "count")
    assert wait_until(lambda: executed(client, "sturdy", "count") > before + 10, 30)


def test_backpressure_across_two_workers_keeps_both_flat(workers_cluster):
    """An unthrottled spout in one worker feeds a slow bolt (200 us a tuple) in the other: the spout slows to the
    bolt's pace, and neither worker's memory grows."""
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    b = TopologyBuilder()
    b.set_spout("sentences", JavaComponent("storm.swift.SentenceSpout", ["sentence"]), 1)
    b.set_bolt("slow", JavaComponent("storm.swift.testing.SlowBolt", ["value"], args=[200]), 1).shuffle_grouping("sentences")
    topology_id = submit(client, "pressure", b.build(), {"topology.workers": 2, "topology.acker.executors": 0})
    assert wait_until(lambda: len(worker_ports(topology_id)) == 2, 60)
    # The spout and the bolt are in different workers: every tuple crosses a socket.
    hosts = {e.component_id: e.port for e in client.getTopologyInfo(topology_id).executors}
    assert hosts["sentences"] != hosts["slow"]
    assert wait_until(lambda: executed(client, "pressure", "slow") > 1000, 30)

    def rss_mib():
        out = {}
        for port, pid in worker_ports(topology_id).items():
            with open(f"/proc/{pid}/status") as f:
                out[port] = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
        return out

    time.sleep(5)  # queues fill up to their bounds
    first, emitted_first, executed_first = rss_mib(), executed(client, "pressure", "sentences"), executed(client, "pressure", "slow")
    time.sleep(20)
    last, emitted_last, executed_last = rss_mib(), executed(client, "pressure", "sentences"), executed(client, "pressure", "slow")
    for port in first:
        assert last[port] - first[port] < 16, (first, last)
    # The spout emitted about what the bolt took (it alone could emit millions a second), and the bolt kept going.
    emitted, taken = emitted_last - emitted_first, executed_last - executed_first
    # At 200 us a tuple the bolt could take 100,000; a slow or busy machine's usleep overshoots several times over,
    # so only "it kept going" is asserted here. The flat RSS and the spout held to the bolt's pace are the point.
    assert taken > 2000, taken
    assert emitted < taken * 1.5 + 100_000, (emitted, taken)
    print(f"spout {emitted / 20:.0f}/s, slow bolt {taken / 20:.0f}/s; RSS {first} -> {last} MiB")


def test_a_chained_topology_runs_its_bolts_on_the_spouts_thread_and_counts_exactly(workers_cluster):
    """topology.executor.chaining in a real worker: a linear word count whose bolts are each fed by one thread
    runs them all on the spout's thread (the worker has no thread of theirs) and counts exactly as unchained."""
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    topology = word_count_topology(300, spouts=1, splits=2, counts=2, logs=1)
    topology_id = submit(client, "chained", topology, {"topology.workers": 1, "topology.executor.chaining": True})
    assert wait_until(lambda: len(worker_ports(topology_id)) == 1, 60), workers_cluster.supervisors["a"].log_text()
    assert_counted_exactly(workers_cluster, client, "chained", topology_id, 300)

    # The kernel's thread names (what top -H shows): the spout's and the acker's executors, none of the bolts'.
    pid = next(iter(worker_processes(topology_id)))
    names = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            names.add(f.read().strip())
    assert {"sentences-execu", "__acker-executo"} <= names, names
    assert not any(n.startswith(("split-", "count-", "log-")) for n in names), names


def test_a_worker_log_rolls_by_size_keeping_the_newest(workers_cluster):
    """worker.log.roll.size.mb 1 and worker.log.roll.files 2 on a topology that logs every tuple: worker.log rolls
    into worker.log.1 and .2 at about 1 MiB each, nothing older is kept, and the worker goes on logging."""
    client, _, _ = two_supervisors(workers_cluster, slots=1)
    builder = TopologyBuilder()
    builder.set_spout("sentences", JavaComponent("storm.swift.AckedSentenceSpout", ["sentence"], args=[3000]))
    builder.set_bolt("log", JavaComponent("org.apache.storm.flux.wrappers.bolts.LogInfoBolt", []), 1) \
        .shuffle_grouping("sentences")
    topology_id = submit(client, "chatty", builder.build(),
                         {"topology.workers": 1, "worker.log.roll.size.mb": 1, "worker.log.roll.files": 2})
    logs = f"{workers_cluster.dir}/supervisor-*/logs/workers-artifacts/{topology_id}/*/worker.log"
    assert wait_until(lambda: len(glob.glob(logs + ".2")) == 1, 90), glob.glob(logs + "*")
    rolled_once = os.path.getmtime(glob.glob(logs + ".2")[0])
    # Rolled again: .2 replaced by what was .1, and no third file.
    assert wait_until(lambda: os.path.getmtime(glob.glob(logs + ".2")[0]) > rolled_once, 60)
    files = sorted(os.path.basename(p) for p in glob.glob(logs + "*"))
    assert files == ["worker.log", "worker.log.1", "worker.log.2"], files
    for path in glob.glob(logs + ".*"):
        # Looked at every second: a little past the size at 3000 lines a second.
        assert 1_048_576 <= os.path.getsize(path) < 3 * 1_048_576, (path, os.path.getsize(path))
    with open(glob.glob(logs + ".1")[0], errors="replace") as f:
        assert "LogInfoBolt" in f.read()
    size = os.path.getsize(glob.glob(logs)[0])
    assert wait_until(lambda: os.path.getsize(glob.glob(logs)[0]) > size, 10)
