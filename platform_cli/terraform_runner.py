"""A thin wrapper over python-terraform 0.10.1, with its known bugs worked around.

python-terraform builds the command lines (``generate_cmd_string``) and runs the short
commands (``cmd``); we add what it lacks: the environment Terraform needs, streaming of
``apply -json`` / ``destroy -json`` for a progress display, and errors turned into messages.

Bugs of python-terraform 0.10.1 with Terraform 1.x, and what we do instead:

* ``output("name")`` raises KeyError: we call ``output()`` (all outputs) and index ``[name]
  ["value"]``.
* ``destroy()`` passes ``-force``, which Terraform 1.x rejects: we build the destroy command
  with ``force=None`` and ``auto_approve=IsFlagged``.
* ``cmd(..., synchronous=False)`` pops ``synchronous`` only after building the command line,
  so Terraform receives ``-synchronous=false`` and fails: for streaming we build the command
  with ``generate_cmd_string`` and run it with our own ``subprocess.Popen``.
* ``apply()`` always adds ``-auto-approve=<bool>`` and ``-var-file`` for an empty ``var``
  dict; harmless, left as is.
* The Terraform ``-var`` dict is written as a temp var file placed *before* ``-var-file``
  options (so files would win): we put every value, ``environment`` and ``region`` included,
  in our own ``platform.tfvars.json``, passed last.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platform_cli.errors import ApplyFailedError, PlatformError
from platform_cli.state_backend import locked_error

PLAN_FILE = "platform.tfplan"


@contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """python-terraform copies ``os.environ`` for each call: give it ours for the call."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class PlanResult:
    changed: bool
    changes: list[dict[str, Any]]  # resource_changes without no-op/read
    drift: list[dict[str, Any]]  # resource_drift: changes made outside Terraform
    counts: dict[str, int] = field(default_factory=dict)
    output_changes: list[str] = field(default_factory=list)


@dataclass
class ApplyResult:
    done: list[str]
    failed: list[tuple[str, str]]  # (address, error summary)
    errors: list[str]
    elapsed: float
    summary: dict[str, int]


