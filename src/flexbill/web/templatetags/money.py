"""{{ amount|money:currency }} — minor units formatted for people, in the currency's own digits."""

from django import template

from flexbill.web.money import format_money

register = template.Library()


@register.filter
def money(amount, currency):
    if amount is None or not currency:
        return ""
    return format_money(int(amount), currency)
