"""A bulk refund in the browser: filter the invoice list, select all matching the filter, preview the refund (count,
total, what would be refused and why), start it, and watch the batch page follow the worker to the end
(docs/rules.md, rule 22)."""

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from flexbill.audit.services import Actor
from flexbill.billing import services
from flexbill.billing.models import Charge
from flexbill.refund_batches.models import RefundBatch
from flexbill.stripe_gateway.client import gateway_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def test_owner_refunds_half_of_every_card_invoice_of_a_filter_with_preview_and_live_progress(
    org, owner, make_paid_charge, make_customer, make_invoice, sign_in, shot, settings, worker_process
):
    # The batch is run by a real `flexbill worker`, as in production, not inside the web request.
    settings.TASKS = DATABASE_TASKS
    cards = [make_paid_charge(org, amount=amount) for amount in (12000, 8001, 4500)]
    already = make_paid_charge(org, amount=3000)
    services.refund_create(actor=Actor.for_membership(owner), charge=already)
    customer, _ = make_customer(org)
    transfer = make_invoice(org, customer, total=5000, payment_method="bank_transfer")
    org.refund_approval_threshold = 10000  # refunds of $100.00 or more wait for a second person's approval
    org.save(update_fields=["refund_approval_threshold"])
    page = sign_in(owner)

    page.select_option("#id_payment_method", "stripe_card")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"payment_method=stripe_card"))
    table = page.get_by_test_id("invoice-table")
    expect(table).not_to_contain_text(transfer.number)
    page.locator(f"tr[data-invoice-id='{cards[0].invoice_id}'] [data-select-invoice]").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("1 invoice selected")
    page.get_by_test_id("select-all-matching").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("All invoices matching the filter selected")
    shot("selection")
    page.get_by_test_id("refund-selected").click()

    expect(page.get_by_role("heading", name="Refund selected charges")).to_be_visible()
    expect(page.get_by_test_id("preview-count")).to_have_text("4")
    expect(page.get_by_test_id("preview-refundable")).to_have_text("3")
    expect(page.get_by_test_id("preview-total")).to_have_text("$245.01")
    refused = page.get_by_test_id("preview-refused")
    expect(refused).to_contain_text(already.invoice.number)
    expect(refused).to_contain_text("This charge is already fully refunded.")
    expect(page.get_by_test_id("preview-approval-count")).to_have_text("1")
    expect(page.get_by_test_id("preview-approval")).to_contain_text(cards[0].invoice.number)
    shot("preview-in-full")

    page.get_by_label("A percentage of each charge").check()
    page.get_by_label("Percent of each charge").fill("50")
    page.get_by_label("Note").fill("Event cancelled")
    page.get_by_test_id("update-preview").click()
    expect(page.get_by_test_id("preview-total")).to_have_text("$122.51")  # 60.00 + 40.005 → 40.01 + 22.50
    expect(page.get_by_test_id("preview-approval-count")).to_have_text("0")  # $60.00 is under the threshold
    shot("preview")
    page.get_by_test_id("start-refund").click()

    batch = RefundBatch.objects.get()
    expect(page).to_have_url(re.compile(rf"/refund-batches/{batch.pk}/$"))
    expect(page.get_by_test_id("batch-status")).to_have_text("Queued")
    expect(page.get_by_test_id("batch-finished")).to_have_text("0 of 4 done")
    shot("queued")

    worker = worker_process()  # the page is not reloaded from here on: it follows the worker by itself
    progress = page.get_by_test_id("batch-progress")
    expect(progress).to_have_attribute("data-status", "done", timeout=60_000)
    expect(page.get_by_test_id("batch-finished")).to_have_text("4 of 4 done")
    expect(page.get_by_test_id("batch-bar")).to_have_attribute("value", "4")
    expect(page.get_by_test_id("batch-succeeded")).to_have_text("3")
    expect(page.get_by_test_id("batch-refused")).to_have_text("1")
    results = page.get_by_test_id("batch-results")
    expect(results.locator(f"tr[data-charge-id='{already.pk}']")).to_contain_text("already fully refunded")
    expect(results.locator(f"tr[data-charge-id='{cards[1].pk}']")).to_contain_text("$40.01")
    shot("done")

    with page.expect_download() as download:
        page.get_by_test_id("batch-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert {(int(r["charge"]), r["status"]) for r in rows} == {
        *((c.pk, "succeeded") for c in cards),
        (already.pk, "refused"),
    }

    for charge, refunded in zip(cards, (6000, 4001, 2250), strict=True):
        stripe_charge = Charge.objects.get(pk=charge.pk).stripe_charge_id
        assert [r.amount for r in gateway_for(org).refunds_for_charge(stripe_charge)] == [refunded], worker.log()
