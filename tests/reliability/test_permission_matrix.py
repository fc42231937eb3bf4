"""Who may do what: every mutating API endpoint and UI action against every kind of caller (docs/rules.md, rule 1,
accounts/permissions.py). Allowed callers change exactly what they asked; everyone else changes nothing and gets
401 (no token), 403 (no permission) or 404 (another organization's object)."""

import json

import pytest
from django.test import Client

from flexbill.accounts.models import ApiToken, CustomRole, Membership, Organization
from flexbill.accounts.permissions import Permission
from flexbill.accounts.services import custom_role_create, user_create
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge, CreditNote, Customer, Invoice, PaymentMethod, Refund
from flexbill.outgoing.models import WebhookEndpoint
from flexbill.outgoing.services import webhook_endpoint_create
from flexbill.refund_batches.models import RefundBatch

ROLES = ("owner", "admin", "custom_with", "custom_without", "member", "anonymous", "other_org")
ALLOWED = {"owner", "admin", "custom_with"}


@pytest.fixture
def world(org, make_org, make_member, make_paid_charge, make_customer, make_invoice):
    charge = make_paid_charge(org, amount=6000)
    customer, _ = make_customer(org)
    unpaid = make_invoice(org, customer, total=4000, payment_method="bank_transfer")
    endpoint = webhook_endpoint_create(organization=org, url="https://hooks.example.com/existing", actor=SYSTEM)
    # For the team and role actions: a role holding nothing beyond viewing (any settings manager may give it),
    # one nobody holds (to rename and delete), and a member to move to the first or remove.
    viewer = custom_role_create(organization=org, name="Viewer", permissions=[])
    spare = custom_role_create(organization=org, name="Spare", permissions=[])
    colleague = user_create(
        organization=org, email="colleague@example.com", password="correct-horse-battery", role="member"
    )
    # A refund awaiting approval (docs/rules.md, rule 21), asked by someone who is none of the callers.
    Organization.objects.filter(pk=org.pk).update(refund_approval_threshold=5000)
    org.refresh_from_db()
    waiting = services.refund_create(
        actor=Actor.for_membership(make_member(org, "clerk")), charge=make_paid_charge(org, amount=9000)
    )
    assert waiting.status == "awaiting_approval"
    return {
        "org": org,
        "charge": charge,
        "customer": customer,
        "unpaid": unpaid,
        "endpoint": endpoint,
        "other": make_org(),
        "viewer": viewer,
        "spare": spare,
        "colleague": colleague,
        "waiting": waiting,
    }


def caller(world, role: str, permission: Permission, make_member):
    """-> (membership or None, organization the caller belongs to)."""
    org = world["org"]
    if role == "anonymous":
        return None
    if role == "other_org":
        return make_member(world["other"], "owner")
    if role == "custom_with":
        return make_member(org, "custom", permissions=[permission])
    if role == "custom_without":
        return make_member(org, "custom", permissions=[p for p in Permission if p != permission])
    return make_member(org, role)


def snapshot(org) -> dict:
    """Everything a mutating call could change in the organization."""
    return {
        "customers": Customer.objects.filter(organization=org).count(),
        "payment_methods": PaymentMethod.objects.filter(organization=org).count(),
        "invoices": list(Invoice.objects.filter(organization=org).values_list("pk", "status").order_by("pk")),
        "charges": list(
            Charge.objects.filter(organization=org)
            .values_list("pk", "status", "amount_refunded", "amount_reserved", "marked_refunded_at")
            .order_by("pk")
        ),
        "refunds": list(Refund.objects.filter(organization=org).values_list("pk", "status").order_by("pk")),
        "credit_notes": CreditNote.objects.filter(invoice__organization=org).count(),
        "webhook_endpoints": list(
            WebhookEndpoint.objects.filter(organization=org).values_list("pk", "active").order_by("pk")
        ),
        "memberships": list(
            Membership.objects.filter(organization=org)
            .values_list("pk", "role", "custom_role", "status", "invitation_digest")
            .order_by("pk")
        ),
        "roles": list(
            CustomRole.objects.filter(organization=org).values_list("pk", "name", "permissions").order_by("pk")
        ),
        "revoked_tokens": ApiToken.objects.filter(membership__organization=org, revoked_at__isnull=False).count(),
        "refund_batches": RefundBatch.objects.filter(organization=org).count(),
    }


