"""How much of Metaflow's own core test suite runs on flowlib with only the import swapped.

    python bench/metaflow_core.py --metaflow-repo /work/.mirror/Netflix+metaflow/repo -j 2
    python bench/metaflow_core.py --metaflow-repo PATH --tests basicartifacttest --graphs linear

Metaflow's core tests (test/core: graphs/*.json x tests/*.py) are generated into flows by its
formatter and run by its run_tests.py in several contexts. This bench does what run_tests.py does
for the one context that needs no cloud ("python3-all-local", the ``cli`` executor), with
flowlib instead of Metaflow:

- test/core is extracted from the git repository given (``git archive``); every
  ``from metaflow... import`` / ``import metaflow...`` in tests/*.py and metaflow_test/*.py
  becomes ``flowlib`` (the swap a user does; nothing else in the tests changes, strings such as
  ``"metaflow.exception.ExternalCommandFailed"`` included).
- Each valid (graph, test) pair is generated with the formatter's rules
  (bench/metaflow_core_cases.py), except the import line: Metaflow's formatter imports 14 names
  into every flow; here names flowlib does not have are left out, and a case whose code uses one
  is skipped with that reason, as is a case importing a module or name flowlib lacks
  ("needs metaflow.plugins..."), a test whose module fails to import, and the tests the local
  context disables (LargeArtifactTest, S3FailureTest, CardComponentRefreshTest,
  CardWithRefreshTest), and a case whose ``@card`` uses a type of Metaflow's test-only card
  module (metaflow/plugins/cards/card_modules/test_cards.py: no user has those).
- Each case runs in a fresh folder with the context's environment (METAFLOW_USER=tester,
  METAFLOW_RUN_BOOL_PARAM, METAFLOW_RUN_NO_DEFAULT_PARAM, METAFLOW_DEFAULT_METADATA=local, USER,
  LANG, PATH, PYTHONPATH) plus ``XDG_CONFIG_HOME`` pointing into the case folder so no flowlib
  profile of the machine is used (the local profile, store in the case folder's ``.flowlib``):
  ``python -B test_flow.py --metadata=local --datastore=local --environment=local
  --event-logger=nullSidecarLogger --no-pylint --quiet run --run-id-file run-id
  --max-workers=50 --max-num-splits=10000 --tag=... --tag=...``; a failed run of a test with
  RESUME is resumed (``resume [RESUME_STEP]``), a SHOULD_FAIL test must fail.
- Then ``python check_flow.py CliCheck RUN_ID ...`` and ``... MetadataCheck RUN_ID ...`` run the
  test's own ``check_results`` with Metaflow's two checkers, imports swapped: CliCheck drives
  flowlib's command line (``dump --include X --file F --private --max-value-size N RUN/STEP``
  read back as a pickle, ``logs``, ``tag list/add/remove/replace``, ``card get/list``),
  MetadataCheck flowlib's client (``Flow``, ``Run``, ``namespace``...).

The adapter (metaflow_test/_flowlib_adapter.py in each case) replaces only the harness's imports
of Metaflow internals that are not user API: ``metaflow.exception.MetaflowException`` (base class
of the harness's ResumeFromHere and TestRetry) -> ``flowlib.exception.MetaflowException`` if
flowlib has it, else ``Exception``; ``metaflow.exception.MetaflowNamespaceMismatch`` ->
``flowlib.exception.MetaflowNamespaceMismatch`` if present, else
``flowlib.exceptions.NotFoundError`` (what flowlib's client raises for a run of another
namespace); ``metaflow.plugins.cards.exception.CardNotPresentException`` -> flowlib's if present,
else a class never raised; ``metaflow.includefile.IncludedFile`` -> flowlib's if present, else a
class nothing is an instance of; ``metaflow.util.is_stringish`` -> ``isinstance(x, (str,
bytes))``.

Not measured: Metaflow's ``api`` executor (the same cases through ``Runner``), and the contexts
needing a cloud or another datastore (Batch, Kubernetes, Argo, Step Functions, Azure, GCS).

Output: cases generated, run, passed, failed, skipped (grouped by reason), failures grouped by
cause (the phase and the first line of the error, numbers shown as N), biggest first, and the
wall time. A bench (measurement), not a test: CI has no copy of the Metaflow repository.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metaflow_core_cases import (  # noqa: E402
    Case,
    build_case,
    extract,
    load_graphs,
    load_tests,
    revision,
    test_card_types,
)

TOP_OPTIONS = ["--metadata=local", "--datastore=local", "--environment=local",
               "--event-logger=nullSidecarLogger", "--no-pylint", "--quiet"]
RUN_OPTIONS = ["--max-workers=50", "--max-num-splits=10000", "--tag=\u523a\u8eab means sashimi",
               "--tag=multiple tags should be ok"]
CONTEXT_ENV = {"METAFLOW_USER": "tester", "METAFLOW_RUN_BOOL_PARAM": "False",
               "METAFLOW_RUN_NO_DEFAULT_PARAM": "test_str", "METAFLOW_DEFAULT_METADATA": "local"}
DISABLED_LOCALLY = {"LargeArtifactTest", "S3FailureTest", "CardComponentRefreshTest",
                    "CardWithRefreshTest"}
CHECKERS = ("CliCheck", "MetadataCheck")


@dataclass
class Outcome:
    case: Case
    status: str  # passed | failed | skipped
    cause: str = ""
    seconds: float = 0.0
    folder: str = ""


def _first_error_line(text: str) -> str:
    """The line saying what went wrong: a traceback's last line, else the first error-ish line."""
    # Task output lines carry a "[Flow/run/step/task] " prefix.
    lines = [re.sub(r"^\[[^\]]*/[^\]]*\]\s?", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "(no output)"
    tb = max((i for i, line in enumerate(lines) if line.startswith("Traceback")), default=None)
    if tb is not None:
        for line in lines[tb + 1:]:
            if not line.startswith(("File ", "Traceback")) and re.match(
                    r"^[A-Za-z_][\w.]*(:\s|$)", line):
                return line
    for line in lines:
        if re.search(r"error|exception|failed|refused|no such|not ", line, re.IGNORECASE):
            return line
    return lines[-1]


def _normalise(cause: str, folder: str) -> str:
    # A checker's CLI call that failed: name the command, not the whole argument list.
    called = re.search(r"CalledProcessError: Command '(\[.*?\])' returned non-zero exit "
                       r"status (\d+)", cause)
    if called:
        try:
            args = ast.literal_eval(called.group(1))
            words = [a for a in args[args.index("test_flow.py") + 1:] if not a.startswith("--")]
        except (ValueError, SyntaxError):
            words = []
        command = words[0] if words else "?"
        cause = f"{cause[:called.start()]}CalledProcessError: '{command}' exited {called.group(2)}"
    cause = cause.replace(folder, "<case>")
    cause = re.sub(r"/tmp/[^\s'\"]+", "<tmp>", cause)
    cause = re.sub(r"0x[0-9a-f]+", "0x..", cause)
    cause = re.sub(r"\d+", "N", cause)
    return cause[:200]


def _env(folder: Path, core: Path) -> dict[str, str]:
    env = {"USER": os.environ.get("USER", "tester"), **CONTEXT_ENV,
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PATH": os.environ.get("PATH", "."),
           "PYTHONIOENCODING": "utf_8", "XDG_CONFIG_HOME": str(folder / ".config"),
           "PYTHONPATH": os.pathsep.join([str(core), os.environ.get("PYTHONPATH", ".")])}
    if "HOME" in os.environ:
        env["HOME"] = os.environ["HOME"]
    return env


def run_case(case: Case, core: Path, timeout: float, keep: bool) -> Outcome:
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix=f"mfcore_{case.test}_{case.graph}_"))
    try:
        try:
            status, cause = _run_case_in(case, core, folder, timeout)
        except Exception as exc:  # noqa: BLE001 - one broken case must not stop the bench
            status, cause = "failed", f"bench: {type(exc).__name__}: {exc}"
        return Outcome(case, status, _normalise(cause, str(folder)) if cause else "",
                       time.monotonic() - started, str(folder))
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def _run_case_in(case: Case, core: Path, folder: Path, timeout: float) -> tuple[str, str]:
    (folder / "test_flow.py").write_text(case.flow_code, encoding="utf-8")
    (folder / "check_flow.py").write_text(case.check_code, encoding="utf-8")
    (folder / ".flowlib").mkdir()
    for name in case.copy_files:
        shutil.copy2(core / "tests" / name, folder / name)
    env = _env(folder, core)
    python = sys.executable

    def call(args: list[str]) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run([python, "-B", *args], cwd=folder, env=env, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(args, -1, "", f"timed out after {timeout:.0f} s")
        (folder / "log.txt").open("a").write(
            f"$ {' '.join(args)}\n[rc {proc.returncode}]\n{proc.stdout}\n{proc.stderr}\n")
        return proc

    def flow_cmd(mode: str, extra: list[str]) -> list[str]:
        return ["test_flow.py", *TOP_OPTIONS, mode, *extra, "--run-id-file", "run-id",
                *RUN_OPTIONS]

    proc = call(flow_cmd("run", []))
    if proc.returncode:
        if case.should_fail:
            pass
        elif case.should_resume:
            proc = call(flow_cmd("resume", [case.resume_step] if case.resume_step else []))
            if proc.returncode:
                return "failed", "resume: " + _first_error_line(proc.stderr + proc.stdout)
        else:
            return "failed", "run: " + _first_error_line(proc.stderr + proc.stdout)
    elif case.should_fail:
        return "failed", "run: the flow should have failed but succeeded"
    if case.should_resume and not proc.returncode and not case.should_fail and \
            "resume" not in proc.args:
        # Metaflow resumes only a failed run: a RESUME test whose run succeeded is checked as is.
        pass
    run_id_file = folder / "run-id"
    if not run_id_file.exists():
        return "failed", "run: no run-id file written (--run-id-file)"
    run_id = run_id_file.read_text().strip()
    for checker in CHECKERS:
        proc = call(["check_flow.py", checker, run_id, *TOP_OPTIONS])
        if proc.returncode:
            return "failed", f"{checker}: " + _first_error_line(proc.stderr + proc.stdout)
    return "passed", ""


def generate(core: Path, tests_wanted: set[str], graphs_wanted: set[str],
             card_types: set[str]) -> tuple[list[Case], list[Outcome]]:
    graphs = [g for g in load_graphs(core)
              if not graphs_wanted or g["name"].lower() in graphs_wanted
              or Path(g.get("file", "")).stem in graphs_wanted]
    tests, broken = load_tests(core)
    cases, skipped = [], []
    for module, why in broken.items():
        if tests_wanted and not any(module.replace("_", "") in t for t in tests_wanted):
            continue
        skipped.append(Outcome(Case(test=module, graph="*"), "skipped",
                               f"test module does not import: {why}"))
    for test in tests:
        name = type(test).__name__
        if tests_wanted and name.lower() not in tests_wanted:
            continue
        for graph in graphs:
            case = build_case(graph, test, card_types)
            if case is None:
                continue
            if name in DISABLED_LOCALLY:
                case.skip = "disabled in Metaflow's own local context"
            if case.skip:
                skipped.append(Outcome(case, "skipped", case.skip))
            else:
                cases.append(case)
    return cases, skipped


def report(outcomes: list[Outcome], skipped: list[Outcome], wall: float, rev: str,
           jobs: int) -> None:
    passed = [o for o in outcomes if o.status == "passed"]
    failed = [o for o in outcomes if o.status == "failed"]
    print(f"Metaflow core tests (Netflix/metaflow {rev}, test/core), local context, cli "
          f"executor, on flowlib; -j {jobs}")
    total = len(outcomes) + len(skipped)
    print(f"cases generated: {total}  run: {len(outcomes)}  passed: {len(passed)}  "
          f"failed: {len(failed)}  skipped: {len(skipped)}")
    if outcomes:
        print(f"pass rate of cases run: {100 * len(passed) / len(outcomes):.1f}%  "
              f"(of all generated: {100 * len(passed) / total:.1f}%)")
    print(f"wall time: {wall:.0f} s")
    if skipped:
        print("\nskipped, by reason (a case may have several):")
        reasons: dict[str, list[Outcome]] = defaultdict(list)
        for o in skipped:
            for reason in o.cause.split("; "):
                reasons[reason].append(o)
        for reason, group in sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            print(f"  {len(group):4d}  {reason}")
            print(f"        e.g. {', '.join(sorted({o.case.test for o in group})[:6])}")
    if failed:
        print("\nfailures, by cause (biggest first):")
        for cause, group in _grouped(failed):
            print(f"  {len(group):4d}  {cause}")
            names = sorted(o.case.name for o in group)
            print(f"        e.g. {', '.join(names[:4])}{' ...' if len(names) > 4 else ''}")
    by_test: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        by_test[o.case.test][o.status] += 1
    print("\nper test (passed/run):")
    for name in sorted(by_test):
        c = by_test[name]
        print(f"  {name:40s} {c['passed']}/{c['passed'] + c['failed']}")


def _grouped(outcomes: list[Outcome]) -> list[tuple[str, list[Outcome]]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.cause].append(o)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metaflow-repo", required=True, type=Path,
                        help="a git clone of Netflix/metaflow")
    parser.add_argument("--rev", default="HEAD", help="the revision to take test/core from")
    parser.add_argument("--tests", default="", help="comma-separated test class names")
    parser.add_argument("--graphs", default="",
                        help="comma-separated graph names or files (single-linear-step, linear)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="cases run at once")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per command")
    parser.add_argument("--keep", action="store_true", help="keep each case's folder")
    parser.add_argument("--list", action="store_true", help="only list the cases")
    args = parser.parse_args(argv)
    wanted = lambda s: {t.strip().lower() for t in s.split(",") if t.strip()}  # noqa: E731
    if not (args.metaflow_repo / "HEAD").exists() and not (args.metaflow_repo / ".git").exists():
        parser.error(f"{args.metaflow_repo} is not a git repository (give a Metaflow clone)")
    workdir = Path(tempfile.mkdtemp(prefix="mfcore_src_"))
    started = time.monotonic()
    try:
        core = extract(args.metaflow_repo, workdir, args.rev)
        cases, skipped = generate(core, wanted(args.tests), wanted(args.graphs),
                                  test_card_types(args.metaflow_repo, args.rev))
        if args.list:
            for case in cases:
                print(case.name)
            for o in skipped:
                print(f"{o.case.name}  SKIPPED: {o.cause}")
            return 0
        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_case, c, core, args.timeout, args.keep) for c in cases]
            for n, future in enumerate(futures, 1):
                o = future.result()
                outcomes.append(o)
                mark = "ok  " if o.status == "passed" else "FAIL"
                where = f"  [{o.folder}]" if args.keep else ""
                print(f"[{n}/{len(cases)}] {mark} {o.case.name} ({o.seconds:.0f} s) {o.cause}"
                      f"{where}", file=sys.stderr, flush=True)
        report(outcomes, skipped, time.monotonic() - started,
               revision(args.metaflow_repo, args.rev), args.jobs)
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
