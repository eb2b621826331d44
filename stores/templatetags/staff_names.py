from django import template

from stores import names

register = template.Library()


@register.filter
def staff_name(user) -> str:
    """{{ sale.cashier|staff_name }}: 王丽, never "丽 王" (stores.names)."""
    return names.staff_name(user)
