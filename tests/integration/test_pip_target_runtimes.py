"""Tags and marker environments computed from another runtime's probe equal what packaging says inside it."""

from __future__ import annotations

import glob
import json
import os
import subprocess
from pathlib import Path

import packaging
import pytest
from conftest import unavailable

from kiln.repos.local_runtime_repos import run_probe
from kiln.repos.pip_target import TargetRuntime

_INSIDE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from packaging import markers, tags
print(json.dumps({"tags": [str(t) for t in tags.sys_tags()], "env": dict(markers.default_environment())}))
"""


def _interpreter(pattern: str) -> str:
    found = sorted(glob.glob(os.path.expanduser(pattern)))
    if not found:
        unavailable(f"no interpreter matching {pattern} on this machine")
    return found[-1]


# packaging's own code needs Python 3.10 or later to run inside the runtime.
@pytest.mark.parametrize("pattern", ["~/.pyenv/versions/3.12*/bin/python3.12", "~/.pyenv/versions/3.10*/bin/python3.10",
                                     "/usr/bin/python3.11d"])
def test_tags_and_markers_of_another_runtime(pattern, tmp_path):
    path = _interpreter(pattern)
    probed = run_probe(path)
    assert probed.record is not None, probed.why
    target = TargetRuntime.from_record(probed.record)
    # Only packaging on the path inside: not kiln's whole environment.
    (tmp_path / "packaging").symlink_to(Path(packaging.__file__).parent)
    done = subprocess.run([path, "-I", "-c", _INSIDE, str(tmp_path)], capture_output=True, text=True, check=True)
    inside = json.loads(done.stdout)
    assert [str(t) for t in target.tags()] == inside["tags"]
    assert target.marker_environment() == {**inside["env"], "platform_release": "", "platform_version": ""}
