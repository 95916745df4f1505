"""The Java client (generated from idl/storm.thrift with Thrift's Java generator) against a real nimbus."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def java_classpath():
    for tool in ("javac", "java", "thrift"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed: run .ci/run or install default-jdk-headless and thrift-compiler")
    result = subprocess.run([os.path.join(REPO, "clients", "java", "build.sh")], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_java_example_lists_and_submits(nimbus, client, java_classpath):
    result = subprocess.run(["java", "-cp", java_classpath, "org.stormswift.example.ClusterExample", "127.0.0.1",
                             str(nimbus.port), "from-java"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"nimbus {client.getLeader().host}:{nimbus.port} leader=true version=2.8.0"
    assert "topologies 0" in lines
    summary = client.getTopologySummaryByName("from-java")
    assert f"submitted {summary.id}" in lines
    assert f"topology from-java ACTIVE executors=7 id={summary.id}" in lines
    assert lines[-4:] == ["info from-java ACTIVE errors=0", "conf topology.workers=true", "deactivated INACTIVE",
                          "activated ACTIVE"]
    assert client.getUserTopology(summary.id).bolts["split"].common.parallelism_hint == 3


def test_java_example_kills_with_a_wait(nimbus, client, java_classpath):
    result = subprocess.run(["java", "-cp", java_classpath, "org.stormswift.example.ClusterExample", "127.0.0.1",
                             str(nimbus.port), "short-lived", "--kill"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2] == "killing KILLED"
    assert lines[-1].startswith("gone: NotAliveException ")
    assert client.getTopologySummaries() == []


def test_java_sees_declared_exceptions(nimbus, client, java_classpath):
    # Submitting the same name twice: the second run fails with AlreadyAliveException.
    args = ["java", "-cp", java_classpath, "org.stormswift.example.ClusterExample", "127.0.0.1", str(nimbus.port), "twice"]
    assert subprocess.run(args, capture_output=True, timeout=120).returncode == 0
    second = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert second.returncode != 0
    assert "AlreadyAliveException(msg:topology 'twice' is already alive)" in second.stderr
