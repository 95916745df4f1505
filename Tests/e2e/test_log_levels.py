"""Log levels changed while a topology runs: `storm set_log_level` (Storm's command) and nimbus' setLogConfig and
getLogConfig through Storm's own IDL; a level with a timeout reverts by itself."""

import json
import subprocess
import time

import pytest

from conftest import Cluster, free_port, storm_bin, ttypes, upload, wait_until
from stormclient import JavaComponent, ShellBolt, TopologyBuilder, pack_resources
from test_multilang import resources
from test_workers import WORKER_CONF, worker_logs

# A pystorm bolt that logs each tuple at debug level: invisible unless its logger is at DEBUG.
CHATTY = """
    from pystorm import Bolt

    class Chatty(Bolt):
        def process(self, tup):
            self.log("debug line for " + tup.values[0], level="debug")

    Chatty().run()
"""


@pytest.fixture
def levels_cluster(zookeeper):
    c = Cluster(zookeeper, nimbuses=1, extra_conf=[*WORKER_CONF, "-c", "worker.log.level.reset.poll.secs=1",
                                                   "-c", "task.refresh.poll.secs=2"])
    yield c
    c.stop()


def storm(cluster, *args):
    return subprocess.run([storm_bin(), *args, *cluster.conf], capture_output=True, text=True, timeout=60)


def debug_lines(cluster, topology_id):
    return worker_logs(cluster, topology_id).count("debug line for ")


def test_a_level_set_to_debug_for_five_seconds_reverts(levels_cluster):
    cluster = levels_cluster
    cluster.add_supervisor("a", [free_port()])
    client = cluster.client()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1, 30)
    builder = TopologyBuilder()
    builder.set_spout("sentences", JavaComponent("storm.swift.AckedSentenceSpout", ["sentence"], args=[20]))
    builder.set_bolt("chatty", ShellBolt(["python3", "chatty.py"], []), 1).shuffle_grouping("sentences")
    location = upload(client, pack_resources(resources(chatty=CHATTY)))
    client.submitTopology("chatty", location, json.dumps({"topology.workers": 1}), builder.build())
    topology_id = client.getTopologySummaryByName("chatty").id
    assert wait_until(lambda: "worker " in worker_logs(cluster, topology_id) and
                      client.getTopologyInfo(topology_id).executors, 60)
    time.sleep(3)
    assert debug_lines(cluster, topology_id) == 0

    result = storm(cluster, "set_log_level", "-l", "ROOT=DEBUG:5", "chatty")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Sent log config ROOT=DEBUG for 5 s for topology chatty"
    config = client.getLogConfig(topology_id).named_logger_level["ROOT"]
    assert (config.target_log_level, config.reset_log_level_timeout_secs) == ("DEBUG", 5)
    assert abs(config.reset_log_level_timeout_epoch - (time.time() + 5) * 1000) < 3000
    assert wait_until(lambda: debug_lines(cluster, topology_id) > 10, 15), worker_logs(cluster, topology_id)[-3000:]
    # Five seconds on, and a reset poll (every second here), the root logger is back at INFO.
    assert wait_until(lambda: "now as configured" in worker_logs(cluster, topology_id), 15)
    settled = debug_lines(cluster, topology_id)
    time.sleep(3)
    assert debug_lines(cluster, topology_id) == settled

    # Without a timeout it stays until cleared with -r.
    assert storm(cluster, "set_log_level", "-l", "ROOT=debug", "chatty").returncode == 0
    assert wait_until(lambda: debug_lines(cluster, topology_id) > settled + 10, 15)
    cleared = storm(cluster, "set_log_level", "-r", "ROOT", "chatty")
    assert cleared.stdout.strip() == "Sent log config ROOT reset for topology chatty", cleared.stderr
    assert client.getLogConfig(topology_id).named_logger_level == {}
    assert wait_until(lambda: worker_logs(cluster, topology_id).count("now as configured") == 2, 15)


def test_bad_levels_and_loggers_are_refused_in_one_line_and_nothing_stored(levels_cluster):
    cluster = levels_cluster
    client = cluster.client()
    client.submitTopology("quiet", upload(client), json.dumps({"topology.workers": 1}), _spout_only())
    topology_id = client.getTopologySummaryByName("quiet").id
    assert storm(cluster, "set_log_level", "-l", "com.example=WARN", "quiet").returncode == 0
    for args, message in [
        (["-l", "ROOT=LOUD"], "bad -l 'ROOT=LOUD': level 'LOUD' is not one of OFF, FATAL, ERROR, WARN, INFO, DEBUG, TRACE, ALL"),
        (["-l", "ROOT"], "bad -l 'ROOT': expected LOGGER=LEVEL[:TIMEOUT_SECONDS]"),
        (["-l", "ROOT=DEBUG:soon"], "bad -l 'ROOT=DEBUG:soon': the timeout must be a whole number of seconds"),
        (["-l", "=DEBUG"], "Named loggers need a valid name. Use ROOT for the root logger"),
        ([], "nothing to change"),
    ]:
        result = storm(cluster, "set_log_level", *args, "quiet")
        assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    missing = storm(cluster, "set_log_level", "-l", "ROOT=DEBUG", "nosuch")
    assert missing.returncode != 0 and "nosuch" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    # Through Storm's own IDL: a name where the id belongs, an unknown level, whitespace in a logger's name.
    with pytest.raises(Exception) as refused:
        client.setLogConfig("quiet", ttypes.LogConfig({"ROOT": ttypes.LogLevel(action=2, target_log_level="DEBUG")}))
    assert f"'quiet' names topology id '{topology_id}'" in str(refused.value)
    for name, level, message in [("ROOT", "VERBOSE", "logger 'ROOT': level 'VERBOSE' is not one of OFF"),
                                 ("my logger", "DEBUG", "logger name 'my logger' has whitespace")]:
        with pytest.raises(Exception) as refused:
            client.setLogConfig(topology_id, ttypes.LogConfig({name: ttypes.LogLevel(action=2, target_log_level=level)}))
        assert message in str(refused.value) and "\n" not in str(refused.value), str(refused.value)
    stored = client.getLogConfig(topology_id).named_logger_level
    assert list(stored) == ["com.example"] and stored["com.example"].target_log_level == "WARN"


def _spout_only():
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]))
    return builder.build()
