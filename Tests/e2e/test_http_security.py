"""The HTTP daemons of a secured cluster: the UI, the log viewer and DRPC's HTTP side over TLS with HTTP basic
logins (the users of the JAAS file's StormServer section) or a trusted proxy's header; the UI acting for its user
(nimbus.impersonation.acl), so nimbus authorizes what each user does through it; the log viewer showing each user
only the logs their topology's ACL allows. Clients are Python's urllib and http.client, Java's DIGEST-MD5 and
Debian's Chromium."""

import base64
import http.client
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import free_port, storm_bin, terminate, upload, wait_until
from test_java_client import java_classpath  # noqa: F401 (a fixture)
from test_security import DIGEST, PASSWORDS, Secured, recording_topology
from test_tls import make_certificates


class Daemon:
    """A `storm ui`, `storm logviewer` or `storm drpc` process with its log."""

    def __init__(self, folder, name, args):
        self.log_path = os.path.join(folder, f"{name}.log")
        self.process = subprocess.Popen([storm_bin(), *args], stdout=open(self.log_path, "w"),
                                        stderr=subprocess.STDOUT)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        terminate(self.process)


class HTTPS:
    """Requests to one HTTPS port, trusting the test's certificate, as a user (basic login) or as nobody."""

    def __init__(self, port, ca):
        self.port = port
        self.context = ssl.create_default_context(cafile=ca)

    def request(self, path, user=None, password=None, method="GET", headers=None):
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}", method=method,
                                     data=b"" if method == "POST" else None, headers=headers or {})
        if user:
            token = base64.b64encode(f"{user}:{password or PASSWORDS[user]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.context) as r:
                return r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), dict(e.headers)
        except OSError as e:
            return None, str(e), {}

    def listening(self):
        return self.request("/")[0] is not None


class HTTPCluster:
    def __init__(self):
        self.secured = Secured()
        folder = self.secured.dir
        # The servers' keystore is PKCS#12, what a Storm operator converts a JKS keystore to.
        path = make_certificates(folder)
        self.ca, self.p12 = path("ca.crt"), path("nimbus.p12")
        jaas = self.secured.jaas
        # alice's topology, with a secret in its conf.
        alice = self.secured.client("alice")
        conf = {"topology.workers": 1, "db.password": "s3cret"}
        alice.submitTopology("alices", upload(alice), json.dumps(conf),
                             recording_topology(os.path.join(folder, "alices-sink")))
        self.topology_id = alice.getTopologySummaryByName("alices").id
        alice.transport.close()
        self.logviewer_port = free_port()
        cluster_conf = [*self.secured.cluster.conf, "-c", f"storm.thrift.transport={DIGEST}",
                        "-c", f"logviewer.https.port={self.logviewer_port}"]

        def ui_args(login, *extra):
            https, plain = free_port(), free_port()
            return https, plain, ["ui", *cluster_conf, "-c", f"ui.port={plain}", "-c", f"ui.https.port={https}",
                           "-c", f"ui.https.keystore.path={self.p12}", "-c", "ui.https.keystore.password=nimbus-pw",
                           "-c", "ui.http.authentication=basic", "-c", f"java.security.auth.login.config={jaas[login]}",
                           *extra]
        port, self.ui_plain_port, args = ui_args("ui")
        self.ui = Daemon(folder, "ui", args)
        self.ui_https = HTTPS(port, self.ca)
        # A UI whose own login, bob, may act for nobody.
        port, _, args = ui_args("bob")
        self.bobs_ui = Daemon(folder, "bobs-ui", args)
        self.bobs_ui_https = HTTPS(port, self.ca)
        log_dir = f"{self.secured.cluster.dir}/supervisor-a/logs"
        self.logviewer = Daemon(folder, "logviewer", [
            "logviewer", "-c", f"storm.log.dir={log_dir}", "-c", f"logviewer.port={free_port()}",
            "-c", f"logviewer.https.port={self.logviewer_port}", "-c", f"logviewer.https.keystore.path={self.p12}",
            "-c", "logviewer.https.keystore.password=nimbus-pw", "-c", "logviewer.http.authentication=basic",
            "-c", f"java.security.auth.login.config={jaas['admin']}", "-c", 'nimbus.admins=["admin"]'])
        self.logviewer_https = HTTPS(self.logviewer_port, self.ca)
        for https, daemon in [(self.ui_https, self.ui), (self.bobs_ui_https, self.bobs_ui),
                              (self.logviewer_https, self.logviewer)]:
            assert wait_until(https.listening, 30), daemon.log()

    def stop(self):
        for daemon in (self.ui, self.bobs_ui, self.logviewer):
            daemon.stop()
        self.secured.stop()


@pytest.fixture(scope="module")
def cluster():
    c = HTTPCluster()
    yield c
    c.stop()


