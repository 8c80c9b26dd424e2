"""Turn Metaflow's core tests (test/core in the Netflix/metaflow repo) into flowlib cases.

Used by bench/metaflow_core.py (the command and its documentation live there). This module
extracts test/core from a git checkout, swaps the ``metaflow`` imports for ``flowlib`` the way a
user would, and generates one flow file and one checker file per (graph, test) pair with the same
rules as Metaflow's formatter (test/core/metaflow_test/formatter.py): the step of a graph node is
the test's first ``@steps`` method (by priority) whose qualifiers match the node's; foreach nodes
assign their foreach variable first; the transition ``self.next(...)`` is appended from the graph;
a test's SKIP_GRAPHS / ONLY_GRAPHS and ``required`` steps decide which pairs are valid.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import io
import json
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

INDENT = "    "

# The names Metaflow's formatter imports into every generated flow.
FLOW_IMPORTS = ("Config", "config_expr", "FlowSpec", "step", "Parameter", "project", "IncludeFile",
                "JSONType", "current", "parallel", "FlowMutator", "StepMutator",
                "UserStepDecorator", "user_step_decorator")
HARNESS_IMPORTS = ("assert_equals", "assert_equals_metadata", "assert_exception",
                   "ExpectationFailed", "is_resumed", "ResumeFromHere", "TestRetry",
                   "try_to_get_card")

_FROM_IMPORT = re.compile(r"^(\s*)from metaflow(\.[\w.]+)? import\b", re.MULTILINE)
_PLAIN_IMPORT = re.compile(r"^(\s*)import metaflow(\.[\w.]+)?\b", re.MULTILINE)

# Imports of Metaflow internals in the test harness (metaflow_test/), not in user code: the
# adapter module below stands in for them (see bench/metaflow_core.py's docstring).
HARNESS_ADAPTED = {
    "from flowlib.exception import MetaflowException":
        "from metaflow_test._flowlib_adapter import MetaflowException",
    "from flowlib.exception import MetaflowNamespaceMismatch":
        "from metaflow_test._flowlib_adapter import MetaflowNamespaceMismatch",
    "from flowlib.plugins.cards.exception import CardNotPresentException":
        "from metaflow_test._flowlib_adapter import CardNotPresentException",
    "from flowlib.includefile import IncludedFile":
        "from metaflow_test._flowlib_adapter import IncludedFile",
    "from flowlib.util import is_stringish":
        "from metaflow_test._flowlib_adapter import is_stringish",
}

ADAPTER_SOURCE = '''"""Stand-ins for Metaflow internals the test harness imports (bench only)."""
import importlib


def _pick(module, name, fallback):
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return fallback


class _NeverRaised(Exception):
    pass


def _not_found_error():
    from flowlib.exceptions import NotFoundError
    return NotFoundError


MetaflowException = _pick("flowlib.exception", "MetaflowException", Exception)
MetaflowNamespaceMismatch = _pick("flowlib.exception", "MetaflowNamespaceMismatch",
                                  _not_found_error())
CardNotPresentException = _pick("flowlib.plugins.cards.exception", "CardNotPresentException",
                                _NeverRaised)
IncludedFile = _pick("flowlib.includefile", "IncludedFile", type("IncludedFile", (), {}))


def is_stringish(value):
    return isinstance(value, (str, bytes))
'''


def swap_imports(source: str) -> str:
    """``from metaflow[.x] import ...`` / ``import metaflow[.x]`` become flowlib's; nothing else."""
    source = _FROM_IMPORT.sub(lambda m: f"{m.group(1)}from flowlib{m.group(2) or ''} import",
                              source)
    return _PLAIN_IMPORT.sub(lambda m: f"{m.group(1)}import flowlib{m.group(2) or ''}", source)


def extract(repo: Path, dest: Path, rev: str = "HEAD") -> Path:
    """Extract test/core at ``rev`` of the git repository ``repo`` into ``dest``; swap imports."""
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "test/core"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    core = dest / "test" / "core"
    for path in [*core.glob("tests/*.py"), *core.glob("metaflow_test/*.py")]:
        text = swap_imports(path.read_text(encoding="utf-8"))
        if path.parent.name == "metaflow_test":
            for original, adapted in HARNESS_ADAPTED.items():
                text = text.replace(original, adapted)
        path.write_text(text, encoding="utf-8")
    (core / "metaflow_test" / "_flowlib_adapter.py").write_text(ADAPTER_SOURCE)
    return core