class TerraformRunner:
    """Runs Terraform in one environment's working copy."""

    def __init__(self, work_dir: Path, binary: str, env: dict[str, str]):
        from python_terraform import Terraform

        self.work_dir = work_dir
        self.binary = binary
        self.env = env
        self.tf = Terraform(working_dir=str(work_dir), terraform_bin_path=binary)

    # -- short commands (python-terraform runs them) ---------------------------------------
    def _cmd(self, name: str, *args: Any, **kwargs: Any) -> tuple[int, str, str]:
        with _environ(self.env):
            code, out, err = self.tf.cmd(name, *args, **kwargs)
        return code, out or "", err or ""

    def init(self, backend_config: dict[str, str]) -> None:
        from python_terraform import IsFlagged

        with _environ(self.env):
            code, out, err = self.tf.init(backend_config=backend_config, reconfigure=IsFlagged,
                                          input=False, no_color=IsFlagged)
        if code != 0:
            raise self._error("terraform init", out, err)

    def plan(self, var_files: list[str], destroy: bool = False) -> PlanResult:
        """``plan -detailed-exitcode -out``, then ``show -json`` of the plan for a report."""
        from python_terraform import IsFlagged, IsNotFlagged

        with _environ(self.env):
            code, out, err = self.tf.plan(
                var_file=var_files, out=PLAN_FILE, input=False, no_color=IsFlagged,
                detailed_exitcode=IsFlagged, destroy=IsFlagged if destroy else IsNotFlagged,
                lock_timeout="0s")
        if code not in (0, 2):
            raise self._error("terraform plan", out or "", err or "")
        return self.show_plan(PLAN_FILE)

    def show_plan(self, plan_file: str) -> PlanResult:
        from python_terraform import IsFlagged

        code, out, err = self._cmd("show", plan_file, json=IsFlagged, no_color=IsFlagged)
        if code != 0:
            raise self._error("terraform show", out, err)
        return summarise_plan(json.loads(out))

    def outputs(self) -> dict[str, Any]:
        """All outputs as ``name -> value`` (``output(name)`` is broken: see module doc)."""
        with _environ(self.env):
            raw = self.tf.output()
        if raw is None:
            raise PlatformError("terraform output failed: is the environment applied?")
        return {name: item.get("value") for name, item in raw.items()}

    def state_list(self) -> list[str]:
        code, out, err = self._cmd("state list")
        if code != 0 and "require a state file" in err + out:
            return []  # nothing was ever applied
        if code != 0:
            raise self._error("terraform state list", out, err)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def force_unlock(self, lock_id: str) -> None:
        from python_terraform import IsFlagged

        code, out, err = self._cmd("force-unlock", lock_id, force=IsFlagged)
        if code != 0:
            raise self._error("terraform force-unlock", out, err)

    # -- long commands, streamed -----------------------------------------------------------
    def apply(self, total: int, progress: Callable[[int, int, float, str], None],
              targets: list[str] | None = None, var_files: list[str] | None = None,
              plan_file: str | None = PLAN_FILE) -> ApplyResult:
        from python_terraform import IsFlagged

        args = [plan_file] if plan_file else []
        options: dict[str, Any] = {"json": IsFlagged, "input": False, "lock_timeout": "0s"}
        if not plan_file:
            options.update(auto_approve=IsFlagged, var_file=var_files or [],
                           target=targets or [])
        command = self.tf.generate_cmd_string("apply", *args, **options)
        return self._stream(command, total, progress, "terraform apply")

    def destroy(self, var_files: list[str], total: int,
                progress: Callable[[int, int, float, str], None]) -> ApplyResult:
        from python_terraform import IsFlagged

        # python-terraform's destroy() adds -force (rejected by Terraform 1.x).
        command = self.tf.generate_cmd_string(
            "destroy", force=None, auto_approve=IsFlagged, json=IsFlagged, input=False,
            var_file=var_files, lock_timeout="0s")
        return self._stream(command, total, progress, "terraform destroy")

    def _stream(self, command: list[str], total: int,
                progress: Callable[[int, int, float, str], None], what: str) -> ApplyResult:
        started = time.monotonic()
        done: list[str] = []
        failed: list[tuple[str, str]] = []
        errors: list[str] = []
        summary: dict[str, int] = {}
        lock_text = ""
        # stderr to a file: a full stderr pipe, unread while stdout streams, would block.
        err_file = tempfile.TemporaryFile(mode="w+")
        process = subprocess.Popen(command, cwd=self.work_dir, env=self.env, text=True,
                                   stdout=subprocess.PIPE, stderr=err_file)
        assert process.stdout is not None
        try:
            for line in process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                kind = event.get("type")
                hook = event.get("hook", {})
                address = hook.get("resource", {}).get("addr", "")
                if kind == "apply_complete":
                    if hook.get("action") == "read" or _is_data(address):
                        continue
                    if address not in done:
                        done.append(address)
                    verb = {"create": "created", "delete": "destroyed", "update": "updated",
                            "replace": "replaced"}.get(hook.get("action", ""), "done")
                    progress(len(done), total, time.monotonic() - started, f"{verb} {address}")
                elif kind == "apply_errored":
                    failed.append((address, ""))
                elif kind == "diagnostic" and event.get("@level") == "error":
                    diag = event.get("diagnostic", {})
                    text = f"{diag.get('summary', '')}: {diag.get('detail', '')}".strip(": ")
                    if "state lock" in text.lower():
                        lock_text = text
                    errors.append(text)
                    where = diag.get("address")
                    if where:
                        failed[:] = [(a, e) for a, e in failed if a != where] + [(where, text)]
                elif kind == "change_summary":
                    summary = event.get("changes", {})
        except KeyboardInterrupt:
            # Terraform got the same SIGINT: it stops gracefully, writes the state and releases
            # the lock. Wait for that rather than leave a lock behind.
            process.wait()
            raise ApplyFailedError(
                f"Interrupted: {what} stopped after {len(done)} change(s). The state keeps "
                "what was done.", hint="re-run the same command to continue") from None
        code = process.wait()
        err_file.seek(0)
        stderr = err_file.read()
        err_file.close()
        elapsed = time.monotonic() - started
        if lock_text or "Error acquiring the state lock" in stderr:
            raise locked_error(_lock_info(lock_text + "\n" + stderr), "the S3 backend")
        if code != 0 and not (failed or errors):
            raise self._error(what, "", stderr)
        if stderr.strip() and code != 0:
            errors.append(_first_error(stderr))
        return ApplyResult(done, failed, errors, elapsed, summary)

    # -- errors ----------------------------------------------------------------------------
    def _error(self, what: str, out: str, err: str) -> PlatformError:
        text = f"{err}\n{out}"
        if "Error acquiring the state lock" in text:
            return locked_error(_lock_info(text), "the S3 backend")
        return PlatformError(f"{what} failed: {_first_error(text)}",
                             hint=f"full output: run it by hand in {self.work_dir}")


