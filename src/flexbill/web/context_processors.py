"""What every page's template may read besides its view's context."""

from flexbill import choices as choices_module


def choices(request) -> dict:
    """The statuses and choices, so a template compares `refund.origin == choices.RefundOrigin.APP` and never writes
    a value out."""
    return {"choices": choices_module}
