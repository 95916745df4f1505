"""Storm's Flux command lines: `storm jar ARCHIVE org.apache.storm.flux.Flux ...` with every Flux option in any
order, and Storm 2's `storm local ARCHIVE org.apache.storm.flux.Flux FILE --local-ttl SECS`."""

import os
import re
import subprocess
import textwrap
import time
import zipfile

import pytest

from conftest import storm_bin
from test_multilang import SPLIT

FLUX = "org.apache.storm.flux.Flux"

TOPOLOGY = """
    name: "${name}"
    config:
      topology.workers: 1
    spouts:
      - id: "sentences"
        className: "storm.swift.SentenceSpout"
        constructorArgs: [50]
    bolts:
      - id: "split"
        className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
        constructorArgs: [["python3", "split.py"], ["word"]]
        parallelism: 2
      - id: "count"
        className: "org.apache.storm.testing.TestWordCounter"
    streams:
      - {from: "sentences", to: "split", grouping: {type: SHUFFLE}}
      - {from: "split", to: "count", grouping: {type: FIELDS, args: ["word"]}}
"""

DETAILS = [
    "---------- TOPOLOGY DETAILS ----------",
    "Topology Name: multilang",
    "--------------- SPOUTS ---------------",
    "sentences [1] (storm.swift.SentenceSpout)",
    "---------------- BOLTS ---------------",
    "split [2] (org.apache.storm.flux.wrappers.bolts.FluxShellBolt)",
    "count [1] (org.apache.storm.testing.TestWordCounter)",
    "--------------- STREAMS ---------------",
    "sentences --SHUFFLE--> split",
    "split --FIELDS--> count",
    "--------------- WORKER HOOKS ---------------",
    "--------------------------------------",
]


@pytest.fixture
def project(tmp_path):
    """A topology archive (split.py under resources/, the Flux file and a properties file at its root, as a
    Maven-built jar holds them) and the same Flux file and properties on disk; nothing else on disk."""
    yaml = textwrap.dedent(TOPOLOGY)
    archive = tmp_path / "topology.jar"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("resources/split.py", textwrap.dedent(SPLIT))
        z.writestr("multilang.yaml", yaml)
        z.writestr("dev.properties", "name=multilang\n")
    (tmp_path / "multilang.yaml").write_text(yaml)
    (tmp_path / "dev.properties").write_text("name=multilang\n")
    return tmp_path


