"""Permissions live in one layer (docs/rules.md, rule 23): every service that changes something takes an Actor and
checks it itself, so the API and the UI only decide what to show. Each such service is called here directly, with
an actor that lacks exactly the permission it needs and with one from another organization; it must refuse and
change nothing. Every public function of the service modules is listed below, either as checked or with the reason
it takes no member's permission, so that a new service cannot be added without deciding which it is."""

import importlib
import inspect
import pkgutil

import pytest

import flexbill.billing.services
from flexbill.accounts import preferences, roles, team, tokens
from flexbill.accounts.models import CustomRole, Membership
from flexbill.accounts.permissions import Permission
from flexbill.audit.models import AuditEvent
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Refund, WebhookEvent
from flexbill.billing.services import approvals
from flexbill.billing.services.inbox_apply import inbox_event_retry
from flexbill.billing.services.stripe_connection import stripe_connection_update, stripe_test_event_send
from flexbill.errors import FlexbillError
from flexbill.outgoing import services as outgoing
from flexbill.outgoing.models import WebhookDelivery
from flexbill.refund_batches.services import refund_batch_create

SERVICE_MODULES = [
    *(f"flexbill.billing.services.{m.name}" for m in pkgutil.iter_modules(flexbill.billing.services.__path__)),
    "flexbill.accounts.services",
    "flexbill.accounts.team",
    "flexbill.accounts.roles",
    "flexbill.accounts.tokens",
    "flexbill.accounts.preferences",
    "flexbill.outgoing.services",
    "flexbill.notifications.services",
    "flexbill.refund_batches.services",
]

# name -> (permission the actor must hold, call(actor, world)). None: being an active member of the organization is
# all it takes (a member's own API tokens); "owner": only owners (the Stripe connection).
CHECKED = {
    "customer_create": (
        Permission.INVOICES_MANAGE,
        lambda a, w: services.customer_create(organization=w["org"], name="Eve", email="eve@example.com", actor=a),
    ),
    "payment_method_add": (
        Permission.INVOICES_MANAGE,
        lambda a, w: services.payment_method_add(customer=w["customer"], stripe_payment_method="pm_card_visa", actor=a),
    ),
    "invoice_create": (
        Permission.INVOICES_MANAGE,
        lambda a, w: services.invoice_create(
            organization=w["org"],
            customer=w["customer"],
            currency="usd",
            payment_method="bank_transfer",
            lines=[{"description": "Desk", "amount": 1000}],
            actor=a,
        ),
    ),
    "charge_create_stripe": (
        Permission.INVOICES_MANAGE,
        lambda a, w: services.charge_create_stripe(invoice=w["unpaid"], payment_method_id=w["method"].pk, actor=a),
    ),
    "charge_record": (
        Permission.INVOICES_MANAGE,
        lambda a, w: services.charge_record(invoice=w["unpaid"], source="manual", amount=1000, reference="r", actor=a),
    ),
    "charge_mark_refunded": (
        Permission.CHARGES_CHANGE_STATUS,
        lambda a, w: services.charge_mark_refunded(actor=a, charge=w["charge"], via="status"),
    ),
    "charge_mark_refunded (delete)": (
        Permission.CHARGES_DELETE,
        lambda a, w: services.charge_mark_refunded(actor=a, charge=w["charge"], via="delete"),
    ),
    "refund_create": (
        Permission.CHARGES_REFUND,
        lambda a, w: services.refund_create(actor=a, charge=w["charge"], amount=100),
    ),
    "refund_approve": (
        Permission.REFUNDS_APPROVE,
        lambda a, w: approvals.refund_approve(actor=a, refund=w["refund"]),
    ),
    "refund_reject": (
        Permission.REFUNDS_APPROVE,
        lambda a, w: approvals.refund_reject(actor=a, refund=w["refund"], reason="Not this one"),
    ),
    "credit_note_create": (
        Permission.CREDIT_NOTES_CREATE,
        lambda a, w: services.credit_note_create(actor=a, invoice=w["charge"].invoice, amount=100, reason="Goodwill"),
    ),
    "inbox_event_retry": (
        Permission.INVOICES_MANAGE,
        lambda a, w: inbox_event_retry(event=w["event"], actor=a),
    ),
    "webhook_endpoint_create": (
        Permission.INVOICES_MANAGE,
        lambda a, w: outgoing.webhook_endpoint_create(
            organization=w["org"], url="https://hooks.example.com/b", actor=a
        ),
    ),
    "webhook_endpoint_set_active": (
        Permission.INVOICES_MANAGE,
        lambda a, w: outgoing.webhook_endpoint_set_active(endpoint=w["endpoint"], active=False, actor=a),
    ),
    "webhook_endpoint_delete": (
        Permission.INVOICES_MANAGE,
        lambda a, w: outgoing.webhook_endpoint_delete(endpoint=w["endpoint"], actor=a),
    ),
    "webhook_resend": (
        Permission.INVOICES_MANAGE,
        lambda a, w: outgoing.webhook_resend(delivery=w["delivery"], actor=a),
    ),
    "organization_preferences_update": (
        Permission.SETTINGS_MANAGE,
        lambda a, w: preferences.organization_preferences_update(actor=a, name="Renamed"),
    ),
    "stripe_connection_update": (
        "owner",
        lambda a, w: stripe_connection_update(actor=a, webhook_secret="whsec_" + "a" * 32),
    ),
    "stripe_test_event_send": ("owner", lambda a, w: stripe_test_event_send(actor=a)),
    "member_invite": (
        Permission.SETTINGS_MANAGE,
        lambda a, w: team.member_invite(actor=a, email="new@example.com", role="member", accept_url=str),
    ),
    "member_change_role": (
        Permission.SETTINGS_MANAGE,
        lambda a, w: team.member_change_role(actor=a, member=w["colleague"], role="admin"),
    ),
    "member_remove": (
        Permission.SETTINGS_MANAGE,
        lambda a, w: team.member_remove(actor=a, member=w["colleague"]),
    ),
    "role_create": (
        Permission.SETTINGS_MANAGE,
        lambda a, w: roles.role_create(actor=a, name="Another", permissions=[]),
    ),
    "role_update": (
        Permission.SETTINGS_MANAGE,
        lambda a, w: roles.role_update(actor=a, role=w["spare"], name="Renamed"),
    ),
    "role_delete": (Permission.SETTINGS_MANAGE, lambda a, w: roles.role_delete(actor=a, role=w["spare"])),
    "api_token_issue": (None, lambda a, w: tokens.api_token_issue(actor=a, name="Export")),
    "api_token_revoke": (None, lambda a, w: tokens.api_token_revoke(actor=a, token=w["token"])),
    "refund_batch_create": (
        Permission.CHARGES_REFUND,
        lambda a, w: refund_batch_create(actor=a, charge_ids=[w["charge"].pk]),
    ),
}
# Services that act in the actor's own organization: another organization's objects are not found there (404,
# tests/api/test_refund_batches_api.py), rather than refused.
IN_OWN_ORGANIZATION = {"refund_batch_create"}

