"""The Storm version every daemon reports parses as clients parse it: PEP 440 (streamparse) and semver."""

import json
import re

import pytest
from packaging.version import Version

from conftest import Cluster, shell_topology, upload, wait_until

# semver.org's regular expression for a version, with named groups.
SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")


def assert_release_version(text, where):
    version = Version(text)  # raises InvalidVersion for "2.8.0-swift"-like strings
    assert version == Version("2.8.0") and not version.is_prerelease and str(version) == text, (where, text)
    match = SEMVER.match(text)
    assert match, (where, text)
    assert match.group("prerelease") is None and match.group("buildmetadata") is None, (where, text)


@pytest.fixture
def one_node(zookeeper):
    c = Cluster(zookeeper, nimbuses=1)
    yield c
    c.stop()


def test_nimbus_supervisor_and_topology_versions_are_plain_releases(one_node):
    one_node.add_supervisor("a", [6720])
    client = one_node.client()
    assert wait_until(lambda: len(client.getClusterInfo().supervisors) == 1)
    client.submitTopology("versioned", upload(client), json.dumps({"topology.workers": 1}), shell_topology())

    info = client.getClusterInfo()
    assert info.nimbuses and info.supervisors and info.topologies
    for nimbus in info.nimbuses:
        assert_release_version(nimbus.version, f"nimbus {nimbus.host}:{nimbus.port}")
    assert_release_version(client.getLeader().version, "getLeader")
    for supervisor in info.supervisors:
        assert_release_version(supervisor.version, f"supervisor {supervisor.supervisor_id}")
    for summary in info.topologies:
        assert_release_version(summary.storm_version, f"topology summary {summary.id}")
    topology_id = client.getTopologySummaryByName("versioned").id
    assert_release_version(client.getTopologyInfo(topology_id).storm_version, "getTopologyInfo")
