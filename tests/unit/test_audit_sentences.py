"""Every audit row reads as a sentence, with money in the organization's locale; every action flexbill audits has
one (this file finds the actions in the source: a new one without a sentence fails here)."""

import ast
from pathlib import Path

import pytest

from flexbill.audit.models import AuditEvent
from flexbill.audit.sentences import (
    SENTENCES,
    AuditNames,
    ChargeName,
    InvoiceName,
    RefundName,
    StripeEventName,
    audit_sentence,
)
from flexbill.billing.models import RefundStatus
from flexbill.choices import RefundBatchItemStatus

pytestmark = pytest.mark.nostripe

SRC = Path(__file__).resolve().parents[2] / "src" / "flexbill"

# Actions written as f-strings, and every value each can take. A new f-string action fails the test below until
# it is listed here (and each of its values has a sentence).
FORMATTED_ACTIONS = {
    "f'refund.{refund.status}'": {f"refund.{status}" for status in RefundStatus.values},
    "f'user.password_{how}'": {"user.password_changed", "user.password_reset"},  # accounts/passwords.py
    "f'refund_batch.item_{status}'": {  # refund_batches/services.py: an item leaves "pending" once
        f"refund_batch.item_{status}"
        for status in RefundBatchItemStatus.values
        if status != RefundBatchItemStatus.PENDING
    },
}


def _looks_like_action(value: object) -> bool:
    return isinstance(value, str) and "." in value and " " not in value and value == value.lower()


def _actions_in(node: ast.AST, module: ast.Module, unknown: list[str]) -> set[str]:
    """The action strings an `action=` argument can be."""
    if isinstance(node, ast.Constant):
        return {node.value} if _looks_like_action(node.value) else set()
    if isinstance(node, ast.IfExp):
        return _actions_in(node.body, module, unknown) | _actions_in(node.orelse, module, unknown)
    if isinstance(node, ast.JoinedStr):
        source = ast.unparse(node)
        if source not in FORMATTED_ACTIONS:
            unknown.append(source)
        return FORMATTED_ACTIONS.get(source, set())
    if isinstance(node, ast.Name):
        # A variable: what the module assigns to it (`action = "a" if x else "b"`, `action, what = AUDIT[field]`
        # from a dict of tuples), or a parameter, whose callers pass `action=` themselves and are found there.
        found: set[str] = set()
        for assign in ast.walk(module):
            if isinstance(assign, ast.Assign):
                for target in assign.targets:
                    names = [target] if isinstance(target, ast.Name) else getattr(target, "elts", [])
                    if names and isinstance(names[0], ast.Name) and names[0].id == node.id:
                        found |= _assigned(assign.value, module, unknown, first=len(names) > 1)
        return found
    unknown.append(ast.unparse(node))
    return set()


def _assigned(value: ast.AST, module: ast.Module, unknown: list[str], *, first: bool) -> set[str]:
    if first and isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
        table = next(
            (a.value for a in module.body if isinstance(a, ast.Assign) and ast.unparse(a.targets[0]) == value.value.id),
            None,
        )
        if isinstance(table, ast.Dict):
            return {
                v.elts[0].value
                for v in table.values
                if isinstance(v, ast.Tuple) and _looks_like_action(v.elts[0].value)
            }
    return _actions_in(value, module, unknown)


def audited_actions() -> tuple[set[str], list[str]]:
    actions: set[str] = set()
    unknown: list[str] = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        module = ast.parse(path.read_text(), filename=str(path))
        for call in ast.walk(module):
            if isinstance(call, ast.Call):
                for keyword in call.keywords:
                    if keyword.arg == "action":
                        actions |= _actions_in(keyword.value, module, unknown)
    return actions, unknown


