"""Create, update and delete a deployment; start, resume and list its executions.

A deployment is a state machine, its job definitions and, with ``@schedule``, an EventBridge
Scheduler schedule. ``create`` writes a deployment record (S3, beside the artifacts:
``<prefix>/stepfunctions/<name>.json``) listing exactly what it made, which ``delete``
removes and nothing else. Runs are allocated in the metadata store by ``trigger``/``resume``
before the execution starts (so the pathspec is printed at once), or by the start task of a
scheduled execution.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from flowlib.current import current_user
from flowlib.exceptions import FlowlibError
from flowlib.flow_decorators import Schedule
from flowlib.graph import FlowGraph
from flowlib.metadata.records import RUNNING, RunRecord
from flowlib.remote.stepfunctions import entry
from flowlib.remote.stepfunctions.definition import Built
from flowlib.remote.stepfunctions.naming import Deployment
from flowlib.remote.stepfunctions.triggers import delete_rules, ensure_rules
from flowlib.stores import Stores
from flowlib.trigger_decorators import AnyTrigger

RECORD_VERSION = 1


class DeploymentError(FlowlibError):
    """The profile or the account cannot take this deployment; the message says what to fix."""


@dataclass
class Record:
    name: str
    flow: str
    state_machine_arn: str
    schedule: str | None = None
    job_definitions: list[str] = field(default_factory=list)
    default_parameters: str | None = None
    project: str | None = None
    branch: str | None = None
    rules: list[str] = field(default_factory=list)  # EventBridge rules (triggers)
    # The flow's parameters as recorded at create time (inputs.parameter_specs): the HTTP
    # endpoint checks request values against them without the flow file. None: recorded by
    # an older flowlib.
    parameters: list[dict[str, Any]] | None = None
    rule_buses: dict[str, str] = field(default_factory=dict)  # rule -> its bus

    def placed_rules(self, profile: Any) -> list[tuple[str, str]]:
        """(rule, bus) pairs. A record written before rule_buses does not say which bus: the
        profile's now, or ``default`` (where rules went before the profile named a bus)."""
        from flowlib.events import DEFAULT_BUS, event_bus

        placed = []
        for name in self.rules:
            known = self.rule_buses.get(name)
            buses = [known] if known else list(dict.fromkeys([event_bus(profile), DEFAULT_BUS]))
            placed += [(name, bus) for bus in buses]
        return placed

    def to_json(self) -> str:
        return json.dumps({"version": RECORD_VERSION, **self.__dict__}, sort_keys=True,
                          indent=2)


def require_aws(stores: Stores, need_schedule: bool) -> Any:
    profile = stores.profile
    if profile is None or profile["datastore"] != "s3" or profile["metadata"] != "dynamodb":
        raise DeploymentError(
            "step-functions needs an AWS profile (datastore s3, metadata dynamodb): select one "
            "with FLOWLIB_PROFILE, e.g. the environment 'platform init' created.")
    if not profile["sfn_role_arn"]:
        raise DeploymentError(
            "The profile has no sfn_role_arn (the Step Functions execution role): apply the "
            "Terraform stack with create_step_functions = true and refresh the profile "
            "('platform init'), or set FLOWLIB_SFN_ROLE_ARN.")
    if need_schedule and not profile["scheduler_role_arn"]:
        raise DeploymentError(
            "The flow has @schedule but the profile has no scheduler_role_arn (the EventBridge "
            "Scheduler role): apply the Terraform stack with create_step_functions = true, or "
            "set FLOWLIB_SCHEDULER_ROLE_ARN.")
    return profile


