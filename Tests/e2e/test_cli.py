"""The `storm` command line against a real nimbus."""

import os
import re
import subprocess
import time

from conftest import NimbusProcess, free_port, shell_topology, storm_bin, upload, wait_until


def run(*args, timeout=30, home=None):
    env = dict(os.environ)
    if home:
        env["HOME"] = home
    return subprocess.run([storm_bin(), *args], capture_output=True, text=True, timeout=timeout, env=env)


def one_line_error(result, fragment):
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("storm: ") and fragment in lines[0], lines[0]


def test_daemons_refuse_security_they_cannot_give(tmp_path):
    """Kerberos and authorizers other than SimpleACLAuthorizer are not offered: asked for, nimbus and drpc stop in
    one line rather than run open (docs/security.md; test_security.py covers what is offered)."""
    kerberos = "org.apache.storm.security.auth.kerberos.KerberosSaslTransportPlugin"
    deny = "org.apache.storm.security.auth.authorizer.DenyAuthorizer"
    digest = "org.apache.storm.security.auth.digest.DigestSaslTransportPlugin"
    cases = [
        (["storm.thrift.transport=" + kerberos], f"config key 'storm.thrift.transport' is \"{kerberos}\", which this build does not offer"),
        (["drpc.thrift.transport=" + kerberos], f"config key 'drpc.thrift.transport' is \"{kerberos}\", which this build does not offer"),
    ]
    for args in (["nimbus", "-c", "storm.cluster.state.store=memory"], ["drpc"]):
        for conf, fragment in cases:
            result = run(*args, *[x for item in conf for x in ("-c", item)], "-c", f"storm.local.dir={tmp_path}",
                         home=str(tmp_path))
            one_line_error(result, fragment)
            assert "refusing to go on rather than accept anyone" in result.stderr
    jaas = tmp_path / "storm.jaas"
    jaas.write_text('StormServer { M required user_a="pw"; };\n')
    result = run("nimbus", "-c", "storm.cluster.state.store=memory", "-c", f"storm.thrift.transport={digest}",
                 "-c", f"java.security.auth.login.config={jaas}", "-c", f"nimbus.authorizer={deny}",
                 "-c", f"storm.local.dir={tmp_path}", home=str(tmp_path))
    one_line_error(result, f"config key 'nimbus.authorizer' is \"{deny}\", which this build does not offer")


def test_a_metrics_port_out_of_range_is_one_line(tmp_path):
    result = run("nimbus", "-c", "storm.cluster.state.store=memory", "-c", "nimbus.metrics.port=70000",
                 "-c", f"storm.local.dir={tmp_path}", home=str(tmp_path))
    one_line_error(result, "config key 'nimbus.metrics.port' must be a port from 1 to 65535, or 0 to serve no metrics")


def test_list_shows_storms_columns(nimbus, client):
    result = nimbus.cli("list")
    assert result.returncode == 0 and result.stdout.strip() == "No topologies running."
    client.submitTopology("wordcount", upload(client), '{"topology.workers": 2}', shell_topology())
    lines = nimbus.cli("list").stdout.splitlines()
    assert lines[0].split() == ["Topology_name", "Status", "Num_tasks", "Num_workers", "Uptime_secs", "Topology_Id",
                                "Owner"]
    assert set(lines[1]) == {"-"}
    row = lines[2].split()
    assert row[0] == "wordcount" and row[1] == "ACTIVE" and row[2] == "8" and row[5].startswith("wordcount-1-")


def test_deactivate_activate_rebalance_and_kill(nimbus, client):
    client.submitTopology("t", upload(client), "{}", shell_topology())
    assert nimbus.cli("deactivate", "t").returncode == 0
    assert client.getTopologySummaryByName("t").status == "INACTIVE"
    assert nimbus.cli("activate", "t").returncode == 0
    assert client.getTopologySummaryByName("t").status == "ACTIVE"
    result = nimbus.cli("rebalance", "t", "-w", "1", "-n", "2", "-e", "split=2")
    assert result.returncode == 0, result.stderr
    assert client.getTopologySummaryByName("t").status == "REBALANCING"
    assert wait_until(lambda: client.getTopologySummaryByName("t").status == "ACTIVE")
    one_line_error(nimbus.cli("rebalance", "t", "-e", "split=0"), "must be greater than 0")
    one_line_error(nimbus.cli("rebalance", "t", "-e", "split"), "expected component=N")
    result = nimbus.cli("kill", "t", "-w", "1")
    assert result.returncode == 0 and "Killed topology: t" in result.stdout
    assert client.getTopologySummaryByName("t").status == "KILLED"
    assert wait_until(lambda: nimbus.cli("list").stdout.strip() == "No topologies running.")


def test_unknown_topology_is_one_line(nimbus):
    for command in (["kill", "ghost"], ["activate", "ghost"], ["deactivate", "ghost"], ["rebalance", "ghost"],
                    ["get-errors", "ghost"]):
        one_line_error(nimbus.cli(*command), "topology 'ghost' is not alive")