def test_every_action_flexbill_audits_has_a_sentence():
    actions, unknown = audited_actions()
    assert not unknown, f"actions this test cannot enumerate (list them in FORMATTED_ACTIONS): {unknown}"
    # The scan sees the actions it must: one of each way they are written.
    assert {"refund.requested", "charge.marked_refunded", "stripe.secret_key_changed", "member.invited"} <= actions
    assert {"webhook_endpoint.paused", "refund.succeeded", "user.password_reset"} <= actions
    missing = sorted(actions - set(SENTENCES))
    assert not missing, f"audit actions without a sentence in audit/sentences.py: {missing}"


def _event(action: str, *, object_type: str = "refund", object_id="7", before=None, after=None, message="", invoice=14):
    return AuditEvent(
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        invoice_id=invoice,
        before=before,
        after=after,
        message=message,
        actor_type="user",
        actor_label="clerk@example.com",
    )


NAMES = AuditNames(
    invoices={14: InvoiceName(number="INV-000014", currency="eur")},
    charges={"3": ChargeName(stripe_charge_id="ch_3Abc", source="stripe", payment_method="Visa ···· 4242")},
    refunds={"7": RefundName(amount=5000, currency="eur", stripe_refund_id="re_7Xyz")},
    stripe_events={"9": StripeEventName(event_id="evt_1", event_type="charge.refunded")},
)

REFUND = {"amount": 5000, "status": "requested", "reason": "requested_by_customer", "origin": "app"}
CHARGE_BEFORE = {"status": "success", "amount_refunded": 0, "amount_reserved": 0}

