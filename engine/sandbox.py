"""Sandboxed expressions: every condition, timer, parameter and multi-instance expression of a
diagram is checked statically at deploy time and evaluated by simpleeval at run time.

Nothing in a diagram can run Python: no imports, no dunder or private attribute access, no calls
but a short list of pure functions, and script tasks refuse to run. One evaluation is bounded in
time and memory too (see docs/diagram-conventions.md, "Limits"): every value it produces is
measured (elements and characters, nested containers counted deep; digits of numbers), the sizes of
all its intermediate values and its node visits share one step budget, and a deadline is checked at
every node. A constant expression that breaks a bound is refused at deploy.
"""
from __future__ import annotations

import ast
import json
import re
import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import simpleeval
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                              DurationTimerEventDefinition,
                                                              TimeDateEventDefinition, TimerEventDefinition)
from SpiffWorkflow.exceptions import SpiffWorkflowException

MAX_EXPRESSION_LENGTH = 2000
MAX_EXPRESSION_DEPTH = 100        # nesting of the expression's syntax tree
MAX_POWER_EXPONENT = 64
MAX_POWER_BASE = 10**12
MAX_VALUE_SIZE = 100_000          # one value: elements + characters, nested containers counted deep
MAX_EVAL_STEPS = 1_000_000        # one evaluation: node visits + the sizes of all values it produces
MAX_INT_BITS = 4096               # about 1 233 decimal digits
MAX_ROUND_DIGITS = 1000
MAX_EVAL_SECONDS = 1.0            # one evaluation's deadline, checked at every node
MAX_TIMER_YEARS = 100             # a timer's duration (or a cycle's interval)

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
    """An expression that the sandbox refuses, with a readable reason. `code` and `params` (when
    set) let the web layer say it in the reader's language."""

    def __init__(self, message: str, code: str | None = None, **params):
        super().__init__(message)
        self.code = code
        self.params = params


class ExpressionLimit(ExpressionError):
    """An evaluation that would take more time or memory than one expression may."""


def _refuse(reason: str, shown: str, code: str | None = None, **params) -> ExpressionError:
    return ExpressionError(f"{reason}: {shown!r}", code, **params)


@lru_cache(maxsize=4096)
def check_expression(expression: str) -> ast.Expression:
    """Parse and vet an expression; raise ExpressionError saying what is wrong. A constant
    expression (one that reads no data) is evaluated once too: one that breaks the limits is refused."""
    tree = _vetted(expression)
    if _is_constant(tree):
        try:
            _evaluate_tree(expression.strip(), tree, {})
        except ExpressionLimit as exc:
            raise ExpressionLimit(f"{exc}: {_shown(expression)} (it reads no data, so it would fail every time)",
                                  "expression_limit", expression=_shown(expression), reason=str(exc)) from None
        except Exception:  # noqa: BLE001 - other failures are the run's business (an incident)
            pass
    return tree


@lru_cache(maxsize=4096)
def _vetted(expression: str) -> ast.Expression:
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
    except (RecursionError, MemoryError):
        raise _refuse("syntax error (nested too deeply)", expression) from None
    if _depth(tree) > MAX_EXPRESSION_DEPTH:
        raise _refuse(f"nested more than {MAX_EXPRESSION_DEPTH} levels deep", expression)
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


def _depth(tree: ast.AST) -> int:
    deepest, todo = 0, [(tree, 1)]
    while todo:
        node, level = todo.pop()
        deepest = max(deepest, level)
        todo.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _is_constant(tree: ast.AST) -> bool:
    """True when the expression reads no data key (only literals, functions and its own loop names)."""
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else loaded).add(node.id)
    return not (loaded - bound - set(SAFE_FUNCTIONS))


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


# -- timers -----------------------------------------------------------------------------------------

TIMER_KINDS = {"timeDate": "date", "timeDuration": "duration", "timeCycle": "cycle"}
_TIMER_EXAMPLES = {"date": "'2026-03-01T09:00:00+08:00'", "duration": "'P7D'", "cycle": "'R3/PT1H'", None: "'P7D'"}
_REFERENCE = datetime(2000, 1, 1, tzinfo=timezone.utc)   # durations are measured from a fixed instant