def refused_plain_http(port):
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_the_ui_serves_https_to_logged_in_users_and_nimbus_authorizes_them(cluster):
    ui, topology = cluster.ui_https, f"/api/v1/topology/{cluster.topology_id}"
    status, _, headers = ui.request("/api/v1/cluster/summary")
    assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Basic realm=")
    assert ui.request("/api/v1/cluster/summary", "alice", "guess")[0] == 401
    assert wait_until(lambda: "refused an HTTP login as alice from 127.0.0.1: wrong user name or password"
                      in cluster.ui.log(), 10)
    # Plain HTTP is off once HTTPS is on (ui.disable.http.binding, as Storm's default).
    assert "ui serving HTTPS on port" in cluster.ui.log() and "HTTP on port" not in cluster.ui.log()
    refused_plain_http(cluster.ui_plain_port)

    status, text, _ = ui.request(topology, "alice")
    assert status == 200, text
    page = json.loads(text)
    assert page["name"] == "alices" and page["owner"] == "alice"
    # The owner sees her secret; an admin sees it masked; bob may not see the topology at all.
    assert page["configuration"]["db.password"] == "s3cret", page["configuration"]
    status, text, _ = ui.request(topology, "admin")
    assert status == 200 and "s3cret" not in text, text
    # Log links lead to the log viewers' HTTPS port.
    status, text, _ = ui.request("/api/v1/supervisor/summary", "alice")
    assert json.loads(text)["supervisors"][0]["logLink"].startswith(f"https://127.0.0.1:{cluster.logviewer_port}/")
    status, text, _ = ui.request(topology, "bob")
    assert status == 403, text
    assert "getTopologyPageInfo on topology alices is not authorized" in json.loads(text)["errorMessage"]

    # Actions are the user's own calls: bob's deactivate is refused (and nimbus says so), alice's goes through.
    status, text, _ = ui.request(f"{topology}/deactivate", "bob", method="POST")
    assert status == 403 and "deactivate on topology alices is not authorized" in text, text
    assert "denied deactivate on topology alices to bob" in cluster.secured.nimbus_log()
    # A page of another site cannot make alice's browser act for her; nor read her answers through JSONP.
    status, text, _ = ui.request(f"{topology}/deactivate", "alice", method="POST",
                                 headers={"Origin": "https://evil.example"})
    assert status == 403 and "another site" in text, text
    status, text, _ = ui.request(f"{topology}?callback=steal", "alice")
    assert status == 200 and not text.startswith("steal("), text[:100]
    status, text, _ = ui.request(f"{topology}/deactivate", "alice", method="POST",
                                 headers={"Origin": f"https://127.0.0.1:{ui.port}"})
    assert status == 200, text
    status, text, _ = ui.request(topology, "alice")
    assert json.loads(text)["status"] == "INACTIVE"
    assert ui.request(f"{topology}/activate", "alice", method="POST")[0] == 200


def test_a_ui_whose_login_may_not_act_for_users_is_refused_by_nimbus(cluster):
    status, text, _ = cluster.bobs_ui_https.request("/api/v1/cluster/summary", "alice")
    assert status == 403, text
    assert "user bob may not act for alice" in json.loads(text)["errorMessage"]
    assert wait_until(lambda: "user bob may not act for alice" in cluster.secured.nimbus_log(), 10)


def test_a_java_client_acts_for_a_user_only_as_the_acl_allows(cluster, java_classpath):  # noqa: F811
    def login(user, as_user):
        return subprocess.run(["java", f"-Djava.security.auth.login.config={cluster.secured.jaas[user]}",
                               "-cp", java_classpath, "org.stormswift.example.DigestLoginExample", "127.0.0.1",
                               str(cluster.secured.port), as_user],
                              capture_output=True, text=True, timeout=120)
    acting = login("ui", "alice")
    assert acting.returncode == 0, acting.stderr
    assert acting.stdout.splitlines()[0].startswith("logged in as ui for alice, leader")
    assert "topology alices owner alice conf readable" in acting.stdout
    as_bob = login("ui", "bob")
    assert "topology alices owner alice conf refused" in as_bob.stdout, as_bob.stdout + as_bob.stderr
    refused = login("bob", "alice")
    assert refused.returncode != 0
    assert "user bob may not act for alice" in refused.stderr, refused.stderr


def test_the_log_viewer_shows_each_user_only_the_logs_their_topology_allows(cluster):
    viewer, topology_id = cluster.logviewer_https, cluster.topology_id
    assert wait_until(lambda: any(f.endswith("/worker.log") for f in json.loads(
        viewer.request(f"/api/v1/listLogs?topoId={topology_id}", "admin")[1])), 60)
    listed = json.loads(viewer.request(f"/api/v1/listLogs?topoId={topology_id}", "alice")[1])
    log = next(f for f in listed if f.endswith("/worker.log"))
    assert viewer.request(f"/api/v1/log?file={log}", "alice")[0] == 200
    assert viewer.request(f"/api/v1/download?file={log}", "alice")[0] == 200
    assert json.loads(viewer.request(f"/api/v1/listLogs?topoId={topology_id}", "bob")[1]) == []
    for path in (f"/api/v1/log?file={log}", f"/api/v1/download?file={log}",
                 f"/api/v1/search?file={log}&search-string=worker"):
        status, text, _ = viewer.request(path, "bob")
        assert status == 403 and "User 'bob' is not authorized." in text, (path, status, text)
    assert viewer.request(f"/api/v1/log?file={log}")[0] == 401
    # The node's daemon logs are for the admins.
    assert viewer.request("/api/v1/daemonlog?file=supervisor.log", "alice")[0] == 403
    assert viewer.request("/api/v1/daemonlog?file=supervisor.log", "admin")[0] in (200, 404)