def test_card_types(repo: Path, rev: str = "HEAD") -> set[str]:
    """The card types of Metaflow's test-only card module (no user has them)."""
    source = subprocess.run(
        ["git", "-C", str(repo), "show",
         f"{rev}:metaflow/plugins/cards/card_modules/test_cards.py"],
        capture_output=True, text=True).stdout
    return set(re.findall(r'^\s+type = "(\w+)"', source, re.MULTILINE))


def revision(repo: Path, rev: str = "HEAD") -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", rev], check=True,
                          capture_output=True, text=True).stdout.strip()


@dataclass
class Case:
    test: str
    graph: str
    flow_name: str = ""
    flow_code: str = ""
    check_code: str = ""
    copy_files: list[str] = field(default_factory=list)
    should_fail: bool = False
    should_resume: bool = False
    resume_step: str | None = None
    skip: str | None = None  # why the case cannot run on flowlib (None: it runs)

    @property
    def name(self) -> str:
        return f"{self.test}/{self.graph}"


def load_graphs(core: Path) -> list[dict]:
    """Every graph, with ``file`` (its file name, e.g. linear.json) added for --graphs."""
    return [{**json.loads(p.read_text()), "file": p.name}
            for p in sorted((core / "graphs").glob("*.json"))]


def load_tests(core: Path) -> tuple[list[object], dict[str, str]]:
    """Instances of every MetaflowTest subclass, and {test module: why it failed to import}."""
    for folder in (core, core / "tests"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    harness = importlib.import_module("metaflow_test")
    tests, broken = [], {}
    for path in sorted((core / "tests").glob("*.py")):
        try:
            module = importlib.import_module(path.stem)
        except Exception as exc:  # noqa: BLE001 - the reason is the report
            broken[path.stem] = f"{type(exc).__name__}: {exc}"
            continue
        for _, obj in sorted(vars(module).items()):
            if (isinstance(obj, type) and issubclass(obj, harness.MetaflowTest)
                    and obj is not harness.MetaflowTest and obj.__module__ == module.__name__):
                tests.append(obj())
    tests.sort(key=lambda t: t.PRIORITY)
    return tests, broken


def _method_body(func) -> list[str]:
    """The body of ``func``'s source, dedented (what the formatter pastes into a step)."""
    lines = inspect.getsourcelines(func)[0]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("def ")) + 1
    # A signature spread over several lines ends at the first line ending with ':'.
    while not lines[start - 1].rstrip().endswith(":"):
        start += 1
    body = lines[start:]
    indent = len(body[0]) - len(body[0].lstrip())
    return [line[indent:].rstrip() for line in body]


def _test_steps(test) -> list:
    found = []
    for attr in dir(test):
        obj = getattr(test, attr)
        obj = getattr(obj, "_my_step", obj)  # a StepMutator wraps the step function
        if getattr(obj, "is_step", False):
            found.append(obj)
    return sorted(found, key=lambda f: f.prio)


def _quals(name: str, node: dict) -> set[str]:
    quals = {"all", *node.get("quals", [])}
    if name in ("start", "end"):
        quals.add(name)
    for key, qual in (("join", "join"), ("parallel_step", "parallel-step"),
                      ("linear", "linear"), ("switch", "switch-step")):
        if key in node:
            quals.add(qual)
    return quals


def _transition(node: dict) -> str | None:
    if "linear" in node:
        return f"self.next(self.{node['linear']})"
    if "branch" in node:
        targets = ", ".join(f"self.{b}" for b in node["branch"])
        return f"self.next({targets})"
    if "switch" in node:
        cases = ", ".join(f'"{k}": self.{v}' for k, v in node["switch"].items())
        return f"self.next({{{cases}}}, condition='{node['condition']}')"
    if "foreach" in node:
        return f'self.next(self.{node["foreach"]}, foreach="{node["foreach_var"]}")'
    if "num_parallel" in node:
        return f"self.next(self.{node['parallel']}, num_parallel={node['num_parallel']})"
    return None