def check_timer_expression(expression: str, kind: str | None = None) -> None:
    """A timer's expression must be able to yield what the timer needs (`kind`: timeDate,
    timeDuration or timeCycle; None accepts any): an ISO-8601 value must be quoted and is checked
    with SpiffWorkflow's own timer parser, a constant expression is evaluated and checked the same
    way, a data key is checked when the timer starts (a bad value becomes an incident), and any
    other expression must be able to give text."""
    kind = TIMER_KINDS.get(kind, kind)
    tree = check_expression(expression)
    body, text = tree.body, expression.strip()
    if isinstance(body, ast.Name) and _ISO_LIKE.match(body.id):
        raise _refuse("an ISO-8601 duration or date must be quoted (write \"'PT5M'\")", expression,
                      "timer_not_text", expression=text, example=_TIMER_EXAMPLES[kind])
    if isinstance(body, ast.Name):
        return
    if _is_constant(tree):
        try:
            value = _evaluate_tree(text, tree, {})
        except ExpressionError:
            raise
        except Exception as exc:  # noqa: BLE001 - a constant that cannot be evaluated never will be
            raise _refuse(f"the timer cannot be evaluated ({exc.__class__.__name__}: {exc})", expression,
                          "timer_not_text", expression=text, example=_TIMER_EXAMPLES[kind]) from None
        problem = timer_value_problem(value, kind)
        if problem:
            raise ExpressionError(f"timer {_shown(text)} is not an ISO-8601 {kind or 'date, duration or cycle'}: "
                                  f"{problem}", f"timer_bad_{kind}" if kind else None, expression=text,
                                  example=_TIMER_EXAMPLES[kind], years=MAX_TIMER_YEARS)
        return
    if not _may_be_text(body):
        raise _refuse("a timer needs an ISO-8601 date, duration or cycle as text, and this expression cannot "
                      "give text (quote an ISO value, e.g. \"'P7D'\", or name a data key)", expression,
                      "timer_not_text", expression=text, example=_TIMER_EXAMPLES[kind])


def timer_value_problem(value, kind: str | None) -> str | None:
    """Why `value` cannot serve a timer of `kind` (date, duration, cycle; None: any), or None when
    it can. SpiffWorkflow's own parser decides; a duration may be at most MAX_TIMER_YEARS long."""
    kind = TIMER_KINDS.get(kind, kind)
    if not isinstance(value, str):
        return f"the value is {type(value).__name__}, not text"
    if kind is None:
        problems = [timer_value_problem(value, k) for k in ("date", "duration", "cycle")]
        return None if None in problems else problems[1 if value.upper().startswith("P") else
                                                      2 if value.upper().startswith("R") else 0]
    if kind == "duration":
        return _duration_problem(value)
    if kind == "date":
        try:
            moment = TimerEventDefinition.parse_time_or_duration(value)
        except Exception:  # noqa: BLE001 - SpiffWorkflow raises plain Exception, ValueError, AttributeError
            moment = None
        return None if isinstance(moment, datetime) else "no such date and time (e.g. 2026-03-01T09:00:00+08:00)"
    if kind == "cycle":
        return _cycle_problem(value)
    raise ValueError(f"unknown timer kind {kind!r}")


