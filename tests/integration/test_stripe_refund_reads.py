"""The gateway's refund reads (the sync's hot path) return every refund of a payment, across Stripe's pages."""

import pytest

from flexbill.stripe_gateway.client import gateway_for
from flexbill.stripe_gateway.types import StripeRejected

pytestmark = pytest.mark.django_db


def _refund_in_stripe(org, charge_id: str, amount: int) -> str:
    return gateway_for(org)._v1.refunds.create(params={"charge": charge_id, "amount": amount}).id


def test_refunds_for_reads_every_page_of_a_charges_refunds(org, make_paid_charge):
    charge = make_paid_charge(org, amount=1000)
    made = {_refund_in_stripe(org, charge.stripe_charge_id, 100 + n) for n in range(5)}

    read = gateway_for(org).refunds_for(charge_id=charge.stripe_charge_id, page_size=2)

    assert {r.id for r in read} == made
    assert len(read) == 5  # no page read twice
    assert {r.amount for r in read} == {100, 101, 102, 103, 104}
    assert all(r.charge_id == charge.stripe_charge_id for r in read)


def test_refund_pages_yield_each_refund_of_the_account_once(org, make_paid_charge):
    charges = [make_paid_charge(org, amount=500) for _ in range(3)]
    made = {_refund_in_stripe(org, c.stripe_charge_id, 200) for c in charges}

    pages = list(gateway_for(org).refund_pages(page_size=2))

    assert [len(p) for p in pages] == [2, 1]
    assert {r.id for p in pages for r in p} == made


def test_refunds_for_an_unknown_charge_is_stripes_refusal_not_an_sdk_error(org):
    with pytest.raises(StripeRejected):
        gateway_for(org).refunds_for(charge_id="ch_doesnotexist")