def build_case(graph: dict, test, card_types_of_tests: set[str] = frozenset()) -> Case | None:
    """The case for (graph, test), or None where Metaflow's formatter finds the pair invalid."""
    test_name = type(test).__name__
    graph_name = graph.get("name", "")
    if graph_name in getattr(test, "SKIP_GRAPHS", []):
        return None
    only = getattr(test, "ONLY_GRAPHS", [])
    if only and graph_name not in only:
        return None
    steps = _test_steps(test)
    used: set = set()
    decorators: list[str] = []
    for func in steps:
        decorators.extend(tag.split("(")[0] for tag in func.tags)
    flow_name = f"{test_name}Flow"

    body: list[str] = []
    for var, val in test.CLASS_VARS.items():
        body.append(f"{INDENT}{var} = {val}")
    for kind, items in (("Parameter", test.PARAMETERS), ("IncludeFile", test.INCLUDE_FILES),
                        ("Config", test.CONFIGS)):
        for var, kwargs in items.items():
            args = ",".join(f"{k}={v}" for k, v in kwargs.items())
            body.append(f'{INDENT}{var} = {kind}("{var}", {args})')
    for name, node in graph["graph"].items():
        quals = _quals(name, node)
        func = next((f for f in steps if f.quals & quals), None)
        if func is None:
            raise ValueError(f"{test_name} has no step for node {name} of graph {graph_name}")
        used.add(func)
        body += [f"{INDENT}@{tag}" for tag in func.tags]
        if "parallel_step" in node:
            body.append(f"{INDENT}@parallel")
        body.append(f"{INDENT}@step")
        body.append(f"{INDENT}def {name}(self{', inputs' if 'join' in node else ''}):")
        if "foreach" in node:
            body.append(f"{INDENT * 2}self.{node['foreach_var']} = {node['foreach_var_default']}")
        body += [f"{INDENT * 2}{line}" if line else "" for line in _method_body(func)]
        transition = _transition(node)
        if transition:
            body.append(f"{INDENT * 2}{transition}")
    if any(f.required and f not in used for f in steps):
        return None

    code_body = "\n".join([test.HEADER, f"class {flow_name}(FlowSpec):", *body,
                           "if __name__ == '__main__':", f"{INDENT}{flow_name}()"])
    import flowlib

    # Metaflow's formatter imports every name above into every flow; a user imports what the
    # flow uses. Names flowlib lacks are left out of the import line; a flow using one is skipped.
    wanted = list(FLOW_IMPORTS) + [d for d in dict.fromkeys(decorators)]
    missing = [n for n in dict.fromkeys(wanted) if not hasattr(flowlib, n)]
    names_used = {node.id for node in ast.walk(ast.parse(code_body)) if isinstance(node, ast.Name)}
    used_missing = [n for n in missing if n in names_used]
    flow_imports = [n for n in FLOW_IMPORTS if n not in missing]
    tag_imports = [n for n in dict.fromkeys(decorators) if n not in missing
                   and n not in FLOW_IMPORTS]
    head = ["# -*- coding: utf-8 -*-",
            f"from flowlib import {', '.join(flow_imports)}",
            f"from metaflow_test import {', '.join(HARNESS_IMPORTS)}"]
    if tag_imports:
        head.append(f"from flowlib import {','.join(tag_imports)}")
    flow_code = "\n".join([*head, code_body]) + "\n"

    check_code = "\n".join([
        "# -*- coding: utf-8 -*-",
        "import sys",
        "from metaflow_test import assert_equals, assert_equals_metadata, assert_exception, "
        "new_checker",
        "def check_results(flow, checker):",
        *[f"{INDENT}{line}" if line else "" for line in _method_body(test.check_results)],
        "if __name__ == '__main__':",
        f"{INDENT}from test_flow import {flow_name}",
        f"{INDENT}flow = {flow_name}(use_cli=False)",
        f"{INDENT}check = new_checker(flow)",
        f"{INDENT}check_results(flow, check)",
    ]) + "\n"

    case = Case(test=test_name, graph=graph_name, flow_name=flow_name, flow_code=flow_code,
                check_code=check_code, copy_files=list(getattr(test, "REQUIRED_FILES", [])),
                should_fail=getattr(test, "SHOULD_FAIL", False),
                should_resume=getattr(test, "RESUME", False),
                resume_step=getattr(test, "RESUME_STEP", None))
    reasons = [f"needs Metaflow's test card type {t} (test_cards.py)"
               for t in sorted(set(re.findall(r"type=[\"'](\w+)", " ".join(
                   tag for f in steps for tag in f.tags))) & card_types_of_tests)]
    reasons += [f"needs flowlib.{n} (Metaflow's {n})" for n in used_missing]
    reasons += _missing_imports(flow_code) + _missing_imports(check_code)
    if reasons:
        case.skip = "; ".join(dict.fromkeys(reasons))
    return case


def _missing_imports(code: str) -> list[str]:
    """Imports from flowlib modules or names that do not exist ('needs metaflow.x.y')."""
    reasons = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == \
                "flowlib":
            original = "metaflow" + node.module[len("flowlib"):]
            try:
                found = importlib.util.find_spec(node.module) is not None
            except ModuleNotFoundError:
                found = False
            if not found:
                reasons.append(f"needs module {original}")
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    reasons.append(f"needs {original}.{alias.name}")
    return reasons
