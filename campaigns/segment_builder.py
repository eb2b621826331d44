"""The back office's rule builder: its rows as posted (one per rule, ``rules-<key>-<input>``) turned into
the ``rules`` list, and the rules (or the rows posted) turned back into rows to render, each with its
field's inputs and its error.

Rows are numbered by a key the page chose (the script adds rows with new keys; without the script the
server adds and removes them), so a rule's index in the list and its row's key differ: errors are
mapped back through the keys. The same parsing serves the form's submit and the live count.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from campaigns.models import Segment
from campaigns.segments import FIELDS, RuleField

PREFIX = "rules"
_ROW = re.compile(rf"^{PREFIX}-(\d{{1,6}})-field$")
MAX_ROWS = 60

OP_LABELS = {
    "any": _("has any of"),
    "all": _("has all of"),
    "none": _("has none of"),
}


class SegmentForm(forms.Form):
    """The name and description; the rules are the rows (see rows_from_post)."""

    name = forms.CharField(label=capfirst(Segment._meta.get_field("name").verbose_name), max_length=64)
    description = forms.CharField(
        label=capfirst(Segment._meta.get_field("description").verbose_name),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60, "class": "vLargeTextField"}),
    )


@dataclass
class Row:
    key: str
    field: RuleField | None
    op: str = ""
    # What the inputs show: "values" (the ticked choices, as strings) and the scalar inputs.
    values: set[str] = field(default_factory=set)
    levels: set[str] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)
    inputs: dict[str, str] = field(default_factory=dict)
    error: str = ""
    spec: dict | None = None


def _keys(data) -> list[str]:
    keys = sorted({m.group(1) for name in data for m in [_ROW.match(name)] if m}, key=int)
    return keys[:MAX_ROWS]


def _rule_of(rule_field: RuleField, op: str, get, getlist) -> dict:
    kind = rule_field.kind
    if kind in ("choice", "month", "tags"):
        value: Any = [int(v) if v.isdigit() and len(v) < 19 else v for v in getlist("value")]
    elif kind == "range":
        value = {"min": get("min"), "max": get("max")}
    elif kind == "date_range":
        value = {"from": get("from"), "to": get("to")}
    elif kind == "top":
        value = get("n")
    elif kind == "expiring":
        value = {"days": get("n"), "min_points": get("min_points")}
    elif kind == "churn":
        value = {"levels": getlist("levels"), "reasons": getlist("reasons")}
    else:
        value = get("value")
    return {"field": rule_field.name, "op": op or rule_field.ops[0], "value": value}


def rows_from_post(data, *, drop: str | None = None) -> tuple[list[dict], list[Row]]:
    """The rules of the posted rows (blank rows and the row `drop` left out) and the rows to render again.

    A row whose field is unknown still becomes a rule, so that validation names it.
    """
    rules, rows = [], []
    for key in _keys(data):
        if key == drop or data.get(f"{PREFIX}-{key}-remove"):
            continue

        def get(name, key=key):
            return (data.get(f"{PREFIX}-{key}-{name}") or "").strip()[:100]

        def getlist(name, key=key):
            return [v.strip()[:100] for v in data.getlist(f"{PREFIX}-{key}-{name}")][:1000]

        name = get("field")
        if not name:
            rows.append(Row(key=key, field=None))
            continue
        rule_field = FIELDS.get(name)
        if rule_field is None:
            rules.append({"field": name, "op": get("op"), "value": None})
            rows.append(Row(key=key, field=None, inputs={"field": name}))
            continue
        rule = _rule_of(rule_field, get("op"), get, getlist)
        rules.append(rule)
        rows.append(
            Row(
                key=key,
                field=rule_field,
                op=rule["op"],
                values={str(v) for v in getlist("value")},
                levels=set(getlist("levels")),
                reasons=set(getlist("reasons")),
                inputs={n: get(n) for n in ("min", "max", "from", "to", "n", "min_points")},
            )
        )
    return rules, rows


def rows_from_rules(rules: list[dict]) -> list[Row]:
    """Rows showing saved rules (stored by clean_rules, so their shape is known)."""
    rows = []
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        rule_field = FIELDS.get(rule.get("field")) if isinstance(rule, dict) else None
        if rule_field is None:
            continue
        value = rule.get("value")
        row = Row(key=str(index), field=rule_field, op=rule.get("op") or rule_field.ops[0])
        if isinstance(value, list):
            row.values = {str(v) for v in value}
        elif isinstance(value, dict):
            row.levels = set(value.get("levels") or [])
            row.reasons = set(value.get("reasons") or [])
            row.inputs = {k: "" if v is None else str(v) for k, v in value.items() if not isinstance(v, list)}
            if "days" in value:
                row.inputs["n"] = str(value["days"])
        elif value is not None:
            row.inputs = {"n": str(value)}
        rows.append(row)
    return rows


def attach_errors(rows: list[Row], rule_errors: list[tuple[int | None, str]]) -> list[str]:
    """Put each rule's error on its row; return the errors that belong to no row (the whole list's)."""
    rules_keys = keys_of_rules(rows)
    by_key = {row.key: row for row in rows}
    general = []
    for index, message in rule_errors:
        key = rules_keys[index] if index is not None and index < len(rules_keys) else None
        if key is not None and key in by_key:
            row = by_key[key]
            row.error = f"{row.error} {message}".strip()
        else:
            general.append(message)
    return general


def keys_of_rules(rows: list[Row]) -> list[str]:
    """The key of each rule's row, in the rules' order (blank rows make no rule)."""
    return [row.key for row in rows if row.field is not None or row.inputs.get("field")]


def field_specs() -> list[dict]:
    """What the page needs to draw each field's inputs (choices loaded once per page)."""
    specs = []
    for rule_field in FIELDS.values():
        extra_reasons = rule_field.extra.get("reasons")
        specs.append(
            {
                "field": rule_field,
                "name": rule_field.name,
                "kind": rule_field.kind,
                "ops": [(op, OP_LABELS.get(op, op)) for op in rule_field.ops],
                "choices": [(str(v), label) for v, label in rule_field.choices()] if rule_field.choices else [],
                "reasons": [(str(v), label) for v, label in extra_reasons()] if extra_reasons else [],
            }
        )
    return specs


def segment_initial(segment: Segment | None) -> dict:
    if segment is None:
        return {}
    return {"name": segment.name, "description": segment.description}
