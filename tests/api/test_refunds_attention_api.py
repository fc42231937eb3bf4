"""The refunds report's "needs attention" list: refunds still in flight or failed, of this organization only."""

from flexbill.billing.models import Refund

STATUSES = ("requested", "pending", "requires_action", "failed", "succeeded", "canceled")


def _refund(charge, status: str) -> Refund:
    # A read model over stored rows: rows in each status are written directly, as the services would leave them.
    return Refund.objects.create(
        organization_id=charge.organization_id,
        charge=charge,
        amount=100,
        currency=charge.currency,
        status=status,
        origin="stripe",
        failure_reason="Card expired" if status == "failed" else "",
    )


def test_refunds_in_flight_and_failed_need_attention_and_settled_ones_do_not(
    org, owner, api_client, make_paid_charge, make_org
):
    charge = make_paid_charge(org)
    refunds = {status: _refund(charge, status) for status in STATUSES}
    other = make_org()
    _refund(make_paid_charge(other), "failed")

    attention = api_client(owner).get("/api/v1/reports/refunds").json()["attention"]

    listed = {r["id"]: r["status"] for r in attention}
    assert listed == {refunds[s].pk: s for s in ("requested", "pending", "requires_action", "failed")}
    failed = next(r for r in attention if r["status"] == "failed")
    assert (failed["invoice"], failed["failure_reason"]) == (charge.invoice.number, "Card expired")
