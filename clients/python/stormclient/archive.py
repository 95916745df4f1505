"""Topology archives: a zip (Storm calls it a jar) whose resources/ folder becomes the working directory of the
topology's shell components."""

import io
import os
import zipfile


def pack_resources(folder=None):
    """Returns the bytes of an archive holding `folder`'s files under resources/ (an empty archive for None)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if folder:
            for root, _dirs, files in os.walk(folder):
                for name in sorted(files):
                    path = os.path.join(root, name)
                    relative = os.path.relpath(path, folder)
                    archive.write(path, "resources/" + relative.replace(os.sep, "/"))
    return buffer.getvalue()
