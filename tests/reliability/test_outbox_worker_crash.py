"""The outbox's e-mails and outgoing webhooks go out once in normal operation, and at least once, with the same event
id, when the worker is killed (SIGKILL) after taking an outbox row and before marking it done: another worker takes
the row again once its lease ends (flexbill/outbox/dispatch.py)."""

import json
import os
import signal
import time

import pytest
from django.conf import settings as django_settings

from flexbill.billing import services
from flexbill.outbox.models import OutboxEvent
from flexbill.outgoing.models import WebhookDelivery
from flexbill.outgoing.services import webhook_endpoint_create
from smtp_server import SmtpServer
from webhook_servers import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Killer:
    """Kills the worker it is given (SIGKILL) the first time it is called, if armed."""

    def __init__(self, armed: bool):
        self.armed, self.worker, self.killed = armed, None, False

    def __call__(self, *args) -> None:
        if self.armed and not self.killed and self.worker is not None:
            self.killed = True
            os.kill(self.worker.process.pid, signal.SIGKILL)
            time.sleep(0.5)  # the answer must not reach the worker before it is gone


@pytest.fixture
def world(org, owner, paid_charge, settings):
    """A refund that succeeded, its events waiting in the outbox (no worker yet); an integrator and a mail server
    that can each kill the worker while it sends to them."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # only the worker sends
    settings.FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = True
    kill_at_webhook, kill_at_mail = Killer(False), Killer(False)
    receiver = Receiver(on_request=kill_at_webhook)
    smtp = SmtpServer(on_message=kill_at_mail)
    webhook_endpoint_create(organization=org, url=receiver.url, event_types=["refund.succeeded"])
    refund = services.refund_create(membership=owner, charge=paid_charge, amount=2500)
    assert refund.status == "succeeded"
    assert OutboxEvent.objects.filter(processed_at__isnull=True).count() == 4  # created, succeeded, charge, invoice
    env = {
        "FLEXBILL_OUTBOX_LEASE_SECONDS": "2",
        "FLEXBILL_OUTBOX_SWEEP_INTERVAL": "0.3",
        "FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP": "1",
        "FLEXBILL_ENCRYPTION_KEYS": ",".join(django_settings.FLEXBILL_ENCRYPTION_KEYS),
        "FLEXBILL_EMAIL_HOST": "127.0.0.1",
        "FLEXBILL_EMAIL_PORT": str(smtp.port),
        "FLEXBILL_EMAIL_TLS": "0",
    }
    yield {
        "receiver": receiver,
        "smtp": smtp,
        "env": env,
        "kill_at": {"webhook": kill_at_webhook, "mail": kill_at_mail},
    }
    receiver.close()
    smtp.close()


def wait_until(condition, *, seconds: float, what: str, log) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen:\n{log()}"
        time.sleep(0.2)


def all_done() -> bool:
    return not OutboxEvent.objects.filter(processed_at__isnull=True).exists()


def succeeded_event_id() -> str:
    return str(OutboxEvent.objects.get(type="refund.succeeded").event_id)


def message_ids(smtp) -> list[str]:
    return [str(m["Message-ID"]).strip() for m in smtp.messages]


def webhook_ids(receiver) -> list[str]:
    return [json.loads(body)["id"] for _, body in receiver.requests]


def test_in_normal_operation_each_email_and_webhook_is_sent_once(world, worker_process):
    worker = worker_process(env=world["env"])
    wait_until(all_done, seconds=60, what="dispatching the outbox", log=worker.log)
    time.sleep(1.5)  # a lease's length more: nothing is sent again

    assert webhook_ids(world["receiver"]) == [succeeded_event_id()]
    assert message_ids(world["smtp"]) == [f"<{succeeded_event_id()}.customer_refund_succeeded@flexbill>"]
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_a_worker_killed_while_delivering_a_webhook_sends_it_again_with_the_same_event_id(world, worker_process):
    killer = world["kill_at"]["webhook"]
    killer.armed = True
    killer.worker = doomed = worker_process(env=world["env"])
    assert doomed.process.wait(timeout=60) == -signal.SIGKILL, doomed.log()

    # Taken, sent, never marked done: the row waits for its lease to end.
    row = OutboxEvent.objects.get(type="refund.succeeded")
    assert row.processed_at is None and row.claimed_until is not None
    assert webhook_ids(world["receiver"]) == [succeeded_event_id()]

    survivor = worker_process(env=world["env"])
    wait_until(all_done, seconds=60, what="dispatching the outbox", log=survivor.log)

    assert webhook_ids(world["receiver"]) == [succeeded_event_id()] * 2  # at least once, one id: the repeat is visible
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert len(world["smtp"].messages) == 1  # the e-mail comes after the webhook: sent once, by the survivor


def test_a_worker_killed_while_sending_an_email_sends_it_again_with_the_same_message_id(world, worker_process):
    killer = world["kill_at"]["mail"]
    killer.armed = True
    killer.worker = doomed = worker_process(env=world["env"])
    assert doomed.process.wait(timeout=60) == -signal.SIGKILL, doomed.log()

    assert OutboxEvent.objects.get(type="refund.succeeded").processed_at is None
    assert webhook_ids(world["receiver"]) == [succeeded_event_id()]  # webhooks go first, and this one was recorded

    survivor = worker_process(env=world["env"])
    wait_until(all_done, seconds=60, what="dispatching the outbox", log=survivor.log)

    message_id = f"<{succeeded_event_id()}.customer_refund_succeeded@flexbill>"
    assert message_ids(world["smtp"]) == [message_id] * 2
    assert webhook_ids(world["receiver"]) == [succeeded_event_id()]  # delivered and recorded before: not again