def test_get_errors_prints_json(nimbus, client):
    client.submitTopology("e", upload(client), "{}", shell_topology())
    result = nimbus.cli("get-errors", "e")
    assert result.returncode == 0
    assert result.stdout.strip() == '{"Comp-Errors":{},"Topology Name":"e"}'


def test_down_nimbus_is_reported_quickly(tmp_path):
    port = free_port()
    started = time.time()
    result = run("list", "-c", f"nimbus.seeds=[\"127.0.0.1:{port}\"]", home=str(tmp_path))
    assert time.time() - started < 5
    one_line_error(result, f"cannot reach nimbus at 127.0.0.1:{port}")


def test_config_file_and_options_precedence(nimbus, tmp_path):
    conf = tmp_path / "storm.yaml"
    conf.write_text(f'nimbus.seeds: ["127.0.0.1"]\nnimbus.thrift.port: {free_port()}\n')
    # storm.yaml names a dead port; -c wins over the file.
    one_line_error(run("list", "--config", str(conf), home=str(tmp_path)), "cannot reach nimbus")
    result = run("--config", str(conf), "-c", f"nimbus.thrift.port={nimbus.port}", "list", home=str(tmp_path))
    assert result.returncode == 0, result.stderr
    # ~/.storm/storm.yaml is read when there is no --config.
    (tmp_path / ".storm").mkdir()
    (tmp_path / ".storm" / "storm.yaml").write_text(f'nimbus.seeds: ["127.0.0.1:{nimbus.port}"]\n')
    assert run("list", home=str(tmp_path)).returncode == 0


def test_bad_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nimbus.seeds: [a, b\nnimbus.thrift.port: 1\n")
    one_line_error(run("list", "--config", str(bad), home=str(tmp_path)), f"bad YAML in {bad}: line")
    one_line_error(run("list", "--config", str(tmp_path / "missing.yaml"), home=str(tmp_path)), "cannot read config file")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("nimbus.thrift.port: six\n")
    one_line_error(run("list", "--config", str(wrong), home=str(tmp_path)), "config key 'nimbus.thrift.port' must be an integer")
    one_line_error(run("list", "-c", "nonsense", home=str(tmp_path)), "bad -c option 'nonsense'")


def test_nimbus_refuses_a_port_in_use_and_bad_store(nimbus, tmp_path):
    result = run("nimbus", "-c", f"nimbus.thrift.port={nimbus.port}", "-c", f"storm.local.dir={tmp_path}",
                 "-c", "storm.cluster.state.store=memory", "-c", "nimbus.metrics.port=0", home=str(tmp_path))
    assert result.returncode != 0
    assert f"storm: nimbus cannot serve: listening on :{nimbus.port}" in result.stderr
    result = run("nimbus", "-c", "storm.cluster.state.store=nosuch", "-c", f"storm.local.dir={tmp_path}",
                 home=str(tmp_path))
    one_line_error(result, "storm.cluster.state.store")


def test_nimbus_stops_gracefully_on_sigterm():
    n = NimbusProcess()
    assert n.stop() == 0
    assert "nimbus shutting down" in open(n.log_path).read()


def test_version_has_storms_shape_and_names_this_implementation():
    result = run("version")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # streamparse reads the local version with this pattern; the first match must be the release itself.
    assert re.findall(r"^Storm ([0-9.]+)", result.stdout, flags=re.MULTILINE) == ["2.8.0"]
    assert lines[0] == "Storm 2.8.0"
    assert [line.split()[0] for line in lines[1:5]] == ["URL", "Branch", "Compiled", "From"]
    assert lines[5].startswith("storm-swift ")


def test_dev_zookeeper_serves_and_stops(tmp_path):
    from conftest import four_letter_word
    port = free_port()
    process = subprocess.Popen([storm_bin(), "dev-zookeeper", "-c", f"storm.zookeeper.port={port}",
                                "-c", f"storm.local.dir={tmp_path}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: "Mode: standalone" in (four_letter_word(port) or ""), timeout=30)
        assert os.path.isdir(tmp_path / "dev-zookeeper")
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert four_letter_word(port) is None


def test_dev_zookeeper_without_java_says_what_to_install(tmp_path):
    result = subprocess.run([storm_bin(), "dev-zookeeper", "-c", f"storm.local.dir={tmp_path}"], capture_output=True,
                            text=True, timeout=30, env={**os.environ, "PATH": str(tmp_path)})
    one_line_error(result, "apt-get install zookeeper")


def test_supervisor_needs_a_shared_cluster_state(tmp_path):
    one_line_error(run("supervisor", "-c", "storm.cluster.state.store=memory", "-c", f"storm.local.dir={tmp_path}",
                       home=str(tmp_path)), "set storm.cluster.state.store to zookeeper")
