"""`storm local`: a topology in one process."""

import os
import signal
import subprocess
import time

from conftest import REPO, storm_bin

EXAMPLE = os.path.join(REPO, "examples", "wordcount.yaml")


def test_local_word_count_runs_and_reports(tmp_path):
    result = subprocess.run([storm_bin(), "local", EXAMPLE, "--duration", "3"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("running wordcount-1-")
    rates = [l for l in lines if l.strip().endswith("tuples/s")]
    assert len(rates) >= 2
    assert rates[-1].split()[1:3][0] == "sentences"
    final = lines[-1]
    assert final.startswith("stopped after")
    counts = dict(part.rsplit(" ", 1) for part in final.split(": ", 1)[1].split(", "))
    assert int(counts["sentences emitted"]) > 0
    # Every sentence was split before stopping, and every word counted: the run drains before it stops.
    assert int(counts["split executed"]) == int(counts["sentences emitted"])
    assert int(counts["count executed"]) > int(counts["split executed"])


def test_ctrl_c_stops_cleanly(tmp_path):
    process = subprocess.Popen([storm_bin(), "local", EXAMPLE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HOME": str(tmp_path)})
    # Running (its first second's line is out): the handler is in place.
    for line in process.stdout:
        if line.strip().startswith("1s "):
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out.splitlines()[-1].startswith("stopped after")


def test_a_bad_topology_conf_is_one_line(tmp_path):
    bad = tmp_path / "bad-conf.yaml"
    bad.write_text(open(EXAMPLE).read().replace("topology.workers: 1", "topology.workers: 0"))
    result = subprocess.run([storm_bin(), "local", str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip() == f"storm: {bad}: topology conf 'topology.workers' must be a positive integer, not 0"


def test_a_bad_topology_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(open(EXAMPLE).read().replace("org.apache.storm.perf.bolt.CountBolt", "com.acme.Counter"))
    result = subprocess.run([storm_bin(), "local", str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"storm: {bad}:") and "com.acme.Counter" in lines[0]


def test_a_program_with_its_own_components_runs_them(tmp_path):
    example = os.path.join(REPO, "examples", "uppercase.yaml")
    custom = os.path.join(os.path.dirname(storm_bin()), "storm-example-custom")
    assert os.path.exists(custom), "build it with `swift build` (scripts/test.sh does)"
    result = subprocess.run([custom, "local", example, "--duration", "2"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    final = result.stdout.splitlines()[-1]
    counts = dict(part.rsplit(" ", 1) for part in final.split(": ", 1)[1].split(", "))
    assert int(counts["upper executed"]) > 0
    assert int(counts["sink executed"]) == int(counts["upper executed"])
    # The stock storm does not have the class, and says so.
    plain = subprocess.run([storm_bin(), "local", example], capture_output=True, text=True, timeout=30)
    assert plain.returncode != 0
    assert "names class example.UppercaseBolt, which this cluster does not have" in plain.stderr


def test_a_missing_topology_file_is_one_line(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = subprocess.run([storm_bin(), "local", str(missing)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip().startswith(f"storm: {missing}: cannot read")
