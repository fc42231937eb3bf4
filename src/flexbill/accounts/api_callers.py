"""Who is calling the API: a Bearer token -> the Actor of its member (their organization and the permissions of
their role) and that organization.

Finding the token by joining token, membership, user, organization and custom role costs more to plan than the
invoice list costs to run (bench/README.md, "Invoice list"). So the caller is kept in each process, keyed by the
token's SHA-256, and every request reads one row to check that it still holds: the organization's access_version,
raised in the same transaction as every change of who may do what (`access_changed`), and whether the user is
still active. A revoked token, a changed role or a removed member is refused on the very next request.

Callers are kept in a plain dict rather than the `local` cache, which pickles what it keeps: unpickling the caller
and its organization cost more than the rest of the lookup. Each request gets its own copy of the organization, so
that nothing one request loads or changes on it reaches another."""

import copy
import time
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F
from django.utils import timezone

from flexbill.audit.services import Actor
from flexbill.encryption.fields import EncryptedTextField

from .models import ApiToken, Organization, hash_token

CACHE_SECONDS = 300
MAX_CALLERS = 10_000  # valid tokens seen by one process; past that, all are read again
LAST_USED_EVERY_SECONDS = 60
# The organization as a request needs it; its Stripe secrets are read (and decrypted) only by what uses them.
SECRET_FIELDS = tuple(f.name for f in Organization._meta.concrete_fields if isinstance(f, EncryptedTextField))


@dataclass(frozen=True)
class ApiCaller:
    actor: Actor
    organization: Organization  # without its Stripe secrets, which load (decrypted) when something reads them
    token_id: int
    access_version: int
    last_used_at: datetime | None
    read_at: float  # time.monotonic() when the token was read


_callers: dict[str, ApiCaller] = {}  # by token hash


def api_callers_forget() -> None:
    """Forget every caller kept by this process (tests start each from nothing)."""
    _callers.clear()


def access_changed(*, organization_id: int) -> None:
    """Call inside the transaction that changes who may do what in the organization, or its settings: cached API
    callers of it are read again on their next request."""
    Organization.objects.filter(pk=organization_id).update(access_version=F("access_version") + 1)


def api_caller_for_token(*, raw_token: str) -> tuple[Actor, Organization] | None:
    token_hash = hash_token(raw_token)
    caller = _callers.get(token_hash)
    if caller is None or time.monotonic() - caller.read_at > CACHE_SECONDS or not _still_holds(caller):
        caller = _caller_from_token(token_hash)
        if caller is None:
            _callers.pop(token_hash, None)
            return None
        if len(_callers) >= MAX_CALLERS:
            _callers.clear()
        _callers[token_hash] = caller
    now = timezone.now()
    if caller.last_used_at is None or (now - caller.last_used_at).total_seconds() > LAST_USED_EVERY_SECONDS:
        ApiToken.objects.filter(pk=caller.token_id).update(last_used_at=now)
        _callers[token_hash] = replace(caller, last_used_at=now)
    return caller.actor, copy.copy(caller.organization)


@cache
def still_holds_sql() -> str:
    """One primary-key read per request, written out once so that nothing is built to ask it."""
    organizations, users = Organization._meta.db_table, get_user_model()._meta.db_table
    joined = f"{organizations} o JOIN {users} u ON u.id = %s AND u.is_active"
    return f"SELECT 1 FROM {joined} WHERE o.id = %s AND o.access_version = %s"  # noqa: S608 - names from the models


def _still_holds(caller: ApiCaller) -> bool:
    """Nothing changed access in the caller's organization since it was read, and the user is still active."""
    with connection.cursor() as cursor:
        cursor.execute(still_holds_sql(), [caller.actor.user_id, caller.actor.organization_id, caller.access_version])
        return cursor.fetchone() is not None


def _caller_from_token(token_hash: str) -> ApiCaller | None:
    token = (
        ApiToken.objects.select_related("membership__user", "membership__organization", "membership__custom_role")
        .defer(*(f"membership__organization__{name}" for name in SECRET_FIELDS))
        .filter(token_hash=token_hash, revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    membership = token.membership
    if not membership.user.is_active or not membership.is_active:
        return None
    return ApiCaller(
        actor=Actor.for_membership(membership),
        organization=membership.organization,
        token_id=token.pk,
        access_version=membership.organization.access_version,
        last_used_at=token.last_used_at,
        read_at=time.monotonic(),
    )