class Deployer:
    def __init__(self, stores: Stores, deployment: Deployment) -> None:
        from flowlib.config.aws import AwsContext

        self.stores = stores
        self.deployment = deployment
        self.profile = stores.profile
        self.aws = AwsContext(self.profile)
        self.sfn = self.aws.client("stepfunctions")

    # -- the record ---------------------------------------------------------------------
    @property
    def record_key(self) -> str:
        prefix = (self.profile["s3_prefix"] or "").strip("/")
        return "/".join(p for p in (prefix, "stepfunctions", f"{self.deployment.name}.json")
                        if p)

    def read_record(self) -> Record | None:
        s3 = self.aws.client("s3")
        try:
            body = s3.get_object(Bucket=self.profile["s3_bucket"], Key=self.record_key)["Body"]
        except s3.exceptions.NoSuchKey:
            return None
        data = json.loads(body.read())
        data.pop("version", None)
        return Record(**data)

    def write_record(self, record: Record) -> None:
        kms = self.profile["s3_kms_key_arn"]
        sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms} if kms else {}
        self.aws.client("s3").put_object(Bucket=self.profile["s3_bucket"], Key=self.record_key,
                                         Body=record.to_json().encode(), **sse)

    def require_record(self) -> Record:
        record = self.read_record()
        if record is None:
            raise DeploymentError(
                f"{self.deployment.flow} is not deployed as '{self.deployment.name}' on "
                f"{self.stores.description}: run 'step-functions create' first (with the same "
                "--name/--branch/--production).")
        return record

    # -- create -------------------------------------------------------------------------
    def create(self, built: Built, schedule: Schedule | None, default_parameters: str,
               triggers: list[AnyTrigger] | None = None,
               parameters: list[dict[str, Any]] | None = None) -> list[str]:
        """Create or update; returns what changed (empty: nothing changed)."""
        changes: list[str] = []
        key = self.stores.artifacts(self.deployment.flow).put_bytes(built.package)
        assert key == built.package_key
        for name, kwargs in sorted(built.job_definitions.items()):
            if self._ensure_job_definition(name, kwargs):
                changes.append(f"registered job definition {name}")
        arn, machine_changes = self._ensure_state_machine(built.definition)
        changes += machine_changes
        previous = self.read_record()
        schedule_name = self._ensure_schedule(arn, schedule, default_parameters, previous,
                                              changes)
        rules = ensure_rules(self.aws, self.profile, self.deployment, arn, triggers or [],
                             default_parameters,
                             previous.placed_rules(self.profile) if previous else [], changes)
        names = sorted(built.job_definitions)
        if previous is not None:
            stale = sorted(set(previous.job_definitions) - set(names))
            for name in stale:
                self._deregister(name)
                changes.append(f"deregistered job definition {name} (no step uses it now)")
        record = Record(self.deployment.name, self.deployment.flow, arn, schedule_name, names,
                        default_parameters, self.deployment.project, self.deployment.branch,
                        list(rules), parameters, rules)
        # Whatever the retention policy, gc keeps what this deployment runs (BlobStore.hold).
        self.stores.artifacts(self.deployment.flow).blobs.hold(
            self._holder, {*built.blob_keys, built.package_key, default_parameters} - {""})
        if previous is None or previous.to_json() != record.to_json():
            self.write_record(record)
            if previous is not None and previous.default_parameters != default_parameters \
                    and not changes:
                changes.append("parameter defaults changed")
        return changes

    def _ensure_job_definition(self, name: str, kwargs: dict[str, Any]) -> bool:
        batch = self.aws.client("batch")
        found = batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE").get(
            "jobDefinitions", [])
        if found:
            return False
        batch.register_job_definition(**kwargs)
        return True

    def _deregister(self, name: str) -> None:
        batch = self.aws.client("batch")
        for found in batch.describe_job_definitions(jobDefinitionName=name,
                                                    status="ACTIVE").get("jobDefinitions", []):
            batch.deregister_job_definition(jobDefinition=found["jobDefinitionArn"])

    def find_state_machine(self) -> str | None:
        for page in self.sfn.get_paginator("list_state_machines").paginate():
            for machine in page.get("stateMachines", []):
                if machine["name"] == self.deployment.name:
                    return machine["stateMachineArn"]
        return None

    def _ensure_state_machine(self, definition: dict[str, Any]) -> tuple[str, list[str]]:
        role = self.profile["sfn_role_arn"]
        text = json.dumps(definition, sort_keys=True)
        logging = self._logging()
        arn = self.find_state_machine()
        if arn is None:
            tags = [{"key": k, "value": v} for k, v in sorted(
                self.deployment.resource_tags().items())]
            arn = self.sfn.create_state_machine(
                name=self.deployment.name, definition=text, roleArn=role, type="STANDARD",
                tags=tags, **logging)["stateMachineArn"]
            return arn, [f"created state machine {self.deployment.name} "
                         f"({len(definition['States'])} top-level states)"]
        current = self.sfn.describe_state_machine(stateMachineArn=arn)
        old = json.loads(current["definition"])
        changes = describe_changes(old, definition)
        if current.get("roleArn") != role:
            changes.append(f"execution role {current.get('roleArn')} -> {role}")
        if changes:
            self.sfn.update_state_machine(stateMachineArn=arn, definition=text, roleArn=role,
                                          **logging)
            changes = [f"updated state machine {self.deployment.name}: {c}" for c in changes]
        return arn, changes

    def _logging(self) -> dict[str, Any]:
        group = self.profile["sfn_log_group_arn"]
        if not group:
            return {}
        arn = group if group.endswith(":*") else f"{group}:*"
        return {"loggingConfiguration": {"level": "ERROR", "includeExecutionData": False,
                                         "destinations": [{"cloudWatchLogsLogGroup": {
                                             "logGroupArn": arn}}]}}

    def _ensure_schedule(self, arn: str, schedule: Schedule | None, default_parameters: str,
                         previous: Record | None, changes: list[str]) -> str | None:
        scheduler = self.aws.client("scheduler")
        name = self.deployment.name
        existed = previous is not None and previous.schedule is not None
        if schedule is None:
            if existed:
                scheduler.delete_schedule(Name=name)
                changes.append(f"deleted schedule {name}")
            return None
        wanted = {
            "Name": name,
            "ScheduleExpression": schedule.expression,
            "ScheduleExpressionTimezone": schedule.timezone or "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Description": f"flowlib: starts {name}",
            "Target": {"Arn": arn, "RoleArn": self.profile["scheduler_role_arn"],
                       "Input": json.dumps({"defaults": default_parameters},
                                           sort_keys=True)},
        }
        try:
            current = scheduler.get_schedule(Name=name)
        except scheduler.exceptions.ResourceNotFoundException:
            scheduler.create_schedule(**wanted)
            changes.append(f"created schedule {name}: {schedule.expression} "
                           f"({wanted['ScheduleExpressionTimezone']})")
            return name
        same = all(current.get(k) == wanted[k] for k in (
            "ScheduleExpression", "ScheduleExpressionTimezone", "State")) and all(
            (current.get("Target") or {}).get(k) == wanted["Target"][k]
            for k in ("Arn", "RoleArn", "Input"))
        if not same:
            scheduler.update_schedule(**wanted)
            changes.append(f"updated schedule {name}: {schedule.expression} "
                           f"({wanted['ScheduleExpressionTimezone']})")
        return name

    # -- delete -------------------------------------------------------------------------
    def delete(self) -> list[str]:
        record = self.require_record()
        removed = delete_rules(self.aws, record.placed_rules(self.profile))
        if record.schedule:
            scheduler = self.aws.client("scheduler")
            try:
                scheduler.delete_schedule(Name=record.schedule)
                removed.append(f"schedule {record.schedule}")
            except scheduler.exceptions.ResourceNotFoundException:
                pass
        try:
            self.sfn.delete_state_machine(stateMachineArn=record.state_machine_arn)
            removed.append(f"state machine {record.name}")
        except self.sfn.exceptions.StateMachineDoesNotExist:
            pass
        for name in record.job_definitions:
            self._deregister(name)
            removed.append(f"job definition {name}")
        self.aws.client("s3").delete_object(Bucket=self.profile["s3_bucket"],
                                            Key=self.record_key)
        self.stores.artifacts(record.flow).blobs.release(self._holder)
        return removed

    @property
    def _holder(self) -> str:
        return f"stepfunctions/{self.deployment.name}"

    # -- executions ---------------------------------------------------------------------
    def trigger(self, record: Record, values: dict[str, Any], trigger: str = "manual",
                tags: list[str] | None = None, user: str | None = None,
                graph: FlowGraph | None = None) -> Started:
        """Start a run of the deployment: the one way every on-demand start (``step-functions
        trigger``, ``Deployer``, the HTTP endpoint) allocates the run, stores its parameters
        (``values`` by attribute name over the deployment's recorded defaults), tags it and
        builds the execution input."""
        from flowlib.runtime.run import register_parameters

        store = self.stores.artifacts(record.flow)
        refs = self.default_refs(record)
        for name, value in values.items():
            refs[name] = store.save(name, value, f"the run's parameters ({record.flow})")
        run_id = new_run(self.stores, self.deployment, trigger, "", tags=tags, user=user)
        register_parameters(self.stores, record.flow, run_id, refs, graph)
        tag_execution(self.stores, record.flow, run_id, execution_name(record.flow, run_id),
                      record.state_machine_arn)
        return Started(record.flow, run_id, self.start(record, run_id))

    def default_refs(self, record: Record) -> dict[str, Any]:
        """The deployment's stored parameter defaults (and constants), by attribute name."""
        from flowlib.datastore.artifacts import ArtifactRef

        if not record.default_parameters:
            return {}
        raw = json.loads(self.stores.artifacts(record.flow).get_bytes(
            record.default_parameters))
        return {name: ArtifactRef.from_dict(ref) for name, ref in raw.items()}

    def start(self, record: Record, run_id: str, extra: dict[str, Any] | None = None) -> str:
        payload = {"run_id": run_id, **(extra or {})}
        return self.sfn.start_execution(
            stateMachineArn=record.state_machine_arn, name=execution_name(record.flow, run_id),
            input=json.dumps(payload, sort_keys=True))["executionArn"]

    def executions(self, status: str | None) -> list[dict[str, Any]]:
        record = self.require_record()
        kwargs: dict[str, Any] = {"stateMachineArn": record.state_machine_arn}
        if status:
            kwargs["statusFilter"] = status
        found = []
        for page in self.sfn.get_paginator("list_executions").paginate(**kwargs):
            found += page.get("executions", [])
        return found


