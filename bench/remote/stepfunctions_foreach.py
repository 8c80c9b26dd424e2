"""Step Functions cost per task, against the test moto server (Step Functions executing,
Batch jobs really run as local processes through the fake Docker engine).

For a foreach of N deployed with ``step-functions create`` and started with ``trigger``:
state transitions and Batch submissions per task (counted in the execution history, as AWS
bills them), history events per task (AWS's limit is 25,000 per execution), the time from
``trigger`` to the first task starting (its first attempt recorded in the metadata store),
and the wall time next to the same foreach run by the local runtime on the same stores.
Every task is a process on this machine, so on 2 cores wall times measure process start-up;
compare the rows with each other, not with real AWS.

    python bench/remote/stepfunctions_foreach.py --sizes 100 1000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.remote.batch.conftest import IMAGE, start_batch_stack  # noqa: E402
from tests.remote.stepfunctions.conftest import PATCHES  # noqa: E402
from tests.support.aws_env import patched_environ  # noqa: E402
from tests.support.moto_server import write_config  # noqa: E402

FLOW = REPO / "tests" / "flows" / "remote" / "batch_foreach_flow.py"
TRANSITION_EVENTS = ("StateEntered",)  # AWS bills one transition per state entered


def flow(env: dict[str, str], workdir: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(FLOW), *args], cwd=workdir, env={
        **os.environ, **env}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    return proc.stdout


def first_task_time(env: dict[str, str], started: float, run_box: dict, done: threading.Event
                    ) -> None:
    from flowlib.stores import open_stores, reset_stores

    with patched_environ(env):
        reset_stores()
        meta = open_stores().metadata
        while not done.is_set():
            run_id = run_box.get("run")
            if run_id and meta.list_attempts("BatchForeachFlow", run_id, "start", "1"):
                run_box["first_task"] = time.perf_counter() - started
                return
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100])
    parser.add_argument("--max-workers", type=int, default=100)
    parser.add_argument("--use-distributed-map", action="store_true",
                        help="Deploy with --use-distributed-map (every foreach Distributed).")
    parser.add_argument("--skip-local", action="store_true",
                        help="Do not run the local runtime for comparison (saves its time).")
    parser.add_argument("--out", type=Path,
                        default=REPO / "bench" / "results" / "stepfunctions.json")
    opts = parser.parse_args()
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"sfn-bench-{uuid.uuid4().hex[:6]}"
    workdir.mkdir(parents=True)
    path = os.pathsep.join(p for p in (str(PATCHES), os.environ.get("PYTHONPATH")) if p)
    stack = start_batch_stack(workdir / "moto.log", server_env={"PYTHONPATH": path})
    stack.stack.server.configure({"stepfunctions": {"execute_state_machine": True}})
    role = stack.client("iam").create_role(RoleName="bench-sfn",
                                           AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    rows = []
    try:
        for size in opts.sizes:
            table = stack.stack.create_table()
            profile = stack.stack.profile(table, f"bench/{uuid.uuid4().hex[:8]}",
                                          batch_job_queue=stack.queue, image=IMAGE,
                                          sfn_role_arn=role,
                                          batch_host_cache=stack.docker.host_cache)
            config = write_config(workdir / f"config-{size}.json", {"bench": profile})
            env = {**stack.stack.env, "FLOWLIB_CONFIG": str(config), "FLOWLIB_PROFILE": "bench"}
            flow(env, workdir, "step-functions", "create", "--max-workers",
                 str(opts.max_workers), "--max-num-splits", str(size),
                 *(["--use-distributed-map"] if opts.use_distributed_map else []))
            box: dict = {}
            done = threading.Event()
            started = time.perf_counter()
            watcher = threading.Thread(target=first_task_time, args=(env, started, box, done))
            proc = subprocess.Popen(
                [sys.executable, str(FLOW), "step-functions", "trigger", "--width", str(size),
                 "--wait"], cwd=workdir, env={**os.environ, **env}, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            first = proc.stdout.readline()  # "Run BatchForeachFlow/N started ..."
            box["run"] = first.split()[1].split("/")[1]
            watcher.start()
            rest, err = proc.communicate()
            wall = time.perf_counter() - started
            done.set()
            watcher.join()
            if proc.returncode != 0:
                raise SystemExit(f"trigger failed:\n{first}{rest[-3000:]}\n{err[-3000:]}")
            sfn = stack.client("stepfunctions")
            execution = next(e for e in sfn.list_executions(
                stateMachineArn=sfn.list_state_machines()["stateMachines"][0][
                    "stateMachineArn"])["executions"])
            events = []
            kwargs = {"executionArn": execution["executionArn"], "maxResults": 1000}
            while True:
                page = sfn.get_execution_history(**kwargs)
                events += page["events"]
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
            transitions = sum(1 for e in events if e["type"].endswith(TRANSITION_EVENTS))
            submits = sum(1 for e in events if e["type"] == "TaskSubmitted"
                          and "batch" in json.dumps(e.get("taskSubmittedEventDetails", {})))
            scheduled = sum(1 for e in events if e["type"] == "TaskScheduled"
                            and "batch" in json.dumps(e.get("taskScheduledEventDetails", {})))
            tasks = size + 3
            definition = json.loads(sfn.describe_state_machine(stateMachineArn=execution[
                "stateMachineArn"])["definition"])
            modes = sorted({s["ItemProcessor"]["ProcessorConfig"].get("Mode", "INLINE")
                            for s in definition["States"].values() if s["Type"] == "Map"})
            local_wall = float("nan")
            if not opts.skip_local:
                started = time.perf_counter()
                flow(env, workdir, "run", "--width", str(size), "--max-workers",
                     str(opts.max_workers), "--max-num-splits", str(size), "--quiet")
                local_wall = time.perf_counter() - started
            rows.append({
                "foreach": size, "map": "+".join(modes), "tasks": tasks,
                "history_events": len(events),
                "events_per_task": round(len(events) / tasks, 2),
                "transitions_per_task": round(transitions / tasks, 2),
                "batch_submissions_per_task": round(max(submits, scheduled) / tasks, 2),
                "trigger_to_first_task_s": round(box.get("first_task", float("nan")), 2),
                "wall_s": round(wall, 1), "local_wall_s": round(local_wall, 1),
                "wall_ratio_vs_local": round(wall / local_wall, 2) if local_wall == local_wall
                else None,
            })
            print(json.dumps(rows[-1]), flush=True)
            for machine in sfn.list_state_machines()["stateMachines"]:
                sfn.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
            stack.stack.delete_table(table)
    finally:
        stack.stack.server.stop()
        stack.docker.stop()
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(rows, indent=2))
    print("| foreach | Map | tasks | transitions/task | Batch submissions/task | history events "
          "| trigger to first task | wall (SFN) | wall (local runtime) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['foreach']} | {r['map']} | {r['tasks']} | {r['transitions_per_task']} | "
              f"{r['batch_submissions_per_task']} | {r['history_events']} | "
              f"{r['trigger_to_first_task_s']} s | {r['wall_s']} s | {r['local_wall_s']} s |")


if __name__ == "__main__":
    main()