# (method, path, body, permission, object of the organization named in the path?)
API_ACTIONS = {
    "customer_create": ("post", "/api/v1/customers", {"name": "Grace", "email": "g@example.com"}, "manage", False),
    "payment_method_add": (
        "post",
        "/api/v1/customers/{customer}/payment-methods",
        {"stripe_payment_method": "pm_card_visa"},
        "manage",
        True,
    ),
    "invoice_create": (
        "post",
        "/api/v1/invoices",
        {
            "customer": None,  # this organization's customer, filled in by the test
            "currency": "usd",
            "payment_method": "bank_transfer",
            "lines": [{"description": "Desk", "amount": 1000}],
        },
        "manage",
        True,
    ),
    "charge_create": (
        "post",
        "/api/v1/invoices/{unpaid}/charges",
        {"source": "manual", "amount": 1000, "reference": "cash"},
        "manage",
        True,
    ),
    "refund_create": ("post", "/api/v1/charges/{charge}/refunds", {"amount": 500}, "refund", True),
    # The charge is filled in by the test; another organization naming it gets 404 like any object of this one.
    "refund_batch_create": ("post", "/api/v1/refund-batches", {"charges": None, "amount": "full"}, "refund", True),
    "charge_status": ("post", "/api/v1/charges/{charge}/status", {"status": "refunded"}, "change_status", True),
    "charge_delete": ("delete", "/api/v1/charges/{charge}", None, "delete", True),
    "credit_note_create": (
        "post",
        "/api/v1/invoices/{invoice}/credit-notes",
        {"amount": 500, "reason": "Goodwill"},
        "credit_note",
        True,
    ),
    "webhook_endpoint_create": (
        "post",
        "/api/v1/webhook-endpoints",
        {"url": "https://hooks.example.com/flexbill"},
        "manage",
        False,
    ),
    "webhook_endpoint_pause": ("patch", "/api/v1/webhook-endpoints/{endpoint}", {"active": False}, "manage", True),
    "webhook_endpoint_delete": ("delete", "/api/v1/webhook-endpoints/{endpoint}", None, "manage", True),
    "member_invite": ("post", "/api/v1/members", {"email": "new@example.com", "role": "member"}, "settings", False),
    "member_change_role": ("patch", "/api/v1/members/{colleague}", {"role": "custom:Viewer"}, "settings", True),
    "member_remove": ("delete", "/api/v1/members/{colleague}", None, "settings", True),
    "role_create": (
        "post",
        "/api/v1/roles",
        {"name": "Desk", "permissions": ["billing.invoices.view"]},
        "settings",
        False,
    ),
    "role_update": ("patch", "/api/v1/roles/{spare}", {"name": "Front desk"}, "settings", True),
    "role_delete": ("delete", "/api/v1/roles/{spare}", None, "settings", True),
    "refund_approve": ("post", "/api/v1/refunds/{waiting}/approve", {}, "approve", True),
    "refund_reject": ("post", "/api/v1/refunds/{waiting}/reject", {"reason": "Not agreed"}, "approve", True),
}
PERMISSIONS = {
    "manage": Permission.INVOICES_MANAGE,
    "refund": Permission.CHARGES_REFUND,
    "change_status": Permission.CHARGES_CHANGE_STATUS,
    "delete": Permission.CHARGES_DELETE,
    "credit_note": Permission.CREDIT_NOTES_CREATE,
    "settings": Permission.SETTINGS_MANAGE,
    "approve": Permission.REFUNDS_APPROVE,
}


