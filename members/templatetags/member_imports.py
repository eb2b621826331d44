from django import template

register = template.Library()


@register.simple_tag
def can_import_members(user) -> bool:
    """For the members list's "Import" button: staff whose role may edit members (the HQ admin)."""
    from members.admin_imports import can_import_members as allowed

    return allowed(user)