# One example of every action, and the sentence it reads as (en_US).
EXAMPLES = {
    "refund.requested": (
        _event("refund.requested", after=REFUND),
        "Refunded €50.00 of INV-000014 — requested by customer",
    ),
    "refund.synced": (
        _event("refund.synced", after={"amount": 5000, "status": "succeeded", "stripe_refund_id": "re_7Xyz"}),
        "Stripe refund re_7Xyz recorded from Stripe: €50.00 of INV-000014",
    ),
    "refund.pending": (
        _event("refund.pending", after={"status": "pending", "stripe_refund_id": "re_7Xyz"}),
        "Refund of €50.00 on INV-000014 is pending in Stripe (re_7Xyz)",
    ),
    "refund.requires_action": (
        _event("refund.requires_action", after={"status": "requires_action"}),
        "Refund of €50.00 on INV-000014 needs action in Stripe (re_7Xyz)",
    ),
    "refund.succeeded": (
        _event("refund.succeeded", after={"status": "succeeded", "stripe_refund_id": "re_7Xyz"}),
        "Refund of €50.00 on INV-000014 succeeded in Stripe (re_7Xyz)",
    ),
    "refund.failed": (
        _event("refund.failed", after={"status": "failed"}, message="insufficient_funds"),
        "Refund of €50.00 on INV-000014 failed in Stripe (re_7Xyz)",
    ),
    "refund.canceled": (
        _event("refund.canceled", after={"status": "canceled"}),
        "Refund of €50.00 on INV-000014 canceled — no money moved",
    ),
    "refund.unconfirmed": (
        _event("refund.unconfirmed", message="Stripe did not answer in time."),
        "Stripe did not confirm the refund of €50.00 on INV-000014 in time; flexbill settles it with Stripe "
        "automatically",
    ),
    "refund.rejected": (
        _event("refund.rejected", object_id="8", before={**REFUND, "amount": 1250}),
        "Stripe refused the refund of €12.50 on INV-000014 — no money moved",
    ),
    "refund.awaiting_approval": (
        _event("refund.awaiting_approval", after={**REFUND, "status": "awaiting_approval"}),
        "Asked to refund €50.00 of INV-000014 — requested by customer; waiting for another person's approval",
    ),
    "refund.approved": (
        _event("refund.approved", before={**REFUND, "status": "awaiting_approval"}, after=REFUND),
        "Approved the refund of €50.00 on INV-000014 and sent it to Stripe",
    ),
    "refund.approval_rejected": (
        _event(
            "refund.approval_rejected",
            after={**REFUND, "status": "canceled"},
            message="Member\nstayed the month",
        ),
        "Rejected the refund of €50.00 on INV-000014 — no money moved (Member stayed the month)",
    ),
    "refund.approval_expired": (
        _event("refund.approval_expired", after={**REFUND, "status": "canceled"}),
        "Refund of €50.00 on INV-000014 expired waiting for approval — no money moved",
    ),
    "refund.approval_withdrawn": (
        _event("refund.approval_withdrawn", after={**REFUND, "status": "canceled"}),
        "Withdrew the refund of €50.00 on INV-000014 waiting for approval: the charge was marked refunded — no money "
        "moved",
    ),
    "charge.created": (
        _event(
            "charge.created",
            object_type="charge",
            object_id="3",
            after={"payment_status": "success", "amount": 12000, "source": "stripe"},
        ),
        "Charged €120.00 with Visa ···· 4242 for INV-000014 through Stripe",
    ),
    "charge.payment_updated": (
        _event(
            "charge.payment_updated",
            object_type="charge",
            object_id="3",
            before={"payment_status": "pending"},
            after={"payment_status": "failed", "amount": 12000, "source": "stripe"},
        ),
        "Payment of €120.00 for INV-000014 did not go through (charge ch_3Abc)",
    ),
    "charge.updated": (
        _event(
            "charge.updated",
            object_type="charge",
            object_id="3",
            before=CHARGE_BEFORE,
            after={"status": "refunded", "amount_refunded": 12000, "amount_reserved": 12000},
        ),
        "Charge ch_3Abc of INV-000014 went from Success to Refunded: €120.00 refunded",
    ),
    "charge.marked_refunded": (
        _event(
            "charge.marked_refunded",
            object_type="charge",
            object_id="3",
            before=CHARGE_BEFORE,
            after={**CHARGE_BEFORE, "status": "refunded"},
            message="Status changed to Refunded: marked refunded, no money moved.",
        ),
        "Marked charge ch_3Abc of INV-000014 refunded without moving money",
    ),
    "invoice.created": (
        _event(
            "invoice.created",
            object_type="invoice",
            object_id="14",
            after={"number": "INV-000014", "total": 12000, "currency": "eur", "status": "awaiting_payment"},
        ),
        "Created invoice INV-000014 for €120.00",
    ),
    "invoice.updated": (
        _event(
            "invoice.updated",
            object_type="invoice",
            object_id="14",
            before={"status": "paid", "amount_paid": 12000, "amount_refunded": 0},
            after={"status": "refunded", "amount_paid": 12000, "amount_refunded": 5000},
        ),
        "INV-000014 went from Paid to Refunded: €120.00 paid, €50.00 refunded",
    ),
    "credit_note.created": (
        _event(
            "credit_note.created",
            object_type="creditnote",
            object_id="2",
            after={
                "number": "CN-000002",
                "amount": 2000,
                "refund_method": "bank_transfer",
                "refund_reference": "TX-1",
                "refund": None,
            },
        ),
        "Issued credit note CN-000002 of €20.00 on INV-000014 — money returned by bank transfer (reference TX-1)",
    ),
    "customer.created": (
        _event(
            "customer.created",
            object_type="customer",
            object_id="5",
            invoice=None,
            after={"name": "Ada Lovelace", "email": "ada@example.com"},
        ),
        "Added customer Ada Lovelace (ada@example.com)",
    ),
    "payment_method.added": (
        _event(
            "payment_method.added",
            object_type="paymentmethod",
            object_id="4",
            invoice=None,
            after={"customer": 5, "type": "sepa_debit", "last4": "3000"},
        ),
        "Saved the payment method SEPA Direct Debit ···· 3000 for a customer",
    ),
    "stripe.secret_key_changed": (
        _event(
            "stripe.secret_key_changed",
            object_type="organization",
            invoice=None,
            before={"set": False, "last4": "", "mode": None},
            after={"set": True, "last4": "0123", "mode": "test"},
        ),
        "Changed the Stripe secret key (test mode, ending 0123)",
    ),
    "stripe.webhook_secret_changed": (
        _event(
            "stripe.webhook_secret_changed",
            object_type="organization",
            invoice=None,
            after={"set": True, "last4": "abcd"},
        ),
        "Changed the Stripe webhook signing secret (ending abcd)",
    ),
    "stripe.test_event_sent": (
        _event(
            "stripe.test_event_sent",
            object_type="organization",
            invoice=None,
            after={"event_id": "evt_test_1", "verified": True},
        ),
        "Sent the test event evt_test_1 to flexbill's Stripe webhook endpoint: verified and stored",
    ),
    "stripe_event.retried": (
        _event("stripe_event.retried", object_type="webhookevent", object_id="9", invoice=None, before={"attempts": 6}),
        "Asked flexbill to apply the Stripe event evt_1 (charge.refunded) again",
    ),
    "user.password_changed": (
        _event("user.password_changed", object_type="membership", invoice=None),
        "clerk@example.com changed their password",
    ),
    "user.password_reset": (
        _event("user.password_reset", object_type="membership", invoice=None),
        "clerk@example.com reset their password through an e-mailed link",
    ),
    "api_token.created": (
        _event("api_token.created", object_type="apitoken", invoice=None, after={"name": "Zapier", "prefix": "fb_abc"}),
        "Created the API token “Zapier”",
    ),
    "api_token.revoked": (
        _event(
            "api_token.revoked",
            object_type="apitoken",
            invoice=None,
            before={"name": "Zapier"},
            after={"revoked": True},
        ),
        "Revoked the API token “Zapier”",
    ),
    "member.invited": (
        _event(
            "member.invited",
            object_type="membership",
            invoice=None,
            after={"email": "bo@example.com", "role": "custom:Billing clerk", "status": "invited"},
        ),
        "Invited bo@example.com as Billing clerk",
    ),
    "member.invitation_resent": (
        _event(
            "member.invitation_resent",
            object_type="membership",
            invoice=None,
            before={"email": "bo@example.com", "role": "admin"},
            after={"email": "bo@example.com", "role": "admin"},
        ),
        "Sent bo@example.com a new invitation as Admin",
    ),
    "member.joined": (
        _event(
            "member.joined",
            object_type="membership",
            invoice=None,
            after={"email": "bo@example.com", "role": "member", "status": "active"},
        ),
        "bo@example.com accepted the invitation and joined as Member",
    ),
    "member.role_changed": (
        _event(
            "member.role_changed",
            object_type="membership",
            invoice=None,
            before={"email": "bo@example.com", "role": "member"},
            after={"email": "bo@example.com", "role": "admin"},
        ),
        "Changed the role of bo@example.com from Member to Admin",
    ),
    "member.removed": (
        _event(
            "member.removed",
            object_type="membership",
            invoice=None,
            before={"email": "bo@example.com", "role": "admin", "status": "active"},
        ),
        "Removed bo@example.com from the team, with their API tokens and sessions",
    ),
    "member.invitation_withdrawn": (
        _event(
            "member.invitation_withdrawn",
            object_type="membership",
            invoice=None,
            before={"email": "bo@example.com", "role": "admin", "status": "invited"},
        ),
        "Withdrew the invitation of bo@example.com",
    ),
    "role.created": (
        _event(
            "role.created",
            object_type="customrole",
            invoice=None,
            after={"name": "Billing clerk", "permissions": ["billing.invoices.view", "billing.charges.refund"]},
        ),
        "Created the role Billing clerk with 2 permissions",
    ),
    "role.updated": (
        _event(
            "role.updated",
            object_type="customrole",
            invoice=None,
            before={"name": "Clerk", "permissions": ["a"]},
            after={"name": "Billing clerk", "permissions": ["b", "c"]},
        ),
        "Changed the role Clerk (now Billing clerk): 2 permissions added, 1 permission removed",
    ),
    "role.deleted": (
        _event(
            "role.deleted", object_type="customrole", invoice=None, before={"name": "Billing clerk", "permissions": []}
        ),
        "Deleted the role Billing clerk",
    ),
    "organization.preferences_changed": (
        _event(
            "organization.preferences_changed",
            object_type="organization",
            invoice=None,
            before={"locale": "en_US", "refund_emails_enabled": True},
            after={"locale": "de_DE", "refund_emails_enabled": False},
        ),
        "Changed the organization's locale from en_US to de_DE; refund e-mails turned off",
    ),
    "webhook_endpoint.created": (
        _event(
            "webhook_endpoint.created",
            object_type="webhookendpoint",
            invoice=None,
            after={"url": "https://hooks.example.com/in", "active": True},
        ),
        "Registered the webhook endpoint https://hooks.example.com/in",
    ),
    "webhook_endpoint.paused": (
        _event(
            "webhook_endpoint.paused",
            object_type="webhookendpoint",
            invoice=None,
            before={"url": "https://hooks.example.com/in", "active": True},
            after={"url": "https://hooks.example.com/in", "active": False},
        ),
        "Paused the webhook endpoint https://hooks.example.com/in",
    ),
    "webhook_endpoint.resumed": (
        _event(
            "webhook_endpoint.resumed",
            object_type="webhookendpoint",
            invoice=None,
            after={"url": "https://hooks.example.com/in", "active": True},
        ),
        "Resumed the webhook endpoint https://hooks.example.com/in",
    ),
    "webhook_endpoint.deleted": (
        _event(
            "webhook_endpoint.deleted",
            object_type="webhookendpoint",
            invoice=None,
            before={"url": "https://hooks.example.com/in"},
        ),
        "Deleted the webhook endpoint https://hooks.example.com/in and its delivery log",
    ),
    "refund_batch.queued": (
        _event(
            "refund_batch.queued",
            object_type="refundbatch",
            object_id="4",
            invoice=None,
            after={"status": "queued", "total": 12, "amount": "50%", "reason": "other"},
        ),
        "Started refund batch 4: 12 charges, 50 % of each — other reason",
    ),
    "refund_batch.running": (
        _event("refund_batch.running", object_type="refundbatch", object_id="4", invoice=None),
        "Refund batch 4 started",
    ),
    "refund_batch.resumed": (
        _event("refund_batch.resumed", object_type="refundbatch", object_id="4", invoice=None),
        "Refund batch 4 resumed where its stopped worker left it",
    ),
    "refund_batch.done": (
        _event(
            "refund_batch.done",
            object_type="refundbatch",
            object_id="4",
            invoice=None,
            after={"status": "done", "total": 12, "succeeded": 9, "refused": 2, "failed": 1, "awaiting_approval": 0},
        ),
        "Refund batch 4 done: 9 succeeded, 2 refused, 1 failed, 0 awaiting approval",
    ),
    "refund_batch.item_succeeded": (
        _event("refund_batch.item_succeeded", object_type="refundbatchitem", object_id="40", after={"batch": 4}),
        "Refund batch 4 refunded INV-000014",
    ),
    "refund_batch.item_refused": (
        _event(
            "refund_batch.item_refused",
            object_type="refundbatchitem",
            object_id="41",
            after={"batch": 4},
            message="This charge is already fully refunded.",
        ),
        "Refund batch 4 did not refund INV-000014: This charge is already fully refunded.",
    ),
    "refund_batch.item_failed": (
        _event(
            "refund_batch.item_failed",
            object_type="refundbatchitem",
            object_id="42",
            after={"batch": 4},
            message="Stripe did not refund: No such charge. Nothing was changed.",
        ),
        "Refund batch 4 could not refund INV-000014: Stripe did not refund: No such charge. Nothing was changed.",
    ),
    "refund_batch.item_awaiting_approval": (
        _event(
            "refund_batch.item_awaiting_approval", object_type="refundbatchitem", object_id="43", after={"batch": 4}
        ),
        "Refund batch 4: the refund of INV-000014 waits for approval",
    ),
}