# Public functions of the service modules that are not a member's action, and why.
NOT_A_MEMBER_ACTION = {
    # Platform setup: the command line, the demo and platform staff, which act as flexbill itself.
    "organization_create": "platform setup",
    "user_create": "platform setup",
    "custom_role_create": "platform setup",
    "api_token_create": "platform setup",
    "role_create_for_setup": "platform setup",
    # Accepting an invitation is authorised by its one-time link, not by a role.
    "invitation_accept": "authorised by the invitation link",
    # Stripe's side of things: webhooks stored and applied by the worker, reconciliation, settling a refund left
    # requested; they act as Stripe or flexbill.
    "webhook_receive": "Stripe's webhook delivery, verified by its signature",
    "inbox_apply_pending": "the worker applying Stripe's events",
    "inbox_claim": "the worker applying Stripe's events",
    "charges_apply_stripe_refunds": "applies what Stripe says, as Stripe",
    "reconcile_organization": "the reconcile job, as Stripe",
    "charge_sync_refunds": "reads Stripe's refunds of a charge, as Stripe",
    "refund_settle": "settles a refund already requested (and checked) with Stripe",
    "refund_send": "step of refund_create and refund_approve, which check",
    "refund_cancel_locked": "step of refund_reject (which checks), the expiry job and refund_settle",
    "refund_approvals_expire": "housekeeping job: expires refunds that waited too long for approval",
    "refund_approvals_withdraw_locked": "step of charge_mark_refunded, which checks its actor first",
    "rejected_deliveries_prune": "housekeeping job",
    "signing_organization_forget": "a per-process cache",
    # Steps of a checked service, public because another service module calls them.
    "charge_update_payment": "step of charge_create_stripe and of Stripe's payment updates",
    "credit_note_for_refund": "step of a refund (refund_create checks charges.refund)",
    "issue_requested_credit_note": "step of a refund (refund_create checks charges.refund)",
    "charge_refresh": "derives a charge from its rows, inside a checked change",
    "invoice_refresh": "derives an invoice from its rows, inside a checked change",
    "lock_charge": "row lock inside a checked change",
    "lock_invoice": "row lock inside a checked change",
    "lock_charge_for_refund": "row lock inside a checked change",
    "lock_invoices_of_charges": "row lock inside a checked change",
    "lock_charges_of_invoices": "row lock inside a checked change",
    "refunds_of_charges": "a read under the row locks of a checked change",
    "outside_refunds_by_invoice": "a read under the row locks of a checked change",
    # Outgoing webhooks and e-mails: deliveries of what was already done.
    "webhook_deliver": "delivery of an event already recorded",
    "refund_notify": "e-mail about a refund already recorded",
    "deliver_event": "delivery of an outbox event already recorded",
    "notify_for_event": "e-mail for an outbox event already recorded",
    # Pure functions and reads: they change nothing.
    "refunds_in_sync": "pure",
    "charge_changed_visibly": "pure",
    "charge_derive": "pure",
    "charge_snapshot": "pure",
    "invoice_derive": "pure",
    "invoice_figures": "read",
    "invoice_snapshot": "pure",
    "ready_events": "read",
    "validate_amount": "pure",
    "validate_currency": "pure",
    "validate_number": "pure",
    "approval_valid_for": "pure",
    "rejection_reason": "pure",
    "approvers_count": "read",
    "approvers_before_change": "read",
    "approvers_kept": "step of member_change_role, member_remove and role_update, which check their actor first",
    "approvals_url": "pure",
    "invitation_email_normalise": "pure",
    "invitation_get": "read",
    "role_resolve": "read",
    "role_name_clean": "pure",
    "role_permissions_clean": "pure",
    "api_token_name_clean": "pure",
    "retry_delay": "pure",
    # Refund batches: the worker runs a queued batch, each item as an ordinary refund_create by its requester.
    "refund_batch_claim": "the worker taking a queued batch",
    "refund_batch_run": "the worker running a batch: each item is refund_create with the requester's actor",
    "refund_batches_due": "read",
    "batch_counts": "read",
    "amount_label": "pure",
    "item_idempotency_key": "pure",
}