@dataclass(frozen=True)
class Started:
    """A run started on Step Functions."""

    flow: str
    run_id: str
    execution_arn: str

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}"


def execution_name(flow: str, run_id: str) -> str:
    return f"{flow}-{run_id}"[-80:]


def new_run(stores: Stores, deployment: Deployment, trigger: str, execution: str,
            origin_run_id: str | None = None, tags: list[str] | None = None,
            user: str | None = None) -> str:
    """Allocate a run in the metadata store, tagged like every run of the deployment."""
    from flowlib.tags import system_tags

    user = user or current_user()
    base = [t for t in system_tags() if not t.startswith("user:")]
    run = stores.metadata.create_run(
        deployment.flow, user,
        [f"user:{user}", *base, *deployment.run_tags(), f"trigger:{trigger}", *(tags or [])],
        [], origin_run_id)
    return run.run_id


def tag_execution(stores: Stores, flow: str, run_id: str, execution: str,
                  state_machine_arn: str | None = None) -> None:
    """Record the run's execution: its name (``list-runs``) and, before it starts, its ARN
    (the run's liveness asks Step Functions about it: ``liveness``)."""
    from flowlib.remote.stepfunctions.liveness import EXECUTION_ARN_TAG, execution_arn

    tags = [entry.EXECUTION_TAG + execution]
    if state_machine_arn:
        tags.append(EXECUTION_ARN_TAG + execution_arn(state_machine_arn, execution))
    stores.metadata.add_tags(flow, run_id, tags)


