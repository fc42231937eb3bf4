"""Bulk refunds in the admin UI: the invoice list's selection, the preview, starting a batch, its page and its CSV
(docs/rules.md, rule 22)."""

import csv
import io
import re

import pytest

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Refund
from flexbill.refund_batches.models import RefundBatch
from flexbill.refund_batches.services import refund_batch_create, refund_batch_run
from web_calls import signed_in

pytestmark = pytest.mark.django_db
KEY = {"idempotency_key": "web-0123456789abcdef"}  # the preview's one-time key, as the page sends it


def test_the_invoice_list_offers_selection_only_to_those_who_may_refund(org, owner_web, make_member, paid_charge):
    html = owner_web.get("/").content.decode()
    assert 'data-testid="refund-selected"' in html
    assert f'name="invoice" value="{paid_charge.invoice_id}"' in html

    html = signed_in(make_member(org, "member")).get("/").content.decode()
    assert 'data-testid="refund-selected"' not in html
    assert 'name="invoice"' not in html


def test_the_preview_counts_the_charges_the_total_and_says_why_some_would_be_refused(
    org, owner, owner_web, make_paid_charge, make_customer, make_invoice
):
    first, second = make_paid_charge(org, amount=12000), make_paid_charge(org, amount=3000)
    customer, _ = make_customer(org)
    transfer = make_invoice(org, customer, total=4000, payment_method="bank_transfer")
    services.charge_record(invoice=transfer, source="manual", amount=4000, reference="T-1", actor=SYSTEM)
    response = owner_web.post("/refund-batches/new/", {"invoice": [first.invoice_id, second.invoice_id, transfer.pk]})

    assert response.status_code == 200
    html = response.content.decode()
    assert '<dd data-testid="preview-count">3</dd>' in html
    assert '<dd data-testid="preview-refundable">2</dd>' in html
    assert '<dd data-testid="preview-total">$150.00</dd>' in html
    assert "this charge was recorded from another system" in html
    assert "Refund 2 charges" in html
    assert not Refund.objects.exists()  # a preview sends nothing


def test_the_preview_of_a_percentage_shows_each_rounded_refund(org, owner_web, make_paid_charge):
    charge = make_paid_charge(org, amount=3333)
    form = {"charges": str(charge.pk), "amount_mode": "percent", "percent": "50", "reason": "other"}
    response = owner_web.post("/refund-batches/new/", form)
    assert '<dd data-testid="preview-total">$16.67</dd>' in response.content.decode()


@pytest.mark.parametrize("typed", ["0", "101", "12.5", "٥٠", "50%", "-5", "", "1e2"])
def test_a_percentage_that_is_not_a_whole_number_from_1_to_100_is_refused_with_a_message(
    org, owner_web, paid_charge, typed
):
    form = {"charges": str(paid_charge.pk), "amount_mode": "percent", "percent": typed, "reason": "other", **KEY}
    response = owner_web.post("/refund-batches/", form)
    assert response.status_code == 400
    assert "Type a whole percentage from 1 to 100, like 50." in response.content.decode()
    assert not RefundBatch.objects.exists()


def test_select_all_matching_the_filter_takes_every_matching_invoice_of_every_page(
    org, owner_web, make_paid_charge, make_customer, make_invoice
):
    cards = [make_paid_charge(org, amount=1000 + n) for n in range(3)]
    customer, _ = make_customer(org)
    make_invoice(org, customer, total=500, payment_method="bank_transfer")
    response = owner_web.post("/refund-batches/new/", {"all_matching": "1", "payment_method": "stripe_card"})

    html = response.content.decode()
    assert '<dd data-testid="preview-count">3</dd>' in html
    assert f'value="{",".join(str(c.pk) for c in sorted(cards, key=lambda c: c.invoice_id))}"' in html


def test_nothing_selected_is_a_message_not_an_error(owner_web):
    response = owner_web.post("/refund-batches/new/", {})
    assert response.status_code == 200
    assert "Tick the invoices to refund, or select all matching the filter." in response.content.decode()


