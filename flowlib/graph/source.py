"""Find a flow's step functions and their source: the flow file, the class's line, and each
step's ``def`` as an AST node.

Each source file is parsed once per process (the AST is cached and reused while the file's text
is unchanged), because the graph is built on every ``run``. Whole files are parsed rather than
``inspect.getsource`` + ``textwrap.dedent`` of each function: one parse serves every step, line
numbers come out absolute, and dedent cannot break on a docstring whose lines are less indented
than the ``def``.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import sys
import textwrap
from dataclasses import dataclass

from flowlib.exceptions import FlowGraphError, GraphProblem

FunctionAST = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class _ParsedFile:
    lines: list[str]
    tree: ast.Module | None
    # FunctionDef by the line its code object starts on: the first decorator, else the def.
    functions: dict[int, FunctionAST]


_FILES: dict[str, _ParsedFile] = {}


def _parsed_file(filename: str, module_globals: dict | None) -> _ParsedFile | None:
    linecache.checkcache(filename)
    lines = linecache.getlines(filename, module_globals)
    if not lines:
        return None
    cached = _FILES.get(filename)
    if cached is not None and cached.lines is lines:
        return cached
    try:
        tree = ast.parse("".join(lines), filename)
    except (SyntaxError, ValueError):
        tree = None
    functions: dict[int, FunctionAST] = {}
    if tree is not None:
        for item in ast.walk(tree):
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = item.decorator_list[0].lineno if item.decorator_list else item.lineno
                functions.setdefault(first, item)
    parsed = _ParsedFile(lines, tree, functions)
    _FILES[filename] = parsed
    return parsed


def _source_error(flow: str, name: str, file: str, lineno: int, why: str) -> FlowGraphError:
    return FlowGraphError(
        [
            GraphProblem(
                name,
                file,
                lineno,
                f"cannot read the source of step '{name}' of {flow} ({why}); flowlib builds the "
                "graph from the source code.",
                "Define the flow in a .py file (not in an interactive session or with exec) and "
                "keep the file unchanged while it runs.",
            )
        ]
    )


def function_ast(flow: str, name: str, func) -> tuple[FunctionAST, str, int]:
    """The step's ``def`` node, its absolute file name and the offset to absolute lines."""
    func = inspect.unwrap(func)  # a user's functools.wraps decorator: read the real step
    code = func.__code__
    filename = code.co_filename
    file = os.path.abspath(filename) if not filename.startswith("<") else filename
    parsed = _parsed_file(filename, getattr(func, "__globals__", None))
    if parsed is not None:
        node = parsed.functions.get(code.co_firstlineno)
        if node is not None and node.name == code.co_name:
            return node, file, 0
    # The file is gone or changed since import: fall back to what inspect can still find.
    try:
        source = textwrap.dedent(inspect.getsource(func))
        module = ast.parse(source)
    except (OSError, TypeError, SyntaxError) as exc:
        raise _source_error(flow, name, file, code.co_firstlineno, str(exc)) from None
    node = module.body[0] if module.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise _source_error(flow, name, file, code.co_firstlineno, "not a function definition")
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    return node, file, code.co_firstlineno - first


def flow_file(flow_cls: type) -> str:
    """Absolute path of the file defining the flow class ('' when it has none).

    The module's ``__file__`` is preferred; a module loaded without being put in
    ``sys.modules`` (importlib by path) is located through the code of its methods.
    """
    module = sys.modules.get(flow_cls.__module__)
    filename = getattr(module, "__file__", None) or ""
    if not filename:
        for value in vars(flow_cls).values():
            code = getattr(value, "__code__", None)
            if code is not None and not code.co_filename.startswith("<"):
                filename = code.co_filename
                break
    return os.path.abspath(filename) if filename else ""


def class_lineno(flow_cls: type, file: str) -> int:
    """Line of ``class Flow`` (for problems that belong to no step); 1 when unknown."""
    if not file:
        return 1
    module = sys.modules.get(flow_cls.__module__)
    parsed = _parsed_file(file, vars(module) if module else None)
    if parsed is None or parsed.tree is None:
        return 1
    for item in ast.walk(parsed.tree):
        if isinstance(item, ast.ClassDef) and item.name == flow_cls.__name__:
            return item.decorator_list[0].lineno if item.decorator_list else item.lineno
    return 1


# The class attribute that marks the flow API's base class (``FlowSpec`` sets it). Graph code
# recognises the API by this marker instead of importing flowspec, which sits above it.
API_BASE_MARKER = "__flowlib_api__"


def api_bases(flow_cls: type) -> list[type]:
    """The classes of ``flow_cls``'s MRO that make up the flow API (``FlowSpec``)."""
    return [k for k in flow_cls.__mro__ if vars(k).get(API_BASE_MARKER)]


def step_functions(flow_cls: type) -> dict[str, object]:
    """Steps by attribute name, including inherited ones; a subclass attribute overrides.

    The API base (``FlowSpec``) and ``object`` are skipped: their attributes are the API,
    never steps.
    """
    skipped = {*api_bases(flow_cls), object}
    found: dict[str, object] = {}
    seen: set[str] = set()
    for klass in flow_cls.__mro__:
        if klass in skipped:
            continue
        for attr, value in vars(klass).items():
            if attr in seen:
                continue
            seen.add(attr)
            if getattr(value, "is_step", False) and hasattr(value, "__code__"):
                found[attr] = value
    return found

