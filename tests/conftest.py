"""Shared fixtures: the local Stripe (one per test session, wiped per test), organizations, roles, API clients."""

import itertools
import os
import shutil
import uuid

import pytest
from django.core.cache import caches
from django.test import Client

from flexbill.accounts.api_callers import api_callers_forget
from flexbill.accounts.models import Membership, Organization
from flexbill.accounts.permissions import Permission
from flexbill.accounts.services import api_token_create, custom_role_create, organization_create, user_create
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.outgoing import addresses
from flexbill_demo.localstripe import start_local_stripe
from outgoing_urls import FAKE_DNS, fake_lookup

WEBHOOK_SECRET = "whsec_test_flexbill"
PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix):
    """One SQLite test file per process. The settings name it after the process that imported them; a process
    forked after that (each mutant's test run in scripts/mutate) must not create or delete its parent's file.

    FLEXBILL_TEST_SQLITE_TEMPLATE (scripts/mutate, with --reuse-db): a migrated database each run starts from as
    a copy of its own, deleted afterwards, instead of migrating a new one for each of hundreds of short runs."""
    from django.db import connections

    db = connections["default"].settings_dict
    if db["ENGINE"] != "django.db.backends.sqlite3" or os.environ.get("FLEXBILL_TEST_SQLITE"):
        return
    from django.conf import settings

    name = settings.VAR_DIR / f"test-{os.getpid()}.sqlite3"
    db["TEST"]["NAME"] = str(name)
    template = os.environ.get("FLEXBILL_TEST_SQLITE_TEMPLATE")
    if template:
        name.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, name)
        request.addfinalizer(lambda: name.unlink(missing_ok=True))


@pytest.fixture(scope="session")
def local_stripe():
    stripe = start_local_stripe()
    yield stripe
    stripe.stop()


@pytest.fixture(autouse=True)
def _stripe_api_base(request, settings):
    """Point every test at the local Stripe and start it wiped (its data is process-wide)."""
    if "nostripe" in request.keywords:
        yield None
        return
    stripe = request.getfixturevalue("local_stripe")
    stripe.reset()
    settings.FLEXBILL_STRIPE_API_BASE = stripe.url
    settings.FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = True
    yield stripe


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are created in almost every test; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_local_cache():
    """Per-process lookups cached by id must not leak from one test's rolled-back data into the next."""
    caches["local"].clear()
    api_callers_forget()


@pytest.fixture(autouse=True)
def _tasks_run_immediately(settings):
    """Background tasks (emails, outgoing webhooks) run as soon as they are enqueued, after commit."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch) -> dict:
    """Names resolve through a table the test may change (tests/outgoing_urls.py), never through real DNS."""
    table = {name: list(found) for name, found in FAKE_DNS.items()}
    monkeypatch.setattr(addresses, "lookup", fake_lookup(table))
    return table


@pytest.fixture
def make_org(db):
    def make(slug: str | None = None, **kwargs) -> Organization:
        n = next(_seq)
        return organization_create(
            slug=slug or f"org{n}",
            name=kwargs.pop("name", f"Workspace {n}"),
            stripe_secret_key=kwargs.pop("stripe_secret_key", f"sk_test_{uuid.uuid4().hex[:12]}"),
            stripe_webhook_secret=kwargs.pop("stripe_webhook_secret", WEBHOOK_SECRET),
            currency=kwargs.pop("currency", "usd"),
            locale=kwargs.pop("locale", "en_US"),
        )

    return make


@pytest.fixture
def org(make_org):
    return make_org()


@pytest.fixture
def make_member(db):
    """make_member(org, "owner" | "admin" | "member" | "clerk" (custom with refund) | "custom" (without))."""

    def make(organization: Organization, role: str = "owner", permissions: list[str] | None = None) -> Membership:
        n = next(_seq)
        if role in ("clerk", "custom"):
            granted = (
                permissions
                if permissions is not None
                else ([Permission.CHARGES_REFUND] if role == "clerk" else [Permission.CREDIT_NOTES_CREATE])
            )
            custom = custom_role_create(organization=organization, name=f"role-{n}", permissions=granted)
            role = f"custom:{custom.name}"
        return user_create(organization=organization, email=f"user{n}@example.com", password=PASSWORD, role=role)

    return make


@pytest.fixture
def owner(org, make_member):
    return make_member(org, "owner")


@pytest.fixture
def api_client(db):
    """api_client(membership) -> a Django test client sending that member's Bearer token."""

    def make(membership: Membership | None = None) -> Client:
        if membership is None:
            return Client()
        return Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(membership=membership)}")

    return make


