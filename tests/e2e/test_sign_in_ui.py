"""Signing in: the organization is shown, and repeated wrong passwords are throttled with a readable message."""

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from flexbill.web.forms import LOGIN_MAX_FAILURES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_repeated_wrong_passwords_are_throttled_even_for_the_right_password_afterwards(
    org, make_member, page, sign_in, shot
):
    cache.clear()
    owner = make_member(org, "owner")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))
    for _ in range(LOGIN_MAX_FAILURES):
        page.fill("#id_username", owner.user.email)
        page.fill("#id_password", "wrong password")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("enter a correct")
    page.fill("#id_username", owner.user.email)
    page.fill("#id_password", "still wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("Too many failed sign-in attempts. Wait 15 minutes, then try again.")
    shot("throttled")

    owner.user.set_password("the-right-one-123")
    owner.user.save(update_fields=["password"])
    page.fill("#id_username", owner.user.email)
    page.fill("#id_password", "the-right-one-123")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-in attempts")

    cache.clear()  # the lockout has expired
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
