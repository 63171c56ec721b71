"""The expression sandbox: what diagrams may compute, and the attacks it refuses."""
from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sandbox import (MAX_EVAL_SECONDS, ExpressionError, ExpressionLimit, check_expression,
                            check_timer_expression, evaluate)


@pytest.mark.parametrize("expression, names, expected", [
    ("decision == 'approve'", {"decision": "approve"}, True),
    ("urgency * 2 + complexity", {"urgency": 3, "complexity": 1}, 7),
    ("len(ids) > 1 and 'x' in ids", {"ids": ["x", "y"]}, True),
    ("[lead] + others", {"lead": "a", "others": ["b"]}, ["a", "b"]),
    ("answers.get('d1', 'no_reply')", {"answers": {}}, "no_reply"),
    ("'P7D'", {}, "P7D"),
    ("all(a == 'accept' for a in answers)", {"answers": ["accept", "accept"]}, True),
])
def test_plain_expressions_evaluate(expression, names, expected):
    assert evaluate(expression, names) == expected


@pytest.mark.parametrize("expression", [
    "__import__('os').system('id')",
    "().__class__.__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "(lambda: 1)()",
    "open('/etc/passwd').read()",
    "getattr(x, 'y')",
    "x.__dict__",
    "eval('1')",
    "exec('import os')",
    "globals()",
    "_secret",
    "data.format",
    "${x}",
    "#{x}",
    "=x + 1",
    "x = 1",
    "import os",
])
def test_attacks_and_foreign_syntax_are_refused_with_a_reason(expression):
    with pytest.raises(ExpressionError) as info:
        check_expression(expression)
    assert str(info.value)


@pytest.mark.parametrize("expression", ["9**9**9", "10**100", "'a' * 10**6", "[1] * 10**8"])
def test_resource_bombs_are_refused_quickly(expression):
    started = time.perf_counter()
    with pytest.raises(Exception) as info:
        evaluate(expression, {})
    assert not isinstance(info.value, (MemoryError, RecursionError))
    assert time.perf_counter() - started < 1


# Before the bounds (simpleeval as configured until issue 10), measured on the 2-core machine:
# [[1]*3000]*3000 3.5 s, [[1]*10000]*10000 37 s, len([[1]*3000]*3000) 1.3 s, all answered;
# sum([[1]*1000]*300, []) 0.6 s; str(...) of a nested list, % formatting and comprehensions of
# 100 000-character texts allocated as much as they liked.
BOMBS = [
    "[[1]*3000]*3000",
    "[[1]*10000]*10000",
    "len([[1]*3000]*3000)",
    "'a'*10**8",
    "[[x for x in [1]*9999] for y in [1]*9999]",
    "['a'*99999 for x in [1]*99]",
    "[[0]*9999 for x in [1]*999]",
    "str([[1]*3000]*300)",
    "sum([[1]*1000]*300, [])",
    "'%0999999d' % 1",
    "round(1, -10**6)",
    "int('9'*4000) * int('9'*4000)",
    "[len(x) for x in ['a'*99999]*999]",
]


@pytest.mark.parametrize("expression", BOMBS)
def test_one_evaluation_is_bounded_in_time_and_refused_with_the_sandbox_error(expression):
    started = time.perf_counter()
    with pytest.raises(ExpressionLimit) as info:
        evaluate(expression, {})
    assert time.perf_counter() - started < 0.5
    assert expression[:20] in str(info.value)       # the message names the expression
    with pytest.raises(ExpressionLimit):            # and deploy refuses it: it reads no data
        check_expression(expression)


@pytest.mark.parametrize("expression", ["['a'*99999 for x in [1]*999]", "[[0]*9999 for x in [1]*999]",
                                        "str([[1]*3000]*300)"])
def test_one_evaluation_is_bounded_in_memory(expression):
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionLimit):
            evaluate(expression, {})
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"{expression} took {peak} bytes"


def test_the_same_bombs_over_task_data_are_refused_at_run_time_only():
    expression = "[[1]*n]*n"
    assert check_expression(expression)             # reads data: cannot be judged at deploy
    assert evaluate(expression, {"n": 3}) == [[1, 1, 1]] * 3
    with pytest.raises(ExpressionLimit, match="value too large"):
        evaluate(expression, {"n": 3000})