@pytest.fixture
def make_customer(db):
    def make(organization: Organization, payment_method: str = "pm_card_visa"):
        customer = services.customer_create(
            organization=organization, name="Ada Lovelace", email="ada@example.com", actor=SYSTEM
        )
        method = services.payment_method_add(customer=customer, stripe_payment_method=payment_method, actor=SYSTEM)
        return customer, method

    return make


@pytest.fixture
def make_invoice(db):
    def make(
        organization: Organization,
        customer,
        total: int = 10000,
        payment_method: str = "stripe_card",
        currency: str | None = None,
    ):
        return services.invoice_create(
            organization=organization,
            customer=customer,
            currency=currency or organization.default_currency,
            payment_method=payment_method,
            lines=[{"description": "Dedicated desk", "amount": total}],
            actor=SYSTEM,
        )

    return make


@pytest.fixture
def make_paid_charge(make_customer, make_invoice):
    """A successful Stripe card charge of `amount` on a fresh invoice, through the local Stripe."""

    def make(organization: Organization, amount: int = 10000, payment_method: str = "pm_card_visa"):
        customer, method = make_customer(organization, payment_method)
        invoice = make_invoice(organization, customer, total=amount)
        return services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)

    return make


@pytest.fixture
def paid_charge(org, make_paid_charge):
    return make_paid_charge(org)


@pytest.fixture
def refunds_of_every_origin(org, owner, make_paid_charge, make_org, make_member):
    """Succeeded refunds from flexbill (2500 duplicate, 1000 requested by customer) and from Stripe (3000),
    and a 700 credit note recording money returned by bank transfer. Another organization has refunds of every
    origin too, which no figure of `org` may count."""
    from flexbill.billing.services.reconcile import reconcile_organization
    from flexbill_demo.stripe_dashboard import stripe_refund_directly

    other = make_org()
    their_owner = make_member(other, "owner")
    theirs = make_paid_charge(other, amount=9000)
    services.refund_create(actor=Actor.for_membership(their_owner), charge=theirs, amount=400, reason="duplicate")
    stripe_refund_directly(other, charge_id=theirs.stripe_charge_id, amount=800)
    reconcile_organization(other)
    services.credit_note_create(
        actor=Actor.for_membership(their_owner),
        invoice=theirs.invoice,
        amount=300,
        reason="Theirs",
        refund_method="cash",
    )

    first = make_paid_charge(org, amount=10000)
    second = make_paid_charge(org, amount=8000)
    services.refund_create(actor=Actor.for_membership(owner), charge=first, amount=2500, reason="duplicate")
    services.refund_create(actor=Actor.for_membership(owner), charge=first, amount=1000)
    stripe_refund_directly(org, charge_id=second.stripe_charge_id, amount=3000)
    reconcile_organization(org)
    services.credit_note_create(
        actor=Actor.for_membership(owner),
        invoice=second.invoice,
        amount=700,
        reason="Goodwill",
        refund_method="bank_transfer",
        refund_reference="TR-1",
    )
    return first, second


@pytest.fixture
def make_pending_charge(db):
    """A Stripe charge still waiting for its bank, with no Stripe charge yet (an ACH debit by default)."""

    def make(invoice, *, payment_method=None, method_type: str = "us_bank_account"):
        from django.utils import timezone

        from flexbill.billing.models import Charge

        return Charge.objects.create(
            organization_id=invoice.organization_id,
            invoice=invoice,
            amount=invoice.total,
            currency=invoice.currency,
            source="stripe",
            payment_status="pending",
            status="pending",
            payment_method=payment_method,
            payment_method_type=method_type,
            charged_at=timezone.now(),
        )

    return make


@pytest.fixture
def stripe_requests(monkeypatch):
    """Every HTTP request made to Stripe (the local Stripe) from now on, as (method, path?query)."""
    import stripe

    seen: list[tuple[str, str]] = []
    original = stripe.RequestsClient.request

    def counting(self, method, url, headers, post_data=None):
        seen.append((method.upper(), url.split("://", 1)[-1].split("/", 1)[-1]))
        return original(self, method, url, headers, post_data)

    monkeypatch.setattr(stripe.RequestsClient, "request", counting)
    return seen