def storm(cwd, *args, timeout=60):
    started = time.time()
    result = subprocess.run([storm_bin(), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    result.seconds = time.time() - started
    return result


def totals(stdout):
    final = [line for line in stdout.splitlines() if line.startswith("stopped after")][-1]
    return dict(part.rsplit(" ", 1) for part in final.split(": ", 1)[1].split(", "))


def one_line_error(result, fragment):
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("storm: ") and fragment in lines[0], lines[0]


@pytest.mark.parametrize("order", [
    ["--local", "multilang.yaml", "-s", "2500", "--filter", "dev.properties"],
    ["-s", "2500", "-f", "dev.properties", "-l", "multilang.yaml"],
    ["multilang.yaml", "--filter=dev.properties", "--sleep=2500", "-local", "-n", "-e", "-z", "localhost:2181"],
])
def test_jar_local_with_sleep_runs_here_for_that_long_in_any_order(project, order):
    result = storm(project, "jar", "topology.jar", FLUX, *order)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == f"Parsing file: {project / 'multilang.yaml'}"
    assert lines[1:13] == DETAILS
    assert re.match(r"running multilang-\d+-\d+ in this process for 2\.5 s$", lines[13]), lines[13]
    seconds = float(re.search(r"stopped after ([\d.]+) s", result.stdout).group(1))
    assert 2.5 <= seconds < 4, result.stdout
    assert result.seconds < 20
    # The shell bolt ran from the archive's resources/: nothing beside the file has split.py.
    assert totals(result.stdout)["split executed"] == "50", result.stdout


def test_dry_run_prints_the_topology_and_neither_runs_nor_submits_it(project):
    # No nimbus is reachable at this port: a dry run must not try.
    dead = ["-c", 'nimbus.seeds=["127.0.0.1:1"]']
    result = storm(project, "jar", "topology.jar", FLUX, "--dry-run", "--filter", "dev.properties", "multilang.yaml", *dead)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"Parsing file: {project / 'multilang.yaml'}", *DETAILS,
                                          "Dry run: topology multilang is valid; not run or submitted"]
    quiet = storm(project, "jar", "topology.jar", FLUX, "-d", "-q", "-f", "dev.properties", "multilang.yaml", *dead)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.splitlines() == [f"Parsing file: {project / 'multilang.yaml'}",
                                         "Dry run: topology multilang is valid; not run or submitted"]
    # A dry run checks: a bad file is a one-line error naming the file and line.
    bad = project / "bad.yaml"
    bad.write_text(textwrap.dedent(TOPOLOGY).replace("type: FIELDS", "type: FIELD"))
    result = storm(project, "jar", "topology.jar", FLUX, "-d", "-f", "dev.properties", "bad.yaml", *dead)
    one_line_error(result, "bad.yaml:18: unknown grouping type 'FIELD'")


def test_storm_local_runs_an_archive_storm_2s_way_for_local_ttl(project):
    result = storm(project, "local", "topology.jar", FLUX, "multilang.yaml", "--local-ttl", "2", "-f", "dev.properties")
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^running multilang-\d+-\d+ in this process for 2\.0 s$", result.stdout, re.MULTILINE), result.stdout
    assert totals(result.stdout)["split executed"] == "50", result.stdout
    # --resource: the Flux file and its filter are read from the archive; -q leaves the details out.
    (project / "multilang.yaml").unlink()
    (project / "dev.properties").unlink()
    result = storm(project, "local", "--local-ttl", "2", "topology.jar", FLUX, "-R", "/multilang.yaml", "-q",
                   "--filter", "/dev.properties")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[0] == "Parsing classpath resource: /multilang.yaml"
    assert "TOPOLOGY DETAILS" not in result.stdout
    assert totals(result.stdout)["split executed"] == "50", result.stdout
    # Our own form is unchanged.
    (project / "plain.yaml").write_text(textwrap.dedent(TOPOLOGY).replace("${name}", "plain").replace(
        '[["python3", "split.py"], ["word"]]', "[]").replace("org.apache.storm.flux.wrappers.bolts.FluxShellBolt",
                                                               "org.apache.storm.perf.bolt.SplitSentenceBolt"))
    result = storm(project, "local", "plain.yaml", "--duration", "1")
    assert result.returncode == 0 and totals(result.stdout)["split executed"] == "50", result.stderr


def test_jar_submits_with_or_without_remote_and_inactive_with_i(project, nimbus, client):
    result = nimbus.cli("jar", str(project / "topology.jar"), FLUX, "-i", "--remote", "-f",
                        str(project / "dev.properties"), str(project / "multilang.yaml"))
    assert result.returncode == 0, result.stderr
    summary = client.getTopologySummaryByName("multilang")
    assert summary.status == "INACTIVE"
    assert result.stdout.splitlines()[-1] == (f"Submitted topology multilang as {summary.id} with the resources of "
                                              f"{project / 'topology.jar'} (inactive)")
    # Storm 2's storm jar submits without --remote; the file may be a resource of the archive.
    (project / "dev.properties").write_text("name=second\n")
    result = nimbus.cli("jar", str(project / "topology.jar"), FLUX, "--resource", "multilang.yaml", "-q",
                        "--filter", "dev.properties")
    # With --resource the filter is a resource too, as in Flux: the archive's names it multilang, which is taken.
    one_line_error(result, "topology 'multilang' is already alive")
    (project / "other.yaml").write_text(textwrap.dedent(TOPOLOGY).replace("${name}", "other"))
    result = nimbus.cli("jar", str(project / "topology.jar"), FLUX, str(project / "other.yaml"))
    assert result.returncode == 0, result.stderr
    assert client.getTopologySummaryByName("other").status == "ACTIVE"


def test_flux_command_line_mistakes_are_one_line(project):
    jar = ["jar", "topology.jar", FLUX]
    one_line_error(storm(project, *jar, "--bogus", "multilang.yaml"), "unknown Flux option '--bogus'")
    one_line_error(storm(project, *jar, "-l", "missing.yaml"), "missing.yaml: cannot read")
    one_line_error(storm(project, *jar, "-l"), "Flux needs the topology file")
    one_line_error(storm(project, *jar, "-l", "a.yaml", "b.yaml"), "Flux takes one topology file, not 'a.yaml', 'b.yaml'")
    one_line_error(storm(project, *jar, "multilang.yaml", "-s"), "Flux option '-s' needs a value: milliseconds")
    one_line_error(storm(project, *jar, "-l", "-s", "soon", "multilang.yaml"), "Flux's --sleep takes milliseconds, not 'soon'")
    one_line_error(storm(project, *jar, "-l", "-r", "multilang.yaml"), "--local and --remote ask for opposite things")
    one_line_error(storm(project, *jar, "-l", "-R", "/nope.yaml"), "topology.jar: no resource '/nope.yaml' in the archive")
    one_line_error(storm(project, "jar", "absent.jar", FLUX, "-l", "multilang.yaml"), "absent.jar: no such archive")
    one_line_error(storm(project, "jar", "topology.jar", "com.example.Main", "multilang.yaml"),
                   "archives run Flux topologies only")
    one_line_error(storm(project, "local", "topology.jar", FLUX, "multilang.yaml", "--local-ttl", "soon"),
                   "--local-ttl")
    one_line_error(storm(project, "local", "topology.jar"), "topology.jar needs a main class after it")
