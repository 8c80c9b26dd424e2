"""``python flow.py step-functions create|trigger|list-runs|resume|terminate|delete``.

Registered in ``flowlib/backends.py`` as the ``step-functions`` backend's group, built per flow
by ``step_functions_group(flow_cls)`` (the flow's parameters become options of ``trigger``).
The commands only parse options and print; the work is in ``definition`` and ``deploy``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

_DEPLOY_OPTIONS = [
    click.option("--name", default=None, help="State machine name (default: from the flow, "
                 "the project branch and the environment)."),
    click.option("--branch", default=None, help="@project branch to deploy (test.<branch>)."),
    click.option("--production", is_flag=True, help="Deploy the @project's prod branch."),
]


def _deploy_options(func: Any) -> Any:
    for option in reversed(_DEPLOY_OPTIONS):
        func = option(func)
    return func


def _deployment(obj: Any, name: str | None, branch: str | None, production: bool) -> Any:
    from flowlib.current import current_user
    from flowlib.flow_decorators import flow_project
    from flowlib.remote.stepfunctions.naming import Deployment, project_branch
    from flowlib.stores import open_stores

    project = flow_project(obj.flow_cls)
    stores = open_stores()
    environment = stores.profile["environment"] if stores.profile is not None else None
    return Deployment(obj.name, project, project_branch(project, branch, production,
                                                        current_user()),
                      environment, name), stores


def _deployer(obj: Any, name: str | None, branch: str | None, production: bool) -> Any:
    from flowlib.remote.stepfunctions.deploy import Deployer, require_aws

    deployment, stores = _deployment(obj, name, branch, production)
    require_aws(stores, need_schedule=False)
    return Deployer(stores, deployment), deployment, stores


def step_functions_group(flow_cls: type | None = None) -> click.Group:
    from flowlib.parameters import flow_parameters

    @click.group(name="step-functions", help="Deploy the flow to AWS Step Functions: it runs "
                 "on Batch, on a schedule or on demand, with no laptop attached.\n\n"
                 "Example: python flow.py step-functions create && "
                 "python flow.py step-functions trigger --wait")
    def group() -> None:
        pass

    @group.command(help="Compile the flow, package its code, register job definitions and "
                   "create or update the state machine and its @schedule.\n\n"
                   "Example: python flow.py step-functions create --max-workers 32")
    @_deploy_options
    @click.option("--max-workers", type=int, default=16, show_default=True,
                  help="Most tasks of one foreach running at once.")
    @click.option("--workflow-timeout", type=int, default=None,
                  help="Fail an execution that runs longer than this many seconds.")
    @click.option("--max-num-splits", type=int, default=100, show_default=True,
                  help="Largest foreach fan-out allowed.")
    @click.option("--use-distributed-map", is_flag=True, help="Run every foreach as a "
                  "Distributed Map (items read from S3, one child execution per split). "
                  "Without it, a foreach that could take an execution past Step Functions' "
                  "history limit at --max-num-splits is Distributed, the others inline.")
    @click.option("--max-loop-iterations", type=int, default=1000, show_default=True,
                  help="Times a recursive switch may repeat its step before the run fails.")
    @click.option("--only-json", is_flag=True, help="Print the state machine definition and "
                  "change nothing.")
    @click.pass_obj
    def create(obj: Any, name: str | None, branch: str | None, production: bool,
               max_workers: int, workflow_timeout: int | None, max_num_splits: int,
               use_distributed_map: bool, max_loop_iterations: int, only_json: bool) -> None:
        from flowlib.flow_decorators import flow_schedule
        from flowlib.remote.stepfunctions.compiler import check_compilable, to_json
        from flowlib.remote.stepfunctions.definition import build
        from flowlib.remote.stepfunctions.deploy import Deployer, require_aws
        from flowlib.remote.stepfunctions.triggers import (
            add_event_guard,
            check_triggers,
            resolve_triggers,
        )
        from flowlib.runtime.router import effective_decorators
        from flowlib.trigger_decorators import flow_triggers

        graph = obj.validated_graph()
        check_compilable(graph)
        deployment, stores = _deployment(obj, name, branch, production)
        schedule = flow_schedule(obj.flow_cls)
        triggers = resolve_triggers(obj.flow_cls, flow_triggers(obj.flow_cls))
        if not only_json:
            require_aws(stores, need_schedule=schedule is not None)
        for warning in check_triggers(obj.flow_cls, triggers,
                                      None if only_json else stores.profile):
            click.echo(f"Warning: {warning}", err=True)
        built = build(obj.flow_cls, graph, stores, deployment, effective_decorators(graph, []),
                      max_workers, workflow_timeout, max_num_splits, use_distributed_map,
                      max_loop_iterations, ship=not only_json,
                      report=lambda m: click.echo(m, err=True))
        if triggers:
            add_event_guard(built.definition, stores.profile["dynamodb_table"]
                            if stores.profile is not None else "", deployment)
        if only_json:
            click.echo(to_json(built.definition))
            return
        from flowlib.remote.stepfunctions.inputs import parameter_specs

        defaults = _default_parameters(obj.flow_cls, stores, obj.name)
        changes = Deployer(stores, deployment).create(built, schedule, defaults, triggers,
                                                      parameter_specs(obj.flow_cls))
        if not changes:
            click.echo(f"State machine {deployment.name} is up to date: no changes.")
            return
        click.echo(f"Deployed {obj.name} as {deployment.name}:")
        for change in changes:
            click.echo(f"  {change}")
        click.echo(f"Start it with: python {_script()} step-functions trigger"
                   + _selector(name, branch, production))

    trigger = _trigger_command(flow_cls)
    parameters = flow_parameters(flow_cls) if flow_cls is not None else {}
    for attr, param in reversed(list(parameters.items())):
        names = {f"--{param.name}", f"--{param.name.replace('_', '-')}"}
        trigger = click.option(*sorted(names), attr, default=None,
                               help=param.option_help())(trigger)
    group.add_command(trigger)

    @group.command(name="list-runs", help="List the deployment's executions: the run each "
                   "carries, the run's status (crashed: its execution ended outside any task), "
                   "the execution's status and what started it.\n\n"
                   "Example: python flow.py step-functions list-runs --failed")
    @_deploy_options
    @click.option("--running", "status", flag_value="RUNNING", help="Only running ones.")
    @click.option("--succeeded", "status", flag_value="SUCCEEDED", help="Only succeeded ones.")
    @click.option("--failed", "status", flag_value="FAILED", help="Only failed ones.")
    @click.option("--timed-out", "status", flag_value="TIMED_OUT",
                  help="Only ones that timed out (--workflow-timeout).")
    @click.option("--aborted", "status", flag_value="ABORTED",
                  help="Only ones stopped with StopExecution.")
    @click.option("--output", type=click.Choice(["text", "json"]), default="text")
    @click.pass_obj
    def list_runs(obj: Any, name: str | None, branch: str | None, production: bool,
                  status: str | None, output: str) -> None:
        from flowlib.remote.stepfunctions.runs import deployment_runs

        deployer, deployment, stores = _deployer(obj, name, branch, production)
        rows = deployment_runs(stores, obj.name, deployer.executions(status))
        if output == "json":
            click.echo(json.dumps([row.to_dict() for row in rows], indent=2))
            return
        if not rows:
            click.echo(f"No executions of {deployment.name}.")
            return
        click.echo(f"{'RUN':24} {'RUN STATUS':10} {'EXECUTION':10} {'STARTED BY':24} "
                   f"{'STARTED':26} NAME")
        for row in rows:
            click.echo(f"{row.run or '-':24} {row.run_status or '-':10} {row.status:10} "
                       f"{row.started_by or '-':24} {row.started[:26]:26} {row.execution}")
            if row.reason:
                click.echo(f"    {row.reason}")

    @group.command(help="Start a new execution that reuses every task that succeeded in the "
                   "origin run and runs the rest (and STEP and what follows it) with the "
                   "deployed code.\n\nExample: python flow.py step-functions resume "
                   "--origin-run-id 12")
    @_deploy_options
    @click.argument("step_name", required=False)
    @click.option("--origin-run-id", required=True, help="The run to resume.")
    @click.option("--wait", is_flag=True, help="Follow the run to its end.")
    @click.pass_obj
    def resume(obj: Any, name: str | None, branch: str | None, production: bool,
               step_name: str | None, origin_run_id: str, wait: bool) -> None:
        from flowlib.exceptions import FlowlibError
        from flowlib.remote.stepfunctions.deploy import (
            execution_name,
            graph_reachable,
            new_run,
            require_ended,
            tag_execution,
        )
        from flowlib.remote.stepfunctions.terminate import stop_leftover_jobs
        from flowlib.runtime.resume import ResumePlan

        graph = obj.validated_graph()
        deployer, deployment, stores = _deployer(obj, name, branch, production)
        record = deployer.require_record()
        meta = stores.metadata
        origin = meta.get_run(obj.name, origin_run_id)
        if origin is None:
            raise FlowlibError(f"resume: run {obj.name}/{origin_run_id} does not exist in "
                               f"{stores.description}.")
        require_ended(origin)
        try:
            stopped = stop_leftover_jobs(deployer, record.state_machine_arn, origin)
        except FlowlibError as exc:
            stopped = 0
            click.echo(f"Warning: {exc} Jobs run {obj.name}/{origin_run_id} left running (if "
                       "any) are not stopped; they write only into that run.", err=True)
        if stopped:
            click.echo(f"Stopped {stopped} batch task(s) that run {obj.name}/{origin_run_id} "
                       "left running.", err=True)
        plan = ResumePlan(meta, graph, obj.name, origin_run_id, step_name)
        rerun = graph_reachable(graph, step_name) if step_name else []
        run_id = new_run(stores, deployment, "resume", "", origin_run_id)
        assert plan.parameters is not None
        meta.clone_task(plan.parameters, run_id, "0", [], [])
        tag_execution(stores, obj.name, run_id, execution_name(obj.name, run_id),
                      record.state_machine_arn)
        arn = deployer.start(record, run_id, {"rerun": rerun})
        _report_started(obj.name, run_id, arn, deployer, wait)

    @group.command(help="Stop a run's execution and its Batch jobs; the run shows as "
                   "crashed at once (resume continues it). RUN_ID: the run's id or pathspec "
                   "(Flow/12).\n\nExample: python flow.py step-functions terminate 12")
    @_deploy_options
    @click.argument("run_id")
    @click.pass_obj
    def terminate(obj: Any, name: str | None, branch: str | None, production: bool,
                  run_id: str) -> None:
        from flowlib.current import current_user
        from flowlib.remote.stepfunctions.terminate import terminate as terminate_run

        deployer, _, _ = _deployer(obj, name, branch, production)
        record = deployer.require_record()
        done = terminate_run(deployer, record.state_machine_arn, obj.name, run_id,
                             current_user())
        click.echo(done.message())

    @group.command(help="Delete the state machine, its schedule and its job definitions "
                   "(runs and artifacts stay).\n\nExample: python flow.py step-functions "
                   "delete --yes")
    @_deploy_options
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @click.pass_obj
    def delete(obj: Any, name: str | None, branch: str | None, production: bool,
               yes: bool) -> None:
        deployer, deployment, _ = _deployer(obj, name, branch, production)
        deployer.require_record()
        if not yes:
            click.confirm(f"Delete the deployment {deployment.name}?", abort=True)
        for what in deployer.delete():
            click.echo(f"Deleted {what}.")

    return group


def _trigger_command(flow_cls: type | None) -> click.Command:
    @click.command(name="trigger", help="Start an execution of the deployed flow and print the "
                   "run's pathspec. Parameters are options, as for 'run'.\n\n"
                   "Example: python flow.py step-functions trigger --alpha 0.5 --wait")
    @_deploy_options
    @click.option("--wait", is_flag=True, help="Follow the run to its end; exit 0 only if it "
                  "succeeded.")
    @click.pass_obj
    def trigger(obj: Any, name: str | None, branch: str | None, production: bool, wait: bool,
                **params: Any) -> None:
        from flowlib.runtime.run import parameter_values

        deployer, deployment, stores = _deployer(obj, name, branch, production)
        record = deployer.require_record()
        values = parameter_values(obj.flow_cls, params)
        started = deployer.trigger(record, values, "manual", graph=obj.graph)
        _report_started(obj.name, started.run_id, started.execution_arn, deployer, wait)

    return trigger


def _report_started(flow: str, run_id: str, arn: str, deployer: Any, wait: bool) -> None:
    from flowlib.remote.stepfunctions.deploy import wait_for

    click.echo(f"Run {flow}/{run_id} started on Step Functions (execution {arn}).")
    if not wait:
        return
    meta = deployer.stores.metadata
    seen: set[tuple[str, str]] = set()

    def report() -> None:
        for task in meta.list_tasks(flow, run_id):
            key = (task.pathspec, task.status)
            if task.step != "_parameters" and task.status in ("succeeded", "failed") \
                    and key not in seen:
                seen.add(key)
                click.echo(f"[{task.pathspec}] {task.status}")

    status = wait_for(deployer.sfn, arn, report=report)
    click.echo(f"Run {flow}/{run_id} {status.lower()} (execution {status}).")
    if status != "SUCCEEDED":
        ended = deployer.sfn.describe_execution(executionArn=arn)
        if ended.get("error") == "LoopLimit":  # the Fail state of a recursive switch
            click.echo(f"Run {flow}/{run_id}: {ended.get('cause')}", err=True)
        sys.exit(1)


def _default_parameters(flow_cls: type, stores: Any, flow: str) -> str:
    """The parameters' defaults, stored like a run's parameters (used by @schedule)."""
    from flowlib.runtime.run import parameter_values

    store = stores.artifacts(flow)
    values = parameter_values(flow_cls, {})
    refs = {k: store.save(k, v, f"the deployment's parameter defaults ({flow})").to_dict()
            for k, v in values.items()}
    return store.put_bytes(json.dumps(refs, sort_keys=True).encode())


def _script() -> str:
    import os

    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "flow.py"


def _selector(name: str | None, branch: str | None, production: bool) -> str:
    parts = []
    if name:
        parts.append(f" --name {name}")
    if branch:
        parts.append(f" --branch {branch}")
    if production:
        parts.append(" --production")
    return "".join(parts)
