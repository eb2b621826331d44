"""A refused value is shown next to the field it concerns, in the reader's language.

Every CheckConstraint and UniqueConstraint of the project has a `violation_error_message` (gettext_lazy,
so in the language of whoever reads it) and a `violation_error_code`. Django's
Model.validate_constraints(), which every ModelForm and so every admin page runs, reports a violated
CheckConstraint as an error of the whole form, above it, and without a message its name ("约束
“rule_rate_positive” 是无效的"). Every model of the project mixes in ConstraintErrorsMixin, which puts
each error on the field it concerns:

1. the field the model's `constraint_error_fields` names for the constraint (constraint name → field
   name; None keeps it above the form): for constraints over several fields, e.g. the end of a date range;
2. else the one field the constraint reads (a UniqueConstraint: its fields or expressions, not its
   condition, so a name unique among active rows is the name's error);
3. else above the form, where the message says what is wrong.

A field the form does not show (`exclude`) is never named: its error goes above the form. Django skips
a constraint over a field the form leaves out, so in practice this only concerns the mapping.

tests/config/test_constraint_messages.py fails for a constraint without a translated message and code;
tests/config/test_refused_configuration.py breaks each constraint of an edited model through its page.
"""

from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import router
from django.db.models import F, Q, UniqueConstraint


def _expression_fields(expression) -> set[str]:
    nodes = [expression] if isinstance(expression, F) else expression.flatten()
    return {node.name.split("__", 1)[0] for node in nodes if isinstance(node, F)}


def constraint_fields(constraint) -> set[str]:
    """The model fields a constraint reads (a UniqueConstraint: what must be unique)."""
    if isinstance(constraint, UniqueConstraint):
        if constraint.fields:
            return set(constraint.fields)
        return set().union(*(_expression_fields(e) for e in constraint.expressions))
    return set(Q(constraint.condition).referenced_base_fields)


def constraint_error_field(model, constraint) -> str | None:
    """The field a violation of `constraint` is shown next to, or None for above the form."""
    mapping = getattr(model, "constraint_error_fields", {})
    if constraint.name in mapping:
        return mapping[constraint.name]
    names = constraint_fields(constraint)
    if len(names) != 1:
        return None
    try:
        field = model._meta.get_field(names.pop())
    except FieldDoesNotExist:  # "pk"
        return None
    return None if field.primary_key or not field.concrete else field.name


class ConstraintErrorsMixin:
    """Mix into a model with Meta.constraints: their errors land on their fields (see the module)."""

    # Constraint name → the field its error is shown next to (None: above the form).
    constraint_error_fields: dict[str, str | None] = {}

    def validate_constraints(self, exclude=None):
        using = router.db_for_write(self.__class__, instance=self)
        errors: dict[str, list[ValidationError]] = {}
        for model_class, constraints in self.get_constraints():
            for constraint in constraints:
                try:
                    constraint.validate(model_class, self, exclude=exclude, using=using)
                except ValidationError as error:
                    field = constraint_error_field(model_class, constraint)
                    if field is None or (exclude and field in exclude):
                        field = NON_FIELD_ERRORS
                    errors.setdefault(field, []).append(error)
        if errors:
            raise ValidationError(errors)