def test_a_trusted_proxy_names_the_user_and_no_one_else_may(cluster):
    port = free_port()
    ui = Daemon(cluster.secured.dir, "header-ui", [
        "ui", *cluster.secured.cluster.conf, "-c", f"storm.thrift.transport={DIGEST}", "-c", "ui.host=0.0.0.0",
        "-c", f"ui.port={port}", "-c", "ui.http.authentication=header", "-c", 'ui.http.trusted.proxies=["127.0.0.1"]',
        "-c", f"java.security.auth.login.config={cluster.secured.jaas['ui']}"])
    try:
        def get(user, source="127.0.0.1"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
            connection.request("GET", f"/api/v1/topology/{cluster.topology_id}",
                               headers={"X-Forwarded-User": user} if user else {})
            response = connection.getresponse()
            return response.status, response.read().decode()
        assert wait_until(lambda: _answers(get), 30), ui.log()
        status, text = get("alice")
        assert status == 200 and "s3cret" in text, text
        assert get("bob")[0] == 403
        assert get(None)[0] == 401
        # Anyone who reaches the port directly could send the header: only the proxy's address is believed.
        status, text = get("alice", source="127.0.0.2")
        assert status == 403 and "through the authenticating proxy" in text, text
    finally:
        ui.stop()


def _answers(get):
    try:
        return get("alice")[0] is not None
    except OSError:
        return False


def test_drpc_http_needs_a_login_over_tls(cluster):
    https = free_port()
    drpc = Daemon(cluster.secured.dir, "drpc", [
        "drpc", "-c", f"drpc.port={free_port()}", "-c", f"drpc.invocations.port={free_port()}",
        "-c", f"drpc.http.port={free_port()}", "-c", f"drpc.https.port={https}",
        "-c", f"drpc.https.keystore.path={cluster.p12}", "-c", "drpc.https.keystore.password=nimbus-pw",
        "-c", "drpc.http.authentication=basic", "-c", "drpc.request.timeout.secs=1",
        "-c", f"java.security.auth.login.config={cluster.secured.jaas['admin']}"])
    try:
        client = HTTPS(https, cluster.ca)
        assert wait_until(client.listening, 30), drpc.log()
        assert client.request("/drpc/words/hello")[0] == 401
        # Past the login, the request waits for a topology that never answers, and times out as Storm's does.
        status, text, _ = client.request("/drpc/words/hello", "alice")
        assert status == 504 and json.loads(text)["error"] == "SERVER_TIMEOUT", text
    finally:
        drpc.stop()


def test_a_browser_logs_in_and_reads_the_topology_page(cluster):
    selenium = pytest.importorskip("selenium", reason="selenium is not installed: run scripts/install-deps.sh --tests")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.path.exists(path):
            pytest.fail(f"{path} is missing: run scripts/install-deps.sh --tests")
    assert selenium
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--ignore-certificate-errors", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        # What a browser sends once its user has answered the login prompt.
        token = base64.b64encode(f"alice:{PASSWORDS['alice']}".encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}})
        driver.get(f"https://127.0.0.1:{cluster.ui_https.port}/topology.html?id={cluster.topology_id}")

        def shows_owner():
            return "alice" in driver.find_element(By.TAG_NAME, "body").text and \
                "alices" in driver.find_element(By.TAG_NAME, "body").text
        assert wait_until(shows_owner, 30), driver.find_element(By.TAG_NAME, "body").text[:2000]
        time.sleep(0.5)
        artifacts = os.environ.get("STORM_TEST_ARTIFACTS", os.path.join(os.path.dirname(__file__), "..", "..",
                                                                         ".build", "test-artifacts", "ui"))
        os.makedirs(artifacts, exist_ok=True)
        driver.save_screenshot(os.path.join(artifacts, "https-topology-as-alice.png"))
    finally:
        driver.quit()


def test_bad_http_security_settings_stop_the_daemon_in_one_line(cluster):
    for args, message in [
        (["ui", "-c", "ui.filter=org.apache.hadoop.security.authentication.server.AuthenticationFilter"],
         "a Java servlet filter, which this build cannot run"),
        (["ui", "-c", "ui.http.authentication=basic",
          "-c", f"java.security.auth.login.config={cluster.secured.jaas['admin']}"],
         "is basic, which sends passwords as they are: set ui.https.port"),
        (["logviewer", "-c", f"logviewer.port={free_port()}", "-c", f"logviewer.https.port={free_port()}",
          "-c", f"logviewer.https.keystore.path={cluster.p12}", "-c", "logviewer.https.keystore.password=wrong"],
         "is neither a PKCS#12 keystore this password opens nor PEM"),
    ]:
        run = subprocess.run([storm_bin(), *args], capture_output=True, text=True, timeout=60)
        assert run.returncode != 0
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], run.stderr
