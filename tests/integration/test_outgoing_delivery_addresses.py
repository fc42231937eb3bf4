"""Deliveries go only where the check said, checked again at every attempt, and log short fixed reasons.

Names ending in `.test` resolve through the tests' fake DNS table (the `fake_dns` fixture), which is how a name can
resolve publicly at registration and to loopback at delivery: DNS rebinding, which real DNS cannot produce here.
"""

import ipaddress
import json
import ssl

import pytest
import trustme

from flexbill.audit.services import SYSTEM
from flexbill.outgoing import destinations, services, transport
from flexbill.outgoing.models import WebhookDelivery
from flexbill.outgoing.services import webhook_deliver, webhook_endpoint_create
from flexbill.outgoing.signing import HEADER, verify
from outgoing_urls import PUBLIC
from webhook_servers import ConnectionCounter, Receiver, SilentServer

FIXED_REASONS = {
    "Address not allowed",
    "URL not allowed",
    "Host not found",
    "Connection refused",
    "Connection failed",
    "Timed out",
    "TLS error",
    "Endpoint paused",
}


@pytest.fixture
def dev_http(settings):
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True


@pytest.fixture
def counter():
    c = ConnectionCounter()
    yield c
    c.close()


def a_delivery(endpoint) -> WebhookDelivery:
    return WebhookDelivery.objects.create(endpoint=endpoint, event_type="charge.updated", payload={"type": "x"})


def test_delivery_connects_to_the_vetted_address_and_names_the_host_in_the_host_header(org, fake_dns, dev_http):
    receiver = Receiver()
    try:
        fake_dns["receiver.test"] = ["127.0.0.1"]
        endpoint = webhook_endpoint_create(
            organization=org, url=f"http://receiver.test:{receiver.port}/in/caf\u00e9?x=1", actor=SYSTEM
        )
        delivery = a_delivery(endpoint)

        assert webhook_deliver(delivery=delivery) == "succeeded"

        headers, body = receiver.requests[0]
        assert headers["Host"] == f"receiver.test:{receiver.port}"
        assert receiver.paths == ["/in/caf%C3%A9?x=1"]
        assert verify(secret=endpoint.secret, body=body, header=headers[HEADER])
        assert json.loads(body)["id"] == str(delivery.event_id)
    finally:
        receiver.close()


@pytest.mark.parametrize("at_delivery", [["127.0.0.1"], [PUBLIC, "127.0.0.1"]], ids=["loopback", "one-of-several"])
def test_a_name_that_resolves_inside_at_delivery_is_not_connected_to(org, fake_dns, counter, at_delivery):
    fake_dns["rebind.test"] = [PUBLIC]
    endpoint = webhook_endpoint_create(organization=org, url=f"https://rebind.test:{counter.port}/hook", actor=SYSTEM)
    fake_dns["rebind.test"] = at_delivery  # the name now leads inside: DNS rebinding
    delivery = a_delivery(endpoint)

    assert webhook_deliver(delivery=delivery) == "pending"

    delivery.refresh_from_db()
    assert delivery.last_error == "Address not allowed"
    assert delivery.last_status_code is None and delivery.attempts == 1 and delivery.next_attempt_at is not None
    assert counter.connections == 0


def test_a_stored_internal_url_is_refused_at_delivery_even_if_registration_was_bypassed(org, counter):
    endpoint = webhook_endpoint_create(organization=org, url="https://public.test/hook", actor=SYSTEM)
    endpoint.url = f"https://[::ffff:127.0.0.1]:{counter.port}/"  # e.g. written before these checks existed
    endpoint.save()
    delivery = a_delivery(endpoint)

    webhook_deliver(delivery=delivery)

    delivery.refresh_from_db()
    assert delivery.last_error == "Address not allowed" and counter.connections == 0


def test_redirects_are_never_followed(org, dev_http):
    target = Receiver()
    redirecting = Receiver(location=target.url)
    try:
        endpoint = webhook_endpoint_create(organization=org, url=redirecting.url, actor=SYSTEM)
        delivery = a_delivery(endpoint)

        webhook_deliver(delivery=delivery)

        delivery.refresh_from_db()
        assert (delivery.status, delivery.last_status_code, delivery.last_error) == ("pending", 302, "HTTP 302")
        assert len(redirecting.requests) == 1 and target.requests == []
    finally:
        target.close()
        redirecting.close()


