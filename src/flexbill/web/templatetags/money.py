"""{{ amount|money:currency }} — minor units formatted for people, in the currency's own digits and the locale of
the organization whose page is being rendered ("$1,234.50" in en_US, "1.234,50 €" in de_DE)."""

from django import template

from flexbill.web.money import display_locale, format_money

register = template.Library()


@register.filter
def money(amount, currency):
    if amount is None or not currency:
        return ""
    return format_money(int(amount), currency, display_locale())
