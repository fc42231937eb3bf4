"""The demo's seed (demo/src/flexbill_demo/seed.py) through the real services and the local Stripe: a new user finds
refund approvals on and one refund waiting in the queue (docs/rules.md, rule 21)."""

import pytest
from rich.console import Console

from flexbill.accounts.permissions import Permission
from flexbill.billing.models import Refund
from flexbill.stripe_gateway.client import gateway_for
from flexbill_demo.seed import seed_demo

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_an_approval_threshold_and_one_refund_waiting_for_approval():
    org = seed_demo(console=Console(quiet=True))
    org.refresh_from_db()

    assert org.refund_approval_threshold is not None
    [waiting] = Refund.objects.filter(organization=org, status="awaiting_approval")
    assert waiting.amount >= org.refund_approval_threshold
    assert waiting.created_by.email == "clerk@demo.flexbill.test"
    assert not waiting.created_by.memberships.get(organization=org).has_permission(Permission.REFUNDS_APPROVE)
    assert waiting.charge.amount_reserved == waiting.amount
    assert gateway_for(org).refunds_for_charge(waiting.charge.stripe_charge_id) == []