def test_the_deadline_is_checked_at_every_node():
    ticks = iter(range(0, 10**6))
    slow_clock = lambda: next(ticks) * MAX_EVAL_SECONDS / 4    # noqa: E731 - every node "takes" a quarter
    assert evaluate("1 + 1", {}, clock=slow_clock) == 2
    with pytest.raises(ExpressionLimit, match="longer than"):
        evaluate("[x + 1 for x in ids]", {"ids": [1, 2, 3, 4, 5, 6]}, clock=slow_clock)


@pytest.mark.parametrize("expression, names, expected", [
    ("len(ids)", {"ids": list(range(5000))}, 5000),
    ("sum(scores) / len(scores)", {"scores": [3, 4, 5]}, 4),
    ("sum([1.5, 2.5], 1)", {}, 5.0),
    ("round(rate * 100, 1)", {"rate": 0.98765}, 98.8),
    ("'P' + str(days) + 'D'", {"days": 7}, "P7D"),
    ("[d for d in departments if d != lead]", {"departments": ["a", "b", "c"], "lead": "b"}, ["a", "c"]),
    ("10**64 * 10**64", {}, 10**128),
    ("'-' * 40", {}, "-" * 40),
    ("description.strip()", {"description": " 路灯不亮 " * 1000}, (" 路灯不亮 " * 1000).strip()),
])
def test_ordinary_expressions_stay_within_the_bounds(expression, names, expected):
    assert evaluate(expression, names) == expected


def test_timer_expressions_must_quote_iso_values():
    check_timer_expression("'PT5M'")
    check_timer_expression("report_due")
    with pytest.raises(ExpressionError, match="quoted"):
        check_timer_expression("PT5M")
    with pytest.raises(ExpressionError, match="ISO-8601"):
        check_timer_expression("'soon'")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_no_text_makes_the_checker_crash_or_run_code(text):
    try:
        check_expression(text)
    except ExpressionError:
        return
    try:
        evaluate(text, {})
    except Exception as exc:  # evaluation errors are fine; escaping the sandbox is not
        assert not isinstance(exc, (SystemExit, KeyboardInterrupt))


@pytest.mark.parametrize("expression, kind, code", [
    ("P-banana", "timeDuration", "timer_not_text"),           # P minus banana: a number at best
    ("'P-banana'", "timeDuration", "timer_bad_duration"),
    ("'P1banana'", "timeDuration", "timer_bad_duration"),
    ("'P'", "timeDuration", "timer_bad_duration"),
    ("'P99999999Y'", "timeDuration", "timer_bad_duration"),   # SpiffWorkflow would count 1.2e9 months
    ("'2026-03-01T09:00:00+08:00'", "timeDuration", "timer_bad_duration"),
    ("'2026-13-45'", "timeDate", "timer_bad_date"),
    ("'2026-02-30'", "timeDate", "timer_bad_date"),
    ("'P7D'", "timeDate", "timer_bad_date"),
    ("'R3/banana'", "timeCycle", "timer_bad_cycle"),
    ("'P1D'", "timeCycle", "timer_bad_cycle"),
    ("7 * 24", "timeDuration", "timer_bad_duration"),           # constant, evaluated: a number
    ("'P' + '1X'", "timeDuration", "timer_bad_duration"),
    ("len(report_due)", "timeDate", "timer_not_text"),
    ("due > 3", "timeDate", "timer_not_text"),
])
def test_a_timer_that_cannot_yield_a_duration_or_date_is_refused(expression, kind, code):
    with pytest.raises(ExpressionError) as info:
        check_timer_expression(expression, kind)
    assert info.value.code == code and info.value.params["expression"] == expression
    assert "ISO-8601" in str(info.value)


@pytest.mark.parametrize("expression, kind", [
    ("'P7D'", "timeDuration"), ("'PT0.5S'", "timeDuration"), ("'P1Y2M3DT4H'", "timeDuration"),
    ("'P' + '1D'", "timeDuration"), ("'P' + str(days) + 'D'", "timeDuration"),
    ("'2026-03-01T09:00:00+08:00'", "timeDate"), ("'2026-03-01'", "timeDate"),
    ("'R3/PT1H'", "timeCycle"), ("'R/2026-01-01T00:00:00+08:00/P1D'", "timeCycle"),
    ("report_due", "timeDate"), ("data['due']", "timeDate"), ("due if urgent else 'P7D'", "timeDuration"),
])
def test_timers_that_can_yield_a_duration_or_date_pass(expression, kind):
    check_timer_expression(expression, kind)