def test_starting_the_refund_queues_a_batch_and_opens_its_page(org, owner, owner_web, make_paid_charge):
    charges = [make_paid_charge(org, amount=2000), make_paid_charge(org, amount=3000)]
    response = owner_web.post(
        "/refund-batches/",
        {
            "charges": ",".join(str(c.pk) for c in charges),
            "amount_mode": "full",
            "reason": "duplicate",
            "note": "Oops",
            **KEY,
        },
    )

    batch = RefundBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/refund-batches/{batch.pk}/"
    assert (batch.status, batch.reason, batch.note, batch.membership_id) == ("queued", "duplicate", "Oops", owner.pk)
    assert list(batch.items.values_list("charge_id", flat=True)) == [c.pk for c in charges]
    html = owner_web.get(f"/refund-batches/{batch.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in html  # the page follows the worker until the batch is done
    assert "0 of 2 done" in html


def test_a_damaged_or_foreign_selection_is_refused_with_a_message(org, owner_web, make_org, make_paid_charge):
    theirs = make_paid_charge(make_org())
    for charges in ("1,,2", "abc", "1;DROP", "١"):
        response = owner_web.post(
            "/refund-batches/", {"charges": charges, "amount_mode": "full", "reason": "other", **KEY}
        )
        assert response.status_code == 400
        assert "The selection was damaged; select the invoices again." in response.content.decode()
    response = owner_web.post(
        "/refund-batches/", {"charges": str(theirs.pk), "amount_mode": "full", "reason": "other", **KEY}
    )
    assert response.status_code == 404
    assert f"No such charge: {theirs.pk}. Nothing was refunded." in response.content.decode()
    assert not RefundBatch.objects.exists()


def test_members_who_may_not_refund_can_neither_preview_nor_start_a_batch(org, make_member, paid_charge):
    member = signed_in(make_member(org, "member"))
    assert member.post("/refund-batches/new/", {"invoice": [paid_charge.invoice_id]}).status_code == 403
    response = member.post("/refund-batches/", {"charges": str(paid_charge.pk), "amount_mode": "full", **KEY})
    assert response.status_code == 403
    assert not RefundBatch.objects.exists()


def test_a_finished_batch_page_stops_refreshing_and_its_csv_neutralises_formulas(
    org, owner, owner_web, make_customer, make_invoice
):
    customer, method = make_customer(org)
    customer.name = '=HYPERLINK("http://evil.example","x")'
    customer.save()
    invoice = make_invoice(org, customer, total=2500)
    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)
    batch = refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[charge.pk], note="+1 cmd")
    assert refund_batch_run(batch_id=batch.pk, token=str(batch.claim_token))

    html = owner_web.get(f"/refund-batches/{batch.pk}/").content.decode()
    assert "hx-trigger" not in html
    assert "1 of 1 done" in html
    response = owner_web.get(f"/refund-batches/{batch.pk}/results.csv")
    assert response["Content-Disposition"] == f'attachment; filename="refund-batch-{batch.pk}.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["customer"] == '\'=HYPERLINK("http://evil.example","x")'
    assert (rows[0]["status"], rows[0]["refund_amount"], rows[0]["refund_status"]) == ("succeeded", "2500", "succeeded")


def test_another_organizations_batch_is_not_found(org, owner_web, make_org, make_member, make_paid_charge):
    other = make_org()
    batch = refund_batch_create(
        actor=Actor.for_membership(make_member(other, "owner")), charge_ids=[make_paid_charge(other).pk]
    )
    assert owner_web.get(f"/refund-batches/{batch.pk}/").status_code == 404
    assert owner_web.get(f"/refund-batches/{batch.pk}/results.csv").status_code == 404


def test_every_member_sees_the_organizations_refund_batches_and_only_theirs(
    org, owner, make_member, make_org, make_paid_charge
):
    ours = refund_batch_create(actor=Actor.for_membership(owner), charge_ids=[make_paid_charge(org).pk], percent=20)
    other = make_org()
    theirs = refund_batch_create(
        actor=Actor.for_membership(make_member(other, "owner")), charge_ids=[make_paid_charge(other).pk]
    )

    html = signed_in(make_member(org, "member")).get("/refund-batches/").content.decode()
    assert f'<tr data-batch-id="{ours.pk}">' in html
    assert "20 %" in html and owner.user.email in html
    assert f'data-batch-id="{theirs.pk}"' not in html


def test_a_selection_of_more_charges_than_a_batch_holds_is_previewed_with_a_message_and_cannot_start(
    org, owner_web, make_paid_charge, monkeypatch
):
    from flexbill.refund_batches import rules

    monkeypatch.setattr(rules, "MAX_CHARGES", 2)  # a batch's limit, 1,000, made small enough to reach here
    for amount in (1000, 2000, 3000):
        make_paid_charge(org, amount=amount)
    html = owner_web.post("/refund-batches/new/", {"all_matching": "1"}).content.decode()

    assert "The selection has more than 2 charges; a batch refunds at most 2." in html
    assert 'data-testid="start-refund"' not in html


