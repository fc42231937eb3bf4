"""{% if request.membership|can:"billing.invoices.manage" %} — show only what the member's role allows."""

from django import template

register = template.Library()


@register.filter
def can(membership, permission: str) -> bool:
    return bool(membership) and membership.has_permission(permission)
