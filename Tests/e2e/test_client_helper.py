"""clients/python's helper and builder against a real nimbus."""

import os

from stormclient import JavaComponent, Nimbus, ShellBolt, ShellSpout, TopologyBuilder, pack_resources

from conftest import wait_until


def test_builder_and_helper_submit_list_and_kill(nimbus, tmp_path):
    (tmp_path / "split.py").write_text("print('x')\n")
    builder = TopologyBuilder()
    builder.set_spout("words", JavaComponent("org.apache.storm.testing.TestWordSpout", ["word"]), 2)
    builder.set_bolt("split", ShellBolt(["python3", "split.py"], ["word"]), 3).shuffle_grouping("words")
    builder.set_bolt("count", ShellBolt(["python3", "count.py"], ["word", "count"]), 2).fields_grouping("split", ["word"])
    with Nimbus("127.0.0.1", nimbus.port) as client:
        topology_id = client.submit("helper", builder.build(), pack_resources(str(tmp_path)), {"topology.workers": 2})
        assert topology_id.startswith("helper-")
        [summary] = client.list()
        assert (summary.name, summary.status) == ("helper", "ACTIVE")
        assert client.conf("helper")["topology.workers"] == 2
        assert client.info("helper").status == "ACTIVE"
        client.deactivate("helper")
        assert client.info("helper").status == "INACTIVE"
        client.kill("helper", wait_secs=0)
        assert wait_until(lambda: client.list() == [])
    stored = os.path.join(nimbus.dir, "local", "nimbus", "stormdist")
    assert wait_until(lambda: os.listdir(stored) == [])


def test_python_client_installs_with_pip(tmp_path):
    import subprocess
    import sys

    from conftest import REPO
    target = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                             "--disable-pip-version-check", "--target", str(target),
                             os.path.join(REPO, "clients", "python")], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    check = subprocess.run([sys.executable, "-c", "import stormclient, storm_thrift.Nimbus as n; "
                            "print(stormclient.__file__); print(n.Client.__name__)"],
                           capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)})
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines() == [str(target / "stormclient" / "__init__.py"), "Client"]