def require_ended(origin: RunRecord) -> None:
    """Refuse to resume a run that is still running (its execution would write into the
    tasks the resume clones); its liveness is what every reader shows."""
    from flowlib.metadata.liveness import run_liveness

    live = run_liveness(origin)
    if live.status != RUNNING:
        return
    why = f" ({live.reason})" if live.reason else ""
    raise DeploymentError(
        f"resume: run {origin.flow}/{origin.run_id} is still running{why}: wait for it to end, "
        "or stop its execution first (aws stepfunctions stop-execution --execution-arn ...).")


def describe_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two definitions, by state (nested states included)."""
    def states(definition: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, state in definition.get("States", {}).items():
            found[name] = state
            for branch in state.get("Branches", []):
                found.update(states(branch))
            if "ItemProcessor" in state:
                found.update(states(state["ItemProcessor"]))
        return found

    before, after = states(old), states(new)
    changes = [f"added state {n}" for n in sorted(set(after) - set(before))]
    changes += [f"removed state {n}" for n in sorted(set(before) - set(after))]
    for name in sorted(set(before) & set(after)):
        a, b = before[name], after[name]
        if json.dumps(_shallow(a), sort_keys=True) != json.dumps(_shallow(b), sort_keys=True):
            command_a = (a.get("Parameters") or {}).get("ContainerOverrides", {}).get("Command")
            command_b = (b.get("Parameters") or {}).get("ContainerOverrides", {}).get("Command")
            what = "code package" if command_a != command_b and _package(command_a) != _package(
                command_b) else "settings"
            changes.append(f"changed state {name} ({what})")
    for key in ("TimeoutSeconds", "Comment"):
        if old.get(key) != new.get(key) and key != "Comment":
            changes.append(f"{key} {old.get(key)} -> {new.get(key)}")
    return changes


def _shallow(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("Branches", "ItemProcessor")}


def _package(command: list[str] | None) -> str | None:
    if not command or "--package" not in command:
        return None
    return command[command.index("--package") + 1]


def wait_for(sfn: Any, execution_arn: str, poll: float = 1.0, report: Any = None) -> str:
    """Follow an execution to its end; returns its final status."""
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        if report is not None:
            report()
        if status != "RUNNING":
            return status
        time.sleep(poll)


def graph_reachable(graph: FlowGraph, step: str) -> list[str]:
    seen: set[str] = set()
    todo = [step]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += graph.children(name)
    return sorted(seen)