def _duration_problem(value: str) -> str | None:
    if not value.upper().startswith("P"):
        return "a duration starts with P (e.g. P7D, PT4H)"
    try:
        parsed = TimerEventDefinition.parse_iso_duration(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises a plain Exception
        return "not a duration (e.g. P7D, PT4H, P1M)"
    if not parsed:
        return "the duration names no amount (e.g. P7D)"
    limit = timedelta(days=366 * MAX_TIMER_YEARS)
    if parsed.get("years", 0) * 12 + parsed.get("months", 0) > 12 * MAX_TIMER_YEARS:
        return f"longer than {MAX_TIMER_YEARS} years"
    try:
        length = TimerEventDefinition.get_timedelta_from_start(dict(parsed), _REFERENCE)
    except (OverflowError, ValueError):
        return f"longer than {MAX_TIMER_YEARS} years"
    return f"longer than {MAX_TIMER_YEARS} years" if length > limit else None


def _cycle_problem(value: str) -> str | None:
    parts = value.upper().replace("--", "/").split("/")
    if len(parts) not in (2, 3) or not re.fullmatch(r"R\d*", parts[0]):
        return "a cycle is R[n]/duration, R[n]/start/duration or R[n]/duration/end (e.g. R3/PT1H)"
    for part in parts[1:]:
        problem = _duration_problem(part) if part.startswith("P") else timer_value_problem(part, "date")
        if problem:
            return f"{part}: {problem}"
    if sum(p.startswith("P") for p in parts[1:]) != 1:
        return "a cycle needs exactly one duration"
    return None


def _may_be_text(node: ast.AST) -> bool:
    """False when an expression can only give a number, a truth value or a container."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, (ast.Compare, ast.UnaryOp, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp,
                         ast.GeneratorExp)):
        return False
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Add):
            return _may_be_text(node.left) or _may_be_text(node.right)
        if isinstance(node.op, ast.Mult):
            return _may_be_text(node.left) or _may_be_text(node.right)
        return False    # - / // % ** give numbers (% on text is refused)
    if isinstance(node, ast.BoolOp):
        return any(_may_be_text(v) for v in node.values)
    if isinstance(node, ast.IfExp):
        return _may_be_text(node.body) or _may_be_text(node.orelse)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id in ("str", "min", "max")
        return node.func.attr in ("get", "lower", "upper", "strip")
    return True     # a data key, an item of one


# -- evaluation ---------------------------------------------------------------------------------------

def _limit(reason: str) -> ExpressionLimit:
    return ExpressionLimit(reason, "expression_limit")


def _safe_power(base, exponent):
    if abs(exponent) > MAX_POWER_EXPONENT or abs(base) > MAX_POWER_BASE:
        raise _limit(f"power too large (base at most {MAX_POWER_BASE}, exponent at most {MAX_POWER_EXPONENT})")
    return base ** exponent


def _repeat_size(a, b) -> int:
    for seq, times in ((a, b), (b, a)):
        if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
            return len(seq) * times
    return 0


def _safe_mult(a, b):
    if _repeat_size(a, b) > MAX_VALUE_SIZE:
        raise _limit(f"repetition too long (a value may hold at most {MAX_VALUE_SIZE} elements and characters)")
    return a * b


def _safe_add(a, b):
    if isinstance(a, (str, list, tuple)) and isinstance(b, (str, list, tuple)) and len(a) + len(b) > MAX_VALUE_SIZE:
        raise _limit(f"joined value too long (a value may hold at most {MAX_VALUE_SIZE} elements and characters)")
    return a + b


def _safe_mod(a, b):
    if isinstance(a, str):
        raise _limit("text formatting with % is not allowed")
    return a % b


def _safe_sum(iterable, start=0):
    if isinstance(start, bool) or not isinstance(start, (int, float)):
        raise _limit("sum() adds numbers only")
    return sum(iterable, start)


def _safe_round(number, ndigits=None):
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise _limit(f"round() to more than {MAX_ROUND_DIGITS} digits")
    return round(number) if ndigits is None else round(number, ndigits)


def _operators():
    ops = dict(simpleeval.DEFAULT_OPERATORS)
    ops.update({ast.Pow: _safe_power, ast.Mult: _safe_mult, ast.Add: _safe_add, ast.Mod: _safe_mod})
    return ops


_OPERATORS = _operators()
_FUNCTIONS = {**SAFE_FUNCTIONS, "sum": _safe_sum, "round": _safe_round}
_SCALARS = (bool, float, complex, type(None))
_FORBIDDEN = (type(json),)   # modules


class BoundedEvaluator(simpleeval.EvalWithCompoundTypes):
    """simpleeval with a step budget, a deadline and a size bound on every value it produces.

    `clock` (seconds, monotonic) is injectable so that tests can show the deadline without waiting."""

    def __init__(self, names, clock=time.perf_counter):
        super().__init__(operators=_OPERATORS, functions=dict(_FUNCTIONS), names=names)
        self.clock = clock
        self.steps = 0
        self.deadline = None

    def eval(self, expr, previously_parsed=None):
        self.steps = 0
        self.deadline = self.clock() + MAX_EVAL_SECONDS
        return super().eval(expr, previously_parsed)

    def _eval(self, node):
        self.steps += 1
        if self.steps > MAX_EVAL_STEPS:
            raise _limit(f"evaluation too large (more than {MAX_EVAL_STEPS} steps: nodes visited plus the sizes of the values made)")
        if self.clock() > self.deadline:
            raise _limit(f"evaluation took longer than {MAX_EVAL_SECONDS} s")
        return super()._eval(node)

    def _check_disallowed_items(self, item):
        """simpleeval's check (no modules, no forbidden functions) while measuring the value:
        too large a value is refused, and its size counts against the step budget."""
        size, todo = 0, [item]
        while todo:
            value = todo.pop()
            if isinstance(value, str):
                size += len(value) or 1
            elif isinstance(value, int) and not isinstance(value, bool):
                if value.bit_length() > MAX_INT_BITS:
                    raise _limit(f"number too large (at most {MAX_INT_BITS} bits, about 1233 digits)")
                size += 1
            elif isinstance(value, _SCALARS):
                size += 1
            elif isinstance(value, (list, tuple, set, frozenset, dict)):
                size += 1
                if size + len(value) > MAX_VALUE_SIZE:
                    size += len(value)
                else:
                    todo.extend(value)
                    if isinstance(value, dict):
                        todo.extend(value.values())
            elif isinstance(value, _FORBIDDEN):
                raise simpleeval.FeatureNotAvailable("Sorry, modules are not allowed")
            elif callable(value) and value in simpleeval.DISALLOW_FUNCTIONS:
                raise simpleeval.FeatureNotAvailable("This function is forbidden")
            else:   # dict views, slices, dates: their contents were measured where they came from
                size += len(value) if hasattr(value, "__len__") else 1
            if size > MAX_VALUE_SIZE:
                raise _limit(f"value too large (at most {MAX_VALUE_SIZE} elements and characters)")
        self.steps += size
        if self.steps > MAX_EVAL_STEPS:
            raise _limit(f"evaluation too large (more than {MAX_EVAL_STEPS} steps: nodes visited plus the sizes of the values made)")


def _evaluate_tree(expression: str, tree: ast.Expression, names: dict, clock=time.perf_counter):
    evaluator = BoundedEvaluator(names, clock)
    try:
        return evaluator.eval(expression, previously_parsed=tree.body)
    except simpleeval.IterableTooLong as exc:
        raise _limit(f"{exc} (at most {simpleeval.MAX_COMPREHENSION_LENGTH} items in all the "
                     "comprehensions of one evaluation)") from None
    except simpleeval.NumberTooHigh as exc:
        raise _limit(str(exc)) from None
    except RecursionError:
        raise _limit("evaluation nested too deeply") from None
    except MemoryError:
        raise _limit("evaluation needs too much memory") from None


def evaluate(expression: str, names: dict, *, clock=time.perf_counter):
    """Evaluate a vetted expression over `names` (the task data), within the limits."""
    tree = _vetted(expression)
    try:
        return _evaluate_tree(expression.strip(), tree, names, clock)
    except ExpressionLimit as exc:
        raise ExpressionLimit(f"{exc}: {_shown(expression)}", exc.code, **exc.params) from None


def _shown(expression: str) -> str:
    text = expression.strip()
    return repr(text if len(text) <= 80 else text[:77] + "…")


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

    def evaluate(self, task, expression, external_context=None):
        """SpiffWorkflow's evaluate, saying why the sandbox refused an evaluation, and checking what a
        timer's expression gave (a data key holding no date or duration) before SpiffWorkflow's
        timer code trips over it: both become incidents that say what is wrong."""
        try:
            value = self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException:
            raise
        except ExpressionError as exc:
            raise WorkflowTaskException(f"Error evaluating expression: {exc}", task=task, exception=exc) from None
        except Exception:  # noqa: BLE001 - SpiffWorkflow's own wording for the rest
            return super().evaluate(task, expression, external_context)
        kind = _timer_kind(task, expression)
        if kind:
            problem = timer_value_problem(value, kind)
            if problem:
                raise WorkflowTaskException(
                    f"timer {_timer_name(task)}: {expression.strip()} gives "
                    f"{_shown(str(value))}, which is not an ISO-8601 {kind}: {problem}", task=task)
        return value

    def call_service(self, task, operation_name=None, operation_params=None, **_):
        params = {name: p["value"] for name, p in (operation_params or {}).items()}
        return json.dumps(self.service_caller(task, operation_name, params))


def _timer_kind(task, expression: str) -> str | None:
    """'date', 'duration' or 'cycle' when `expression` is the timer of `task`'s event, else None."""
    event = getattr(task.task_spec, "event_definition", None)
    events = event.event_definitions if isinstance(event, MultipleEventDefinition) else [event]
    for each in events:
        if isinstance(each, TimerEventDefinition) and each.expression == expression:
            if isinstance(each, TimeDateEventDefinition):
                return "date"
            if isinstance(each, DurationTimerEventDefinition):
                return "duration"
            if isinstance(each, CycleTimerEventDefinition):
                return "cycle"
    return None


def _timer_name(task) -> str:
    spec = task.task_spec
    return f"{spec.bpmn_id!r} ({spec.bpmn_name})" if spec.bpmn_name else repr(spec.bpmn_id)