def public_service_functions() -> set[str]:
    names = set()
    for module_name in SERVICE_MODULES:
        module = importlib.import_module(module_name)
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module_name and not name.startswith("_"):
                names.add(name)
    return names


def test_every_service_function_is_either_checked_here_or_says_why_it_takes_no_member_permission():
    checked = {name.split(" ")[0] for name in CHECKED}
    assert not checked & set(NOT_A_MEMBER_ACTION)
    unclassified = public_service_functions() - checked - set(NOT_A_MEMBER_ACTION)
    assert not unclassified, (
        f"add these to CHECKED (with a test of their refusal) or NOT_A_MEMBER_ACTION: {unclassified}"
    )
    assert not (checked | set(NOT_A_MEMBER_ACTION)) - public_service_functions(), "listed but gone"


@pytest.fixture
def world(org, owner, make_member, make_paid_charge, make_customer, make_invoice, make_org):
    charge = make_paid_charge(org, amount=6000)
    customer, method = make_customer(org)
    endpoint = outgoing.webhook_endpoint_create(organization=org, url="https://hooks.example.com/a", actor=SYSTEM)
    return {
        "org": org,
        "other": make_org(),
        "charge": charge,
        "customer": customer,
        "method": method,
        "unpaid": make_invoice(org, customer, total=4000, payment_method="bank_transfer"),
        "endpoint": endpoint,
        "delivery": WebhookDelivery.objects.create(endpoint=endpoint, event_type="refund.succeeded", payload={}),
        "event": WebhookEvent.objects.create(organization=org, org_slug=org.slug, event_type="charge.refunded"),
        "colleague": make_member(org, "member"),
        "spare": CustomRole.objects.create(organization=org, name="Spare", permissions=[]),
        "token": tokens.api_token_issue(actor=Actor.for_membership(owner), name="Kept")[0],
        "refund": Refund.objects.create(
            organization=org, charge=charge, amount=100, currency=charge.currency, status="awaiting_approval"
        ),
    }


def lacking(permission, world, make_member) -> Membership:
    """A member of the organization who holds every permission but this one (for "owner": an admin)."""
    if permission == "owner":
        return make_member(world["org"], "admin")
    if permission is None:
        return None
    return make_member(world["org"], "custom", permissions=[p for p in Permission if p != permission])


def changes(org) -> tuple:
    """Every change a service makes is audited: the audit trail's length stands for "nothing changed"."""
    return (AuditEvent.objects.count(), AuditEvent.objects.filter(organization=org).count())


def assert_refused(call, actor, world):
    before = changes(world["org"])
    with pytest.raises(FlexbillError) as refused:
        call(actor, world)
    assert refused.value.status == 403, (refused.value.code, refused.value.detail)
    assert changes(world["org"]) == before


@pytest.mark.parametrize("name", CHECKED)
def test_a_service_refuses_an_actor_lacking_its_permission_and_changes_nothing(name, world, make_member):
    permission, call = CHECKED[name]
    member = lacking(permission, world, make_member)
    # Without a membership at all (a person acting on their own account) nothing is allowed either.
    actors = [Actor.for_user(world["colleague"].user)]
    if member is not None:
        actors.append(Actor.for_membership(member))
    for actor in actors:
        assert_refused(call, actor, world)


# Services given an object of the organization (not those that act in the actor's own organization by design).
OBJECT_BOUND = [
    name
    for name, (permission, _) in CHECKED.items()
    if permission not in (None, "owner", Permission.SETTINGS_MANAGE) and name not in IN_OWN_ORGANIZATION
]


@pytest.mark.parametrize("name", OBJECT_BOUND)
def test_a_service_refuses_an_owner_of_another_organization(name, world, make_member):
    _, call = CHECKED[name]
    assert_refused(call, Actor.for_membership(make_member(world["other"], "owner")), world)


def test_an_invited_member_not_yet_joined_holds_no_permission(world, make_member):
    invited = make_member(world["org"], "owner")
    Membership.objects.filter(pk=invited.pk).update(status="pending")
    invited.refresh_from_db()
    assert_refused(CHECKED["refund_create"][1], Actor.for_membership(invited), world)
