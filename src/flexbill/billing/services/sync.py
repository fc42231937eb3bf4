"""Bringing Stripe's view of one charge's refunds into flexbill (docs/rules.md, rule 9): the single-charge entry to
apply.py.

Refunds are keyed by Stripe's refund id, and refunds flexbill issued carry their flexbill reference in
metadata, so whichever path reports a refund first (issuing, the inbox, reconcile), it is recorded once.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from flexbill.audit.services import STRIPE, Actor
from flexbill.errors import Conflict
from flexbill.stripe_gateway.types import RefundInfo

from .apply import ChargeRefunds, charges_apply_stripe_refunds


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    refunds: dict = field(default_factory=dict)  # the charge's refunds Stripe knows, by Stripe's id, as written

    @property
    def changed(self) -> int:
        return self.created + self.updated


def charge_sync_refunds(
    *,
    charge,
    refunds: list[RefundInfo],
    actor: Actor = STRIPE,
    read_at: datetime | None = None,
    complete: bool = True,
) -> SyncResult:
    """Upsert Stripe's refunds of this charge and derive its status. Safe to run any number of times.

    `read_at`: when these refunds were read from Stripe. A refund already updated from a later read keeps
    that newer state, so a slow read or an old snapshot never turns a status back.
    """
    result = charges_apply_stripe_refunds(
        snapshots=[ChargeRefunds(charge_id=charge.pk, refunds=refunds, complete=complete)],
        read_at=read_at or timezone.now(),
        actor=actor,
    )
    if result.refused or result.incomplete:
        raise Conflict(
            f"Stripe reports refunds on charge {charge.stripe_charge_id} beyond its amount; nothing was recorded.",
            code="refunds_exceed_charge",
        )
    return SyncResult(created=result.created, updated=result.updated, refunds=result.refunds)