def test_the_preview_says_which_refunds_would_wait_for_approval(org, owner_web, make_paid_charge):
    org.refund_approval_threshold = 5000
    org.save(update_fields=["refund_approval_threshold"])
    large, small = make_paid_charge(org, amount=8000), make_paid_charge(org, amount=2000)
    form = {"charges": f"{large.pk},{small.pk}", "amount_mode": "full", "reason": "other"}
    html = owner_web.post("/refund-batches/new/", form).content.decode()

    assert '<dd data-testid="preview-approval-count">1</dd>' in html
    approval_table = html[html.index('data-testid="preview-approval"') :]
    assert f'data-charge-id="{large.pk}"' in approval_table.split("</table>")[0]
    assert f'data-charge-id="{small.pk}"' not in approval_table.split("</table>")[0]


def preview_form(html: str) -> dict:
    """The hidden fields of the rendered preview's form, as the browser sends them."""
    fields = dict(re.findall(r'<input type="hidden" name="(charges|idempotency_key)" value="([^"]*)"', html))
    return {**fields, "amount_mode": "percent", "percent": "20", "reason": "other"}


def test_each_rendering_of_the_preview_carries_its_own_one_time_key(org, owner_web, paid_charge):
    first = preview_form(owner_web.post("/refund-batches/new/", {"invoice": [paid_charge.invoice_id]}).content.decode())
    updated = preview_form(owner_web.post("/refund-batches/new/", first).content.decode())

    assert re.fullmatch(r"web-[0-9a-f]{32}", first["idempotency_key"])
    assert re.fullmatch(r"web-[0-9a-f]{32}", updated["idempotency_key"])
    assert updated["idempotency_key"] != first["idempotency_key"]  # "Update preview" makes a new request
    assert updated["charges"] == first["charges"] == str(paid_charge.pk)


def test_the_bulk_refund_form_sent_twice_starts_one_batch_and_refunds_once(org, owner_web, make_paid_charge):
    charges = [make_paid_charge(org, amount=2000), make_paid_charge(org, amount=3333)]
    html = owner_web.post("/refund-batches/new/", {"invoice": [c.invoice_id for c in charges]}).content.decode()
    form = preview_form(html)

    first = owner_web.post("/refund-batches/", form)
    double_click = owner_web.post("/refund-batches/", form)
    batch = RefundBatch.objects.get()
    assert first.status_code == double_click.status_code == 302
    assert first["Location"] == double_click["Location"] == f"/refund-batches/{batch.pk}/"
    assert refund_batch_run(batch_id=batch.pk, token=str(batch.claim_token))
    # The browser sends the form again once the batch is done (back, "resubmit"): its page, no second 20 %.
    resent = owner_web.post("/refund-batches/", form)

    assert (resent.status_code, resent["Location"]) == (302, f"/refund-batches/{batch.pk}/")
    assert RefundBatch.objects.count() == 1
    assert sorted(Refund.objects.values_list("charge_id", "amount")) == [(charges[0].pk, 400), (charges[1].pk, 667)]


def test_the_same_form_sent_again_with_another_amount_is_refused_with_a_message_and_a_new_key(
    org, owner_web, paid_charge
):
    form = preview_form(owner_web.post("/refund-batches/new/", {"invoice": [paid_charge.invoice_id]}).content.decode())
    owner_web.post("/refund-batches/", form)
    RefundBatch.objects.update(status="done")  # its charges are free again

    response = owner_web.post("/refund-batches/", {**form, "percent": "30"})

    html = response.content.decode()
    assert response.status_code == 409
    assert "This form already started a refund batch with other settings." in html
    assert RefundBatch.objects.count() == 1
    offered = preview_form(html)["idempotency_key"]
    assert offered != form["idempotency_key"]
    assert owner_web.post("/refund-batches/", {**form, "percent": "30", "idempotency_key": offered}).status_code == 302
    assert list(RefundBatch.objects.order_by("pk").values_list("percent", flat=True)) == [20, 30]


def test_a_bulk_refund_form_without_its_one_time_key_starts_nothing(org, owner_web, paid_charge):
    response = owner_web.post("/refund-batches/", {"charges": str(paid_charge.pk), "amount_mode": "full"})

    assert response.status_code == 400
    assert "This form has expired; update the preview and start again." in response.content.decode()
    assert not RefundBatch.objects.exists()
