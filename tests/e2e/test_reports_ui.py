"""The refunds report in the browser: server-drawn SVG charts, no chart library."""

import re

import pytest
from playwright.sync_api import expect

from flexbill.audit.services import Actor
from flexbill.billing import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_refunds_report_draws_its_charts_for_a_seeded_refund(org, make_member, make_paid_charge, sign_in, shot):
    owner = make_member(org, "owner")
    charge = make_paid_charge(org, amount=12000)
    services.refund_create(actor=Actor.for_membership(owner), charge=charge, amount=4500, reason="duplicate")
    services.refund_create(actor=Actor.for_membership(owner), charge=charge, amount=1500)
    page = sign_in(owner)

    page.get_by_role("link", name="Reports").click()
    expect(page).to_have_url(re.compile(r"/reports/refunds/$"))
    expect(page.get_by_role("heading", name="Refunds report")).to_be_visible()

    month = page.get_by_test_id("month-chart")
    expect(month).to_be_visible()
    expect(month.locator("rect")).to_have_count(1)
    assert float(month.locator("rect").first.get_attribute("height")) > 100
    expect(month).to_contain_text("$60.00")
    expect(page.get_by_test_id("reason-chart").locator("rect")).to_have_count(2)
    expect(page.get_by_test_id("reason-chart")).to_contain_text("Duplicate")
    expect(page.get_by_test_id("origin-chart")).to_contain_text("flexbill")
    expect(page.get_by_role("link", name="Export refunds CSV")).to_be_visible()
    shot("report")

    page.fill("#id_from", "2001-01-01")
    page.fill("#id_to", "2001-12-31")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"from=2001-01-01&to=2001-12-31"))
    expect(page.get_by_test_id("per-month")).to_contain_text("No refunds in this period")
    expect(page.locator("svg.chart")).to_have_count(0)