def test_every_sentence_has_an_example_here():
    assert sorted(SENTENCES) == sorted(EXAMPLES)


@pytest.mark.parametrize("action", sorted(EXAMPLES))
def test_each_audit_action_reads_as_its_sentence(action):
    event, sentence = EXAMPLES[action]
    assert audit_sentence(event, names=NAMES) == sentence


def test_money_in_a_sentence_is_written_in_the_organizations_locale():
    event, _ = EXAMPLES["refund.requested"]
    german = audit_sentence(event, names=NAMES, locale="de_DE")
    assert german == "Refunded 50,00\u00a0€ of INV-000014 — requested by customer"
    assert audit_sentence(event, names=NAMES, locale="fr_FR").startswith("Refunded 50,00\u00a0€ of INV-000014")


def test_a_deleted_charge_says_it_was_deleted_and_no_money_moved():
    event = _event(
        "charge.marked_refunded",
        object_type="charge",
        object_id="3",
        message="Deleted: marked refunded, no money moved.",
    )
    assert audit_sentence(event, names=NAMES) == (
        "Deleted charge ch_3Abc of INV-000014, marking it refunded without moving money"
    )


def test_a_row_whose_objects_are_gone_still_reads_as_a_sentence_naming_them_by_id():
    event, _ = EXAMPLES["charge.marked_refunded"]
    assert audit_sentence(event) == "Marked charge #3 of invoice #14 refunded without moving money"
    refund = _event("refund.succeeded", after={"status": "succeeded"})
    assert audit_sentence(refund) == "Refund of an amount on invoice #14 succeeded in Stripe"


