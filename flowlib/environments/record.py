"""What a task records about the environment it ran in, read back as ``Task.environment``.

A built environment carries ``flowlib-environment.json`` (its key, python, platform, the
user's requirements and the exact version of every package). A task whose interpreter runs in
such an environment stores that record as a hidden artifact of the task, wherever the task
ran (in a container: the bundle's copy, ``flowlib.environments.remote``); a task in the
launching interpreter records nothing (``Task.environment`` is None).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

RECORD_FILE = "flowlib-environment.json"
RECORD_ARTIFACT = "_python_environment"


def current_environment_record() -> dict[str, Any] | None:
    # In a container the environment is a bundle on PYTHONPATH, named by the bootstrap.
    bundle_record = os.environ.get("FLOWLIB_ENVIRONMENT_RECORD")
    path = Path(bundle_record) if bundle_record else Path(sys.prefix) / RECORD_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
