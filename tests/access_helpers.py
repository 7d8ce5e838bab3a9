"""Whether a user who is not root may write a file, asked in a way that holds when the tests
run as root too (there os.access says yes to every file, so it proves nothing)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NOBODY = 65534

# Opens the folder first (as root: the test's own folders may be root's only), then becomes
# `nobody` and opens the file in it: for reading first, so that a folder nobody may not enter
# fails the check loudly instead of passing it as "not writable".
_AS_NOBODY = f"""
import os, sys
folder = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})
os.close(os.open(sys.argv[2], os.O_RDONLY, dir_fd=folder))
try:
    os.close(os.open(sys.argv[2], os.O_WRONLY, dir_fd=folder))
except PermissionError:
    print("read-only")
else:
    print("writable")
"""


def writable_by_a_user(path: Path) -> bool:
    """os.access for a user; under root, the answer of a child process that is `nobody`."""
    if os.geteuid() != 0:
        return os.access(path, os.W_OK)
    r = subprocess.run([sys.executable, "-c", _AS_NOBODY, str(path.parent), path.name],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip() == "writable"
