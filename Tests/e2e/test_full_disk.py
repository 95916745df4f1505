"""Nimbus on a full disk: clear errors, and nothing already stored is lost. Needs root to mount a small tmpfs."""

import os
import subprocess
import tempfile

import pytest
from thrift.Thrift import TApplicationException

from conftest import NimbusProcess, shell_topology, ttypes, upload


@pytest.fixture
def small_disk():
    mount_point = tempfile.mkdtemp(prefix="nimbus-full-disk-")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount_point], capture_output=True,
                            text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a 1 MiB tmpfs to fill (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", mount_point])
        os.rmdir(mount_point)


def test_full_disk_refuses_cleanly_and_keeps_what_is_stored(small_disk):
    n = NimbusProcess([f"storm.local.dir={small_disk}/local"])
    try:
        client = n.client()
        client.submitTopology("first", upload(client, b"small archive"), "{}", shell_topology())
        first = client.getTopologySummaryByName("first").id

        # An upload larger than the disk: the chunk that does not fit is refused and the upload is discarded.
        location = client.beginFileUpload()
        with pytest.raises(TApplicationException) as e:
            for _ in range(8):
                client.uploadChunk(location, b"x" * 200_000)
        assert "No space left on device" in e.value.message or "space" in e.value.message.lower()
        assert not os.path.exists(location)

        # An archive that fits the inbox but not a second copy in stormdist: refused, nothing half-stored.
        big = upload(client, b"y" * 600_000)
        with pytest.raises(ttypes.InvalidTopologyException) as e:
            client.submitTopology("second", big, "{}", shell_topology())
        assert "nimbus could not store the topology" in e.value.msg
        stormdist = os.path.join(small_disk, "local", "nimbus", "stormdist")
        assert sorted(os.listdir(stormdist)) == [first]

        assert [t.name for t in client.getTopologySummaries()] == ["first"]
        assert client.getUserTopology(first) == shell_topology()
        client.deactivate("first")
        assert client.getTopologySummary(first).status == "INACTIVE"
    finally:
        assert n.stop() == 0
        n.log.close()