def fill(template: str, world) -> str:
    return template.format(
        customer=world["customer"].pk,
        unpaid=world["unpaid"].pk,
        charge=world["charge"].pk,
        invoice=world["charge"].invoice_id,
        endpoint=world["endpoint"].pk,
        colleague=world["colleague"].pk,
        spare=world["spare"].pk,
        waiting=world["waiting"].pk,
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(API_ACTIONS))
def test_api_mutations_are_allowed_exactly_to_the_roles_holding_their_permission(
    world, make_member, api_client, action, role
):
    method, path, body, permission, names_object = API_ACTIONS[action]
    membership = caller(world, role, PERMISSIONS[permission], make_member)
    client = api_client(membership)
    data = dict(body) if body else None
    if body and action == "invoice_create":
        data["customer"] = world["customer"].pk
    if body and action == "refund_batch_create":
        data["charges"] = [world["charge"].pk]
    before = snapshot(world["org"])
    url = fill(path, world)
    if method == "delete":
        response = client.delete(url)
    elif method == "patch":
        response = client.patch(url, data=json.dumps(data), content_type="application/json")
    else:
        response = client.post(url, data=json.dumps(data), content_type="application/json")

    if role in ALLOWED:
        assert response.status_code in (200, 201, 202, 204), response.content
        assert snapshot(world["org"]) != before
        return
    expected = {"anonymous": 401, "other_org": 404 if names_object else 201}.get(role, 403)
    assert response.status_code == expected, response.content
    assert snapshot(world["org"]) == before
    if response.status_code >= 400:
        assert set(response.json()) == {"detail", "code"}


# UI actions: (path, form data, permission, object of the organization named in the path?)
UI_ACTIONS = {
    "refund": (
        "/charges/{charge}/refund/",
        {"amount": "5.00", "reason": "requested_by_customer", "idempotency_key": "web-matrix"},
        "refund",
        True,
    ),
    "refund_batch": (
        "/refund-batches/",
        {"charges": "{charge}", "amount_mode": "full", "reason": "other", "idempotency_key": "web-matrix"},
        "refund",
        True,
    ),
    "mark_refunded_status": ("/charges/{charge}/mark-refunded/status/", {}, "change_status", True),
    "mark_refunded_delete": ("/charges/{charge}/mark-refunded/delete/", {}, "delete", True),
    "credit_note": (
        "/invoices/{invoice}/credit-notes/",
        {"credit_note-amount": "5.00", "credit_note-reason": "Goodwill"},
        "credit_note",
        True,
    ),
    "webhook_endpoint_pause": ("/integrations/webhooks/{endpoint}/pause/", {}, "manage", True),
    "webhook_endpoint_delete": ("/integrations/webhooks/{endpoint}/delete/", {}, "manage", True),
    "member_invite": ("/settings/team/", {"email": "new@example.com", "role": "member"}, "settings", False),
    "member_change_role": ("/settings/team/{colleague}/role/", {"role": "custom:Viewer"}, "settings", True),
    "member_remove": ("/settings/team/{colleague}/remove/", {}, "settings", True),
    "role_create": ("/settings/roles/", {"name": "Desk", "permissions": ["billing.invoices.view"]}, "settings", False),
    "role_update": ("/settings/roles/{spare}/", {"name": "Front desk"}, "settings", True),
    "role_delete": ("/settings/roles/{spare}/delete/", {}, "settings", True),
    "approval_approve": ("/approvals/{waiting}/approve/", {}, "approve", True),
    "approval_reject": ("/approvals/{waiting}/reject/", {"reason": "Not agreed"}, "approve", True),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(UI_ACTIONS))
def test_ui_actions_are_allowed_exactly_to_the_roles_holding_their_permission(world, make_member, action, role):
    path, data, permission, names_object = UI_ACTIONS[action]
    membership = caller(world, role, PERMISSIONS[permission], make_member)
    client = Client()
    if membership is not None:
        client.force_login(membership.user)
    before = snapshot(world["org"])
    response = client.post(
        fill(path, world), data={k: fill(v, world) if isinstance(v, str) else v for k, v in data.items()}
    )

    if role in ALLOWED:
        assert response.status_code == 302, response.content.decode()[:2000]
        assert snapshot(world["org"]) != before
        return
    assert snapshot(world["org"]) == before
    if role == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif role == "other_org":
        assert response.status_code == (404 if names_object else 302)  # without an object: done in their own
    else:
        assert response.status_code in (200, 403)  # refused in the dialog or as a page; never a redirect
        assert b"permission" in response.content.lower() or b"not allowed" in response.content.lower()