def test_the_delivery_log_keeps_a_short_fixed_reason_never_the_exception_text(org, settings, fake_dns, monkeypatch):
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
    monkeypatch.setattr(services, "TIMEOUT_SECONDS", 0.5)
    closed = ConnectionCounter()
    closed.close()  # nothing listens on its port any more
    silent = SilentServer()
    failing = Receiver()
    failing.statuses = [500]
    fake_dns["gone.test"] = ["127.0.0.1"]
    cases = {
        f"http://127.0.0.1:{closed.port}/": "Connection refused",
        f"http://127.0.0.1:{silent.port}/": "Timed out",
        failing.url: "HTTP 500",
        "http://gone.test/": "Host not found",
    }
    try:
        seen = {}
        for url in cases:
            endpoint = webhook_endpoint_create(organization=org, url=url, actor=SYSTEM)
            if url == "http://gone.test/":
                del fake_dns["gone.test"]
            delivery = a_delivery(endpoint)
            webhook_deliver(delivery=delivery)
            delivery.refresh_from_db()
            seen[url] = delivery.last_error
        assert seen == cases
    finally:
        silent.close()
        failing.close()


def test_an_http_endpoint_is_not_delivered_to_once_the_development_switch_is_off(org, settings, counter):
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
    endpoint = webhook_endpoint_create(organization=org, url=f"http://127.0.0.1:{counter.port}/", actor=SYSTEM)
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = False
    delivery = a_delivery(endpoint)

    webhook_deliver(delivery=delivery)

    delivery.refresh_from_db()
    assert delivery.last_error == "URL not allowed" and counter.connections == 0


@pytest.fixture
def tls_receiver(monkeypatch):
    """An https receiver on 127.0.0.1 whose certificate names receiver.test, signed by a CA flexbill is told to trust;
    it records the TLS server name (SNI) each client asked for."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("receiver.test").configure_cert(context)
    server_names = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    receiver = Receiver(tls=context)
    receiver.server_names = server_names
    with ca.cert_pem.tempfile() as ca_file:
        monkeypatch.setattr(transport, "CA_BUNDLE", ca_file)
        yield receiver
    receiver.close()


def pinned(url: str) -> destinations.Destination:
    """The destination a name resolved to 127.0.0.1 gives (https to loopback is refused before transport)."""
    return destinations.Destination(
        url=destinations.parse(url, allow_http=False), addresses=(ipaddress.ip_address("127.0.0.1"),)
    )


def test_https_goes_to_the_pinned_address_with_the_hosts_name_as_sni_and_certificate_name(tls_receiver):
    destination = pinned(f"https://receiver.test:{tls_receiver.port}/hooks")

    status = transport.post(destination, body=b"{}", headers={"Content-Type": "application/json"}, timeout=5)

    assert status == 200
    assert tls_receiver.server_names == ["receiver.test"]
    assert tls_receiver.requests[0][0]["Host"] == f"receiver.test:{tls_receiver.port}"


def test_a_certificate_for_another_name_is_a_tls_error(tls_receiver):
    destination = pinned(f"https://other.test:{tls_receiver.port}/hooks")
    with pytest.raises(transport.DeliveryFailed) as failed:
        transport.post(destination, body=b"{}", headers={}, timeout=5)
    assert failed.value.reason == "TLS error"
    assert tls_receiver.requests == []


def test_plain_http_answering_a_tls_client_is_a_tls_error(dev_http):
    receiver = Receiver()
    try:
        with pytest.raises(transport.DeliveryFailed) as failed:
            transport.post(pinned(f"https://receiver.test:{receiver.port}/"), body=b"{}", headers={}, timeout=5)
        assert failed.value.reason == "TLS error"
    finally:
        receiver.close()


def test_every_reason_a_delivery_can_log_is_in_the_fixed_vocabulary():
    reasons = {destinations.UrlRefused.reason, destinations.AddressRefused.reason, destinations.HostNotFound.reason}
    reasons |= {transport.CONNECTION_REFUSED, transport.TIMED_OUT, transport.TLS_ERROR, transport.CONNECTION_FAILED}
    reasons.add(services.ENDPOINT_PAUSED)
    assert reasons == FIXED_REASONS
