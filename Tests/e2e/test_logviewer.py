"""`storm logviewer` as a process serving a node's log folder with Storm's routes: worker logs paged, tailed,
searched, listed and downloaded, daemon logs too, and nothing outside the folder whatever the request says."""

import json
import re
import os
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import free_port, storm_bin, terminate, wait_until

LOG = "words-1-1/6700/worker.log"


@pytest.fixture(scope="module")
def viewer():
    base = tempfile.mkdtemp(prefix="logviewer-e2e-")
    logs = os.path.join(base, "logs")
    os.makedirs(os.path.join(logs, "workers-artifacts", "words-1-1", "6700"))
    with open(os.path.join(logs, "workers-artifacts", LOG), "w") as f:
        f.writelines(f"2026-12-01 line {i} of the worker\n" for i in range(10_000))
    with open(os.path.join(logs, "nimbus.log"), "w") as f:
        f.write("nimbus is the leader\n")
    with open(os.path.join(base, "secret.txt"), "w") as f:
        f.write("not for the web\n")
    port = free_port()
    process = subprocess.Popen([storm_bin(), "logviewer", "-c", f"storm.log.dir={logs}", "-c", f"logviewer.port={port}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert wait_until(lambda: status(f"http://127.0.0.1:{port}/api/v1/listLogs") == 200, 30)
    yield f"http://127.0.0.1:{port}", logs
    terminate(process)


def status(url):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def get(url):
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def q(**params):
    return urllib.parse.urlencode(params)


def test_pages_tails_lists_and_downloads_worker_and_daemon_logs(viewer):
    url, logs = viewer
    assert json.loads(get(f"{url}/api/v1/listLogs")[2]) == [LOG]
    assert json.loads(get(f"{url}/api/v1/listLogs?{q(topoId='words-1-1', port='6701')}")[2]) == []
    # The last page by default (51,200 bytes, Storm's), with links back.
    code, headers, page = get(f"{url}/api/v1/log?{q(file=LOG)}")
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    assert "line 9999 of the worker" in page and "line 0 of the worker" not in page
    assert ">Prev<" in page and ">First<" in page and ">Next<" not in page
    code, _, page = get(f"{url}/api/v1/log?{q(file=LOG, start=0, length=40)}")
    assert code == 200 and "line 0 of the worker\n2026-12-</pre>" in page and ">Next<" in page
    code, headers, body = get(f"{url}/api/v1/download?{q(file=LOG)}")
    assert code == 200 and headers["Content-Disposition"].endswith('-words-1-1-6700-worker.log"')
    with open(os.path.join(logs, "workers-artifacts", LOG)) as f:
        assert body == f.read()
    code, _, page = get(f"{url}/api/v1/daemonlog?{q(file='nimbus.log')}")
    assert code == 200 and "nimbus is the leader" in page
    # Its own metrics, for Prometheus.
    code, headers, text = get(f"{url}/metrics")
    assert code == 200 and headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert re.search(r'^process_resident_memory_bytes\{daemon="logviewer",host="[^"]+"\} \d+$', text, re.M), text


def test_search_answers_storms_shape(viewer):
    url, _ = viewer
    code, _, body = get(f"{url}/api/v1/search?{q(file=LOG, **{'search-string': 'line 777 ', 'num-matches': 1})}")
    found = json.loads(body)
    assert code == 200 and found["searchString"] == "line 777 " and found["isDaemon"] == "no"
    (match,) = found["matches"]
    assert match["matchString"] == "line 777 " and match["afterString"].startswith("of the worker\n")
    assert match["beforeString"].endswith("2026-12-01 ") and found["nextByteOffset"] == match["byteOffset"] + 9
    assert "/api/v1/log?file=words-1-1%2F6700%2Fworker.log&start=" in match["logviewerURL"]
    code, _, body = get(f"{url}/api/v1/search?{q(file=LOG, **{'search-string': 'of the worker', 'num-matches': 3, 'start-byte-offset': found['nextByteOffset']})}")
    assert [m["byteOffset"] >= found["nextByteOffset"] for m in json.loads(body)["matches"]] == [True] * 3


def test_nothing_outside_the_log_folder_is_served_and_bad_input_is_one_line(viewer):
    url, logs = viewer
    for name in ["../secret.txt", "../../secret.txt", "words-1-1/../../../secret.txt",
                 os.path.join(os.path.dirname(logs), "secret.txt"), "/etc/passwd", "words-1-1/6700"]:
        for route in ("log", "download"):
            code, _, body = get(f"{url}/api/v1/{route}?{q(file=name)}")
            assert code == 404 and "not for the web" not in body, (route, name)
        code, _, body = get(f"{url}/api/v1/search?{q(file=name, **{'search-string': 'web'})}")
        assert code == 404 and json.loads(body)["errorMessage"] == "The file was not found on this node."
    assert get(f"{url}/api/v1/daemonlog?{q(file='workers-artifacts/' + LOG)}")[0] == 404
    assert json.loads(get(f"{url}/api/v1/listLogs?{q(topoId='..')}")[2]) == []
    code, _, body = get(f"{url}/api/v1/log?{q(file=LOG, start='x')}")
    assert (code, body) == (400, "Could not make an integer out of the query parameter 'start'")
    code, _, body = get(f"{url}/api/v1/log?{q(file=LOG, start=10**9)}")
    assert (code, body) == (400, "Cannot start past the end of the file")
    code, _, body = get(f"{url}/api/v1/search?{q(file=LOG, **{'search-string': 'x' * 1025})}")
    assert code == 400 and "between 1 and 1024 UTF-8 bytes" in json.loads(body)["errorMessage"]
    for count in (0, -3):
        code, _, body = get(f"{url}/api/v1/search?{q(file=LOG, **{'search-string': 'line', 'num-matches': count})}")
        assert (code, json.loads(body)["errorMessage"]) == (400, "num-matches must be positive")


def test_a_taken_port_is_one_line(viewer):
    url, _ = viewer
    port = url.rsplit(":", 1)[1]
    out = subprocess.run([storm_bin(), "logviewer", "-c", f"logviewer.port={port}"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].startswith(f"storm: logviewer cannot listen on logviewer.port {port}:")
