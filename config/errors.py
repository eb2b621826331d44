"""The one shape of a service's refusal: a ValidationError on a field (or on none), with a code the API
answers as {"code", "message", "field"} and the admin shows next to the field."""

from django.core.exceptions import ValidationError


def field_error(field: str | None, message: str, code: str, /, **params) -> ValidationError:
    error = ValidationError(message, code=code, params=params or None)
    return error if field is None else ValidationError({field: error})
