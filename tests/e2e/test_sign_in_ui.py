"""Signing in: the organization is shown, and repeated wrong passwords are throttled with a readable message."""

import re
from datetime import timedelta

import pytest
from django.db.models import F
from playwright.sync_api import expect

from flexbill.accounts.models import SignInCount
from flexbill.accounts.sign_in.rules import ADDRESS_FAILURE_LIMIT

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_repeated_wrong_passwords_are_throttled_even_for_the_right_password_afterwards(
    org, make_member, page, sign_in, shot
):
    owner = make_member(org, "owner")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))
    for _ in range(ADDRESS_FAILURE_LIMIT):
        page.fill("#id_username", owner.user.email)
        page.fill("#id_password", "wrong password")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("enter a correct")
    page.fill("#id_username", owner.user.email)
    page.fill("#id_password", "still wrong")
    page.click("button[type=submit]")
    # The window runs from the first failure: 15 minutes, less the seconds these attempts took.
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(r"^\s*Too many failed sign-in attempts\. Try again in 1[45] minutes\.\s*$")
    )
    shot("throttled")

    owner.user.set_password("the-right-one-123")
    owner.user.save(update_fields=["password"])
    page.fill("#id_username", owner.user.email)
    page.fill("#id_password", "the-right-one-123")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-in attempts")

    SignInCount.objects.update(window_started_at=F("window_started_at") - timedelta(minutes=15))  # window over
    sign_in(owner)
    expect(page.get_by_test_id("organization")).to_have_text(org.name)


def test_signed_in_user_without_an_organization_gets_a_clear_403_page(page, live_server, django_user_model):
    django_user_model.objects.create_user(
        username="drifter@example.com", email="drifter@example.com", password="pw-x-123456"
    )
    page.goto("/login/")
    page.fill("#id_username", "drifter@example.com")
    page.fill("#id_password", "pw-x-123456")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("error")).to_contain_text("not a member of any organization")
    response = page.request.get("/")
    assert response.status == 403