def _is_data(address: str) -> bool:
    return address.startswith("data.") or ".data." in address


def _lock_info(text: str) -> dict[str, str]:
    info = {}
    for key in ("ID", "Path", "Operation", "Who", "Version", "Created", "Info"):
        match = re.search(rf"^\s*{key}:\s*(.*)$", text, re.M)
        if match:
            info[key] = match.group(1).strip()
    return info


def _first_error(text: str) -> str:
    """The first ``Error: ...`` of Terraform's output with its next lines, on one line."""
    lines = [re.sub(r"^[\s│╷╵]+", "", line).strip() for line in text.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith("Error:"):
            detail = " ".join(x for x in lines[index + 1:index + 6] if x and not
                              x.startswith(("with ", "on ", "Error:")))
            return f"{line[6:].strip()} {detail}".strip()
    tail = [x for x in lines if x]
    return " ".join(tail[-3:]) if tail else "no output"


def summarise_plan(plan: dict[str, Any]) -> PlanResult:
    changes = []
    counts = {"create": 0, "update": 0, "delete": 0, "replace": 0}
    for rc in plan.get("resource_changes", []):
        actions = rc.get("change", {}).get("actions", [])
        if actions in (["no-op"], ["read"]):
            continue
        action = ("replace" if sorted(actions) == ["create", "delete"] else actions[0])
        counts[action] = counts.get(action, 0) + 1
        changes.append({"address": rc["address"], "type": rc.get("type"), "action": action,
                        "attributes": _changed_attributes(rc.get("change", {}))})
    # Like Terraform's own "Objects have changed outside of Terraform" note: only drift that
    # contributes to a planned change (relevant_attributes), not read-back normalisation.
    relevant: dict[str, set[str]] = {}
    for item in plan.get("relevant_attributes", []):
        path = item.get("attribute") or []
        relevant.setdefault(item["resource"], set()).update(path[:1])
    changed_addresses = {c["address"] for c in changes}
    drift = []
    for rc in plan.get("resource_drift", []):
        address = rc["address"]
        if address not in relevant and address not in changed_addresses:
            continue
        actions = rc.get("change", {}).get("actions", [])
        attributes = _changed_attributes(rc.get("change", {}))
        if relevant.get(address):
            attributes = [a for a in attributes if a["name"] in relevant[address]]
        if not attributes and actions != ["delete"] and address not in changed_addresses:
            continue
        drift.append({"address": address, "type": rc.get("type"),
                      "action": "deleted" if actions == ["delete"] else "changed",
                      "attributes": attributes})
    outputs = [name for name, oc in (plan.get("output_changes") or {}).items()
               if oc.get("actions") not in (["no-op"], None)]
    return PlanResult(bool(changes), changes, drift, counts, outputs)


def _changed_attributes(change: dict[str, Any]) -> list[dict[str, Any]]:
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    found = []
    for key in sorted(set(before) | set(after)):
        if key in ("tags_all",):
            continue
        if before.get(key) != after.get(key) or (unknown.get(key) is True and key in before):
            found.append({"name": key, "before": before.get(key),
                          "after": "(known after apply)" if unknown.get(key) is True
                          else after.get(key)})
    return found