@pytest.mark.parametrize(
    "payload",
    [None, [], "text", {"amount": "5000", "reason": ["x"]}, {"amount": True, "status": 3}, {"amount": 10**30}],
)
@pytest.mark.parametrize("action", sorted(SENTENCES))
def test_no_payload_an_audit_row_may_hold_breaks_its_sentence(action, payload):
    event = _event(action, before=payload, after=payload, invoice=None)
    sentence = audit_sentence(event, names=AuditNames(refunds={"7": RefundName(1, "", "")}))
    assert isinstance(sentence, str) and sentence and "\n" not in sentence


def test_an_action_without_a_sentence_still_reads_as_words_not_a_crash():
    assert audit_sentence(_event("something.new", object_type="widget", object_id="3")) == (
        "something.new on widget #3"
    )


def test_names_typed_by_people_cannot_break_the_sentence_onto_more_lines():
    event = _event("customer.created", object_type="customer", after={"name": "Ada\n\u2028Lovelace" + "x" * 300})
    sentence = audit_sentence(event)
    assert "\n" not in sentence and "\u2028" not in sentence and len(sentence) < 200


@pytest.mark.parametrize(
    ("before", "after", "sentence"),
    [
        (
            {"refund_approval_threshold": None},
            {"refund_approval_threshold": 50000},
            "Changed the organization's refund approval threshold set to 50000 (minor units of the default currency)",
        ),
        (
            {"refund_approval_threshold": 50000},
            {"refund_approval_threshold": None},
            "Changed the organization's refund approval threshold removed (approvals off)",
        ),
    ],
)
def test_the_approval_threshold_reads_as_set_or_turned_off(before, after, sentence):
    event = _event(
        "organization.preferences_changed", object_type="organization", invoice=None, before=before, after=after
    )
    assert audit_sentence(event, names=NAMES) == sentence
