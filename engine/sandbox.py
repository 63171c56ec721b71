"""Sandboxed expressions: every condition, timer, parameter and multi-instance expression of a
diagram is checked statically at deploy time and evaluated by simpleeval at run time.

Nothing in a diagram can run Python: no imports, no dunder or private attribute access, no calls
but a short list of pure functions, bounded powers and string sizes, and script tasks refuse to run.
"""
from __future__ import annotations

import ast
import json
import re
from functools import lru_cache

import simpleeval
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

MAX_EXPRESSION_LENGTH = 2000
MAX_POWER_EXPONENT = 64
MAX_POWER_BASE = 10**12

SAFE_FUNCTIONS = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "abs": abs,
    "min": min, "max": max, "round": round, "sum": sum, "any": any, "all": all,
    "sorted": sorted, "list": list,
}
SAFE_METHODS = {"get", "lower", "upper", "strip", "startswith", "endswith", "keys", "values", "items"}

_ALLOWED_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp,
    ast.Not, ast.USub, ast.UAdd, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv,
    ast.Mod, ast.Pow, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In,
    ast.NotIn, ast.Is, ast.IsNot, ast.IfExp, ast.Call, ast.Attribute, ast.Subscript, ast.Slice,
    ast.List, ast.Tuple, ast.Dict, ast.Set, ast.keyword, ast.comprehension, ast.ListComp,
    ast.GeneratorExp, ast.Store,
)
_ISO_LIKE = re.compile(r"^(R\d*/)?P(\d|T\d)|^\d{4}-\d{2}-\d{2}", re.I)


class ExpressionError(ValueError):
    """An expression that the sandbox refuses, with a readable reason."""


def _refuse(reason: str, expression: str) -> ExpressionError:
    return ExpressionError(f"{reason}: {expression!r}")


@lru_cache(maxsize=4096)
def check_expression(expression: str) -> ast.Expression:
    """Parse and vet an expression; raise ExpressionError saying what is wrong."""
    if not isinstance(expression, str) or not expression.strip():
        raise ExpressionError("empty expression")
    expression = expression.strip()
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise _refuse("expression too long", expression[:60] + "…")
    if expression.startswith("${") or expression.startswith("#{"):
        raise _refuse("vendor expression language (${…}/#{…}) is not supported; write a plain expression", expression)
    if expression.startswith("="):
        raise _refuse("FEEL expressions (=…) are not supported; write a plain expression", expression)
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise _refuse(f"syntax error ({exc.msg})", expression) from None
    nodes = list(ast.walk(tree))
    for node in nodes:  # names first, so `__import__(...)` is refused for what it is
        if isinstance(node, ast.Name) and (node.id.startswith("_") or "__" in node.id):
            raise _refuse(f"name {node.id!r} is not allowed", expression)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise _refuse(f"attribute {node.attr!r} is not allowed", expression)
    for node in nodes:
        if not isinstance(node, _ALLOWED_NODES):
            raise _refuse(f"{type(node).__name__} is not allowed in expressions", expression)
        if isinstance(node, ast.Attribute) and node.attr not in SAFE_METHODS:
            raise _refuse(f"attribute access .{node.attr} is not allowed (use data['key'])", expression)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                if func.id not in SAFE_FUNCTIONS:
                    raise _refuse(f"function {func.id}() is not allowed", expression)
            elif not (isinstance(func, ast.Attribute) and func.attr in SAFE_METHODS):
                raise _refuse("only simple functions may be called", expression)
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            raise _refuse("bytes literals are not allowed", expression)
    return tree


def compared_values(expression: str) -> tuple[str, frozenset] | None:
    """(data key, values) when a condition only tests one data key against literals:
    `key == 'a'`, `'a' == key`, `key in ('a', 'b')` and `or` of those; None otherwise.
    Deploy uses it to check that a gateway's conditions cover every value a form allows."""
    return _compared(check_expression(expression).body)


def _compared(node) -> tuple[str, frozenset] | None:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        parts = [_compared(v) for v in node.values]
        if any(p is None for p in parts) or len({p[0] for p in parts}) != 1:
            return None
        return parts[0][0], frozenset().union(*(p[1] for p in parts))
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    left, op, right = node.left, node.ops[0], node.comparators[0]
    if isinstance(op, ast.Eq):
        if isinstance(right, ast.Name):
            left, right = right, left
        if isinstance(left, ast.Name) and isinstance(right, ast.Constant):
            return left.id, frozenset([right.value])
    elif isinstance(op, ast.In) and isinstance(left, ast.Name) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
        if all(isinstance(e, ast.Constant) for e in right.elts):
            return left.id, frozenset(e.value for e in right.elts)
    return None


def check_timer_expression(expression: str) -> None:
    """Timer expressions are expressions too: an ISO value must be quoted."""
    tree = check_expression(expression)
    body = tree.body
    if isinstance(body, ast.Name) and _ISO_LIKE.match(body.id):
        raise _refuse("an ISO-8601 duration or date must be quoted (write \"'PT5M'\")", expression)
    if isinstance(body, ast.Constant) and isinstance(body.value, str) and not _ISO_LIKE.match(body.value):
        raise _refuse("not an ISO-8601 date, duration or cycle", expression)


def _safe_power(base, exponent):
    if abs(exponent) > MAX_POWER_EXPONENT or abs(base) > MAX_POWER_BASE:
        raise simpleeval.NumberTooHigh("power too large")
    return base ** exponent


def _operators():
    ops = dict(simpleeval.DEFAULT_OPERATORS)
    ops[ast.Pow] = _safe_power
    return ops


_OPERATORS = _operators()


def evaluate(expression: str, names: dict):
    """Evaluate a vetted expression over `names` (the task data)."""
    check_expression(expression)
    evaluator = simpleeval.EvalWithCompoundTypes(operators=_OPERATORS, functions=SAFE_FUNCTIONS, names=names)
    return evaluator.eval(expression.strip())


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow environment that evaluates with the sandbox and never executes scripts."""

    def evaluate(self, expression, context, external_context=None):
        names = dict(context)
        if external_context:
            names.update(external_context)
        return evaluate(expression, names)

    def execute(self, script, context, external_context=None):
        raise ExpressionError("script execution is disabled in this engine")

    def call_service(self, context, **kwargs):  # pragma: no cover - the engine overrides call_service
        raise ExpressionError("service calls go through the handler registry")


class SandboxScriptEngine(PythonScriptEngine):
    """Script engine for one step: sandboxed expressions; service tasks call registered handlers
    through `service_caller(task, name, params) -> dict`."""

    def __init__(self, service_caller=None):
        super().__init__(environment=SandboxEnvironment())
        self.service_caller = service_caller

    def validate(self, expression):
        try:
            check_expression(expression)
        except ExpressionError as exc:
            raise SyntaxError(str(exc)) from None

    def call_service(self, task, operation_name=None, operation_params=None, **_):
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        return json.dumps(self.service_caller(task, operation_name, params))
