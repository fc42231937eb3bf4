"""The public event schema (src/flexbill/outbox/schema/): every outgoing webhook body validates against the schema
of its version, and the shape of each event type is pinned per version, so a payload cannot change shape without
a version bump (README, "Outgoing webhooks for integrators")."""

import json
import os
from pathlib import Path

import jsonschema
import pytest

from flexbill.billing import services
from flexbill.billing.models import Refund
from flexbill.billing.services.approvals import refund_approve, refund_reject
from flexbill.billing.services.reconcile import reconcile_organization
from flexbill.billing.services.refunds import refund_settle
from flexbill.outbox import events
from flexbill.outbox.models import OutboxEvent
from flexbill.outgoing.services import webhook_endpoint_create
from stripe_events import stripe_refund_set_status
from webhook_servers import Receiver

SCHEMA_DIR = Path(events.__file__).parent / "schema"


def approve(*, membership, refund):
    refund_approve(membership=membership, refund=refund)


def reject(*, membership, refund):
    refund_reject(membership=membership, refund=refund, reason="Not this month")


SHAPES_DIR = Path(__file__).parent / "event_shapes"


def schema_for(version: str) -> dict:
    return json.loads((SCHEMA_DIR / f"v{version}.schema.json").read_text())


def validator(version: str = events.VERSION):
    schema = schema_for(version)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture
def delivered(org, owner, make_member, make_paid_charge, settings, django_capture_on_commit_callbacks):
    """Every event type, made by the real services and delivered over HTTP: (headers, body) of each request."""
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
    settings.FLEXBILL_REQUESTED_REFUND_GRACE_SECONDS = 0
    receiver = Receiver()
    try:
        webhook_endpoint_create(organization=org, url=receiver.url)
        charge = make_paid_charge(org, amount=8000)
        with django_capture_on_commit_callbacks(execute=True):
            refund = services.refund_create(membership=owner, charge=charge, amount=3000)  # created, succeeded
        stripe_refund_set_status(org, refund.stripe_refund_id, "failed")
        with django_capture_on_commit_callbacks(execute=True):
            reconcile_organization(org)  # failed
        lost = Refund.objects.create(
            organization=org, charge=charge, amount=500, currency="usd", status="requested", origin="app"
        )
        with django_capture_on_commit_callbacks(execute=True):
            refund_settle(refund=lost, resend=False)  # canceled: it never reached Stripe
        org.refund_approval_threshold = 1000
        org.save(update_fields=["refund_approval_threshold"])
        approver = make_member(org, "admin")
        big = make_paid_charge(org, amount=9000)
        for decide in (approve, reject):
            with django_capture_on_commit_callbacks(execute=True):
                waiting = services.refund_create(membership=owner, charge=big, amount=2000)  # awaiting approval
            with django_capture_on_commit_callbacks(execute=True):
                decide(membership=approver, refund=waiting)  # approved (then sent), or rejected
        yield [(headers, json.loads(body)) for headers, body in receiver.requests]
    finally:
        receiver.close()


def test_every_event_type_is_delivered_by_the_scenario(delivered):
    assert {body["type"] for _, body in delivered} == set(events.EVENT_TYPES)


def test_every_delivered_payload_validates_against_the_schema_of_its_version(delivered):
    for headers, body in delivered:
        assert headers["Flexbill-Version"] == body["flexbill_version"] == events.VERSION
        validator(body["flexbill_version"]).validate(body)


def test_each_delivery_carries_its_outbox_events_id(delivered):
    ids = {str(e) for e in OutboxEvent.objects.values_list("event_id", flat=True)}
    sent = [body["id"] for _, body in delivered]
    assert len(sent) == len(set(sent)) and set(sent) <= ids


def test_a_renamed_or_retyped_field_fails_the_schema(delivered):
    _, body = next((h, b) for h, b in delivered if b["type"] == "refund.succeeded")
    renamed = json.loads(json.dumps(body))
    renamed["data"]["object"]["amount_minor"] = renamed["data"]["object"].pop("amount")
    retyped = json.loads(json.dumps(body))
    retyped["data"]["object"]["amount"] = "30.00"
    wrong_status = json.loads(json.dumps(body))
    wrong_status["data"]["object"]["status"] = "failed"  # a refund.succeeded must carry a succeeded refund
    for payload in (renamed, retyped, wrong_status):
        with pytest.raises(jsonschema.ValidationError):
            validator().validate(payload)


def shape(value, prefix: str = "") -> dict[str, set[str]]:
    """Every path of a JSON value with the JSON types seen there."""
    if isinstance(value, dict):
        found: dict[str, set[str]] = {prefix or "$": {"object"}}
        for key, item in value.items():
            for path, kinds in shape(item, f"{prefix}.{key}" if prefix else key).items():
                found.setdefault(path, set()).update(kinds)
        return found
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", type(None): "null"}
    return {prefix: {kind[type(value)]}}


def test_each_event_types_shape_matches_the_snapshot_of_its_version(delivered):
    shapes: dict[str, dict[str, set[str]]] = {}
    for _, body in delivered:
        for path, kinds in shape(body).items():
            shapes.setdefault(body["type"], {}).setdefault(path, set()).update(kinds)
    current = {t: {p: "|".join(sorted(k)) for p, k in sorted(paths.items())} for t, paths in sorted(shapes.items())}
    snapshot = SHAPES_DIR / f"v{events.VERSION}.json"
    if os.environ.get("FLEXBILL_WRITE_EVENT_SHAPES") == events.VERSION and not snapshot.exists():
        snapshot.write_text(json.dumps(current, indent=2) + "\n")  # a new version's first snapshot, written once
    assert snapshot.exists(), f"No snapshot of version {events.VERSION}'s event shapes ({snapshot})."
    assert current == json.loads(snapshot.read_text()), (
        "An outgoing event changed shape. Integrators rely on it: raise flexbill.outbox.events.VERSION, publish "
        "schema/v<new>.schema.json, and write its snapshot with FLEXBILL_WRITE_EVENT_SHAPES=<new> "
        f"(keep {snapshot.name})."
    )


def test_every_published_version_keeps_its_schema_and_snapshot():
    versions = sorted(p.name.split(".")[0][1:] for p in SCHEMA_DIR.glob("v*.schema.json"))
    assert events.VERSION in versions
    for version in versions:
        assert schema_for(version)["properties"]["flexbill_version"] == {"const": version}
        assert (SHAPES_DIR / f"v{version}.json").exists(), f"version {version} has no snapshot of its shapes"
    assert schema_for(events.VERSION)["properties"]["type"]["enum"] == list(events.EVENT_TYPES)
