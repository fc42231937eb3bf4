"""Statuses and choices are written once, in flexbill/choices.py; code everywhere else names a member
(`RefundStatus.SUCCEEDED`). A bare value in a comparison, an assignment, a keyword argument, a default or a return
is a copy that drifts: this check finds them in src/ by reading the syntax tree, and in the templates, which
compare with `choices.RefundOrigin.APP` (flexbill.web.context_processors.choices).

A string that only looks like a choice (Stripe's own vocabulary, which happens to share some words) carries the
comment `# vocabulary: stripe` on its line.
"""

import ast
import re
from pathlib import Path

import pytest

from flexbill import choices

pytestmark = pytest.mark.nostripe

SRC = Path(__file__).resolve().parents[2] / "src" / "flexbill"
CHOICES_MODULE = SRC / "choices.py"
PRAGMA = "# vocabulary: stripe"
# Keyword arguments and attributes whose strings name fields, forms or people, never a stored choice.
NAMES = frozenset({"update_fields", "fields", "label", "only", "defer", "related_name", "related_query_name", "prefix"})
CHOICE_VALUES = frozenset(value for cls in choices.ALL for value in cls.values)


def _strings(node: ast.AST):
    """The string constants an expression evaluates to directly. A collection counts only when all its strings
    are choice values: ("user", "organization") lists field names, ("draft", "voided") lists statuses."""
    if isinstance(node, ast.Constant):
        return [node] if isinstance(node.value, str) else []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        found = [c for element in node.elts for c in _strings(element)]
        return found if all(c.value in CHOICE_VALUES for c in found) else []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("frozenset", "set", "tuple"):
        return [c for arg in node.args for c in _strings(arg)]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [c for value in node.values for c in _strings(value)]
    return []


def _value_positions(node: ast.AST) -> list[ast.AST]:
    """Where a string is used as a value of something: compared, assigned, passed, defaulted, returned."""
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.Assign) and all(_name(target) in NAMES for target in node.targets):
        return []
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Return | ast.MatchValue):
        return [node.value] if node.value is not None else []
    if isinstance(node, ast.keyword):
        return [] if node.arg in NAMES else [node.value]
    if isinstance(node, ast.arguments):
        return [*node.defaults, *(d for d in node.kw_defaults if d is not None)]
    if isinstance(node, ast.Dict):
        return list(node.values)
    return []


def _name(target: ast.AST) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    return target.attr if isinstance(target, ast.Attribute) else None


def bare_choice_values(source: str) -> list[tuple[int, str]]:
    """(line, value) of every choice value written out in `source`."""
    lines = source.splitlines()
    found = set()
    for node in ast.walk(ast.parse(source)):
        for position in _value_positions(node):
            for constant in _strings(position):
                if constant.value in CHOICE_VALUES and PRAGMA not in lines[constant.lineno - 1]:
                    found.add((constant.lineno, constant.value))
    return sorted(found)


TEMPLATE_COMPARISON = re.compile(r"""(?:==|!=|\bin)\s*(["'])([^"']*)\1|(["'])([^"']*)\3\s*(?:==|!=)""")


def bare_choice_values_in_template(text: str) -> list[tuple[int, str]]:
    """(line, value) of every choice value a template compares with, written out."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in TEMPLATE_COMPARISON.finditer(line):
            value = match.group(2) if match.group(2) is not None else match.group(4)
            if value in CHOICE_VALUES:
                found.append((number, value))
    return found


def test_no_status_or_choice_value_is_written_out_of_the_choices_module():
    offenders = [
        f"{path.relative_to(SRC.parent)}:{line}: {value!r}"
        for path in sorted(SRC.rglob("*.py"))
        if path != CHOICES_MODULE and "migrations" not in path.parts
        for line, value in bare_choice_values(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "Name the member from flexbill/choices.py instead:\n" + "\n".join(offenders)


def test_no_template_compares_with_a_written_out_status_or_choice():
    offenders = [
        f"{path.relative_to(SRC.parent)}:{line}: {value!r}"
        for path in sorted(SRC.rglob("templates/**/*"))
        if path.suffix in (".html", ".txt")
        for line, value in bare_choice_values_in_template(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "Compare with choices.<Class>.<MEMBER> instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "line",
    [
        '{% if refund.origin == "app" %}',
        "{% if event.state == 'failed' %}",
        "{% if 'succeeded' != delivery.status %}",
        '{% if key in "refund_pending" %}',
    ],
)
def test_a_template_comparing_with_a_bare_choice_value_is_found(line):
    assert bare_choice_values_in_template(line) != []


@pytest.mark.parametrize(
    "line",
    [
        "{% if refund.origin == choices.RefundOrigin.APP %}",
        '{% if via == "delete" %}',
        '<span class="badge badge-failed">Failed</span>',
        "{% if message.level_tag == 'error' %}",
    ],
)
def test_other_template_strings_are_left_alone(line):
    assert bare_choice_values_in_template(line) == []


@pytest.mark.parametrize(
    "snippet",
    [
        'Refund.objects.create(status="succeeded")',
        'refund.status = "failed"',
        'if charge.status == "refunded":\n    pass',
        'if "refunded" in statuses:\n    pass',
        'qs.filter(status__in=["requested", "pending"])',
        'IN_FLIGHT = frozenset({"requested", "pending"})',
        'def invoice_create(*, status="awaiting_payment"):\n    pass',
        'def label(charge):\n    return "partially_refunded"',
        'state = "ignored" if done else "applied"',
        'status = stripe_status or "pending"',
        'after = {"status": "refunded"}',
        'membership_create(role="owner")',
        'match status:\n    case "canceled":\n        pass',
    ],
)
def test_a_bare_choice_value_is_found(snippet):
    assert bare_choice_values(snippet) != []


@pytest.mark.parametrize(
    "snippet",
    [
        "Refund.objects.create(status=RefundStatus.SUCCEEDED)",
        'endpoint.save(update_fields=["active"])',
        'refund = models.OneToOneField(Refund, related_name="credit_note")',
        'prefix = "credit_note"',
        'list_display = ("user", "organization", "role")',
        'STRIPE = Actor(type=ActorType.STRIPE, label="stripe")',
        'message = "The refund failed."',
        'log.info("refund %s", "succeeded")',
        'counts = {"succeeded": 1}',
        'if intent["status"] == "requires_action":  # vocabulary: stripe\n    pass',
        'if intent["status"] in ("requires_payment_method", "canceled"):\n    pass',
    ],
)
def test_other_strings_are_left_alone(snippet):
    assert bare_choice_values(snippet) == []


def test_every_choice_class_is_checked():
    """A TextChoices class added to flexbill/choices.py but not to choices.ALL would escape the check."""
    defined = {
        value
        for value in vars(choices).values()
        if isinstance(value, type) and issubclass(value, choices.TextChoices) and value is not choices.TextChoices
    }
    assert defined == set(choices.ALL)
