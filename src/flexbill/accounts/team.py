"""Writes for the team: invite, accept an invitation, change a member's role, remove a member.

Each takes the acting membership and decides there whether it may (accounts/team_rules.py), in one transaction that
locks the organization's row first, so that concurrent team changes in one organization happen one after the
other: two owners demoting each other at once leave one owner."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from flexbill.audit.services import Actor, audit_record
from flexbill.errors import Conflict, EmailFailed, InvalidInput, NotFound, PermissionDenied
from flexbill.notifications.text import header_line, mailbox, render_text

from . import invitation_links
from . import team_rules as rules
from .acting import acting_member
from .api_callers import access_changed
from .models import CustomRole, Membership, MembershipStatus, Organization
from .permissions import Permission, Role
from .preferences import approvers_before_change, approvers_kept
from .sign_in.identity import MAX_IDENTITY_LENGTH, sign_in_identity
from .web_sessions import user_sessions_end

log = logging.getLogger("flexbill.accounts.team")
BUILT_IN_ROLES = (Role.OWNER, Role.ADMIN, Role.MEMBER)


def role_resolve(*, organization: Organization, ref: str) -> tuple[str, CustomRole | None]:
    """owner | admin | member | custom:NAME (a custom role of this organization) -> (role, custom role)."""
    if ref in BUILT_IN_ROLES:
        return ref, None
    if isinstance(ref, str) and ref.startswith("custom:"):
        custom = CustomRole.objects.filter(organization=organization, name=ref.split(":", 1)[1]).first()
        if custom is not None:
            return Role.CUSTOM, custom
        raise InvalidInput(f"No custom role named {ref.split(':', 1)[1]!r} in this organization.", code="unknown_role")
    raise InvalidInput("Role must be owner, admin, member or custom:NAME.", code="unknown_role")


def _custom(membership: Membership) -> frozenset[str]:
    return frozenset(membership.custom_role.permissions) if membership.custom_role else frozenset()


def _require_grant(acting: Membership, role: str, custom_role: CustomRole | None) -> None:
    refusal = rules.grant_refusal(
        acting_role=acting.role,
        acting_custom=_custom(acting) if acting.is_active else frozenset(),
        role=role,
        custom=frozenset(custom_role.permissions) if custom_role else frozenset(),
    )
    if refusal or not acting.is_active:
        raise PermissionDenied(refusal or rules.NEEDS_SETTINGS)


def _require_settings(acting: Membership) -> None:
    if not acting.is_active or rules.settings_refusal(acting.role, _custom(acting)):
        raise PermissionDenied(rules.NEEDS_SETTINGS)


def _acting(actor: Actor) -> Membership:
    """The member the actor is, if it may manage the team (checked again under the organization's lock)."""
    actor.require(Permission.SETTINGS_MANAGE, refusal=rules.NEEDS_SETTINGS)
    acting = acting_member(actor, refusal=rules.NEEDS_SETTINGS)
    _require_settings(acting)
    return acting


def _lock(organization: Organization) -> None:
    Organization.objects.select_for_update().filter(pk=organization.pk).first()


def _fresh_acting(acting: Membership) -> Membership:
    """The acting membership as it is now, under the organization's lock: a request that began before someone
    changed or removed this member's role must not act with the role it had then."""
    fresh = (
        Membership.objects.select_related("user", "organization", "custom_role")
        .filter(pk=acting.pk, status=MembershipStatus.ACTIVE)
        .first()
    )
    if fresh is None:
        raise PermissionDenied(rules.NEEDS_SETTINGS)
    _require_settings(fresh)
    return fresh


def _locked_member(acting: Membership, member_id: int) -> Membership:
    member = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "custom_role")
        .filter(organization_id=acting.organization_id, pk=member_id)
        .first()
    )
    if member is None:
        raise NotFound("No such member in this organization.")
    return member


def _active_owner_ids(organization_id: int) -> set[int]:
    return set(
        Membership.objects.select_for_update()
        .filter(organization_id=organization_id, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        .values_list("pk", flat=True)
    )


def _state(member: Membership) -> dict:
    return {"email": member.user.email, "role": member.role_ref, "status": member.status}


def invitation_email_normalise(email: str) -> str:
    """The invitee's e-mail in the normal form sign-in uses, so that every spelling names one person."""
    identity = sign_in_identity(email or "")
    if len(email or "") > MAX_IDENTITY_LENGTH or not identity:
        raise InvalidInput("Give the e-mail address to invite (at most 254 characters).", code="invalid_email")
    try:
        validate_email(identity)
    except ValidationError as exc:
        raise InvalidInput(f"{identity!r} is not a valid e-mail address.", code="invalid_email") from exc
    return identity


def member_invite(*, actor: Actor, email: str, role: str, accept_url) -> Membership:
    """Invite someone by e-mail with a role; `accept_url(token)` makes the absolute link for the e-mail.

    Someone who has no account yet gets one without a password, set when they accept. Someone who already has an
    account (in another organization) is invited the same way and accepts by signing in on the link's page: no
    membership is active until its invitation is accepted. Inviting an e-mail whose invitation is pending sends a
    new link (with the role given now) and the previous link stops working."""
    acting = _acting(actor)
    organization = acting.organization
    identity = invitation_email_normalise(email)
    role_name, custom_role = role_resolve(organization=organization, ref=role)
    _require_grant(acting, role_name, custom_role)
    User = get_user_model()
    with transaction.atomic():
        _lock(organization)
        acting = _fresh_acting(acting)
        _require_grant(acting, role_name, custom_role)
        user = User.objects.filter(username=identity).first()
        if user is None:
            user = User(username=identity, email=identity)
            user.set_unusable_password()
            user.save()
        member = Membership.objects.select_for_update().filter(user=user, organization=organization).first()
        if member is not None and member.is_active:
            raise Conflict(f"{identity} is already a member of {organization.name}.", code="already_member")
        before = _state(member) if member else None
        nonce, digest = invitation_links.new_nonce()
        if member is None:
            member = Membership(user=user, organization=organization, status=MembershipStatus.PENDING)
        member.role, member.custom_role = role_name, custom_role
        member.invitation_digest, member.invitation_sent_at = digest, timezone.now()
        member.save()
        audit_record(
            organization_id=organization.pk,
            actor=Actor.for_user(acting.user),
            action="member.invitation_resent" if before else "member.invited",
            obj=member,
            before=before,
            after=_state(member),
            message=f"Invited {identity} as {member.role_label}.",
        )
        link = accept_url(invitation_links.link_token(membership_id=member.pk, nonce=nonce))
        # Sent inside the transaction: if the mail server refuses it, no invitation is kept that nobody received.
        _send_invitation(member=member, inviter=acting.user, link=link)
    return member


def _send_invitation(*, member: Membership, inviter, link: str) -> None:
    organization = member.organization
    context = {
        "organization": organization,
        "inviter": inviter.email or inviter.get_username(),
        "role": member.role_label,
        "link": link,
        "days": invitation_links.invitation_days(),
        "has_password": member.user.has_usable_password(),
    }
    subject = header_line(f"You are invited to {organization.name} on flexbill")
    body = render_text("accounts/invitation.txt", context)
    try:
        send_mail(subject, body, mailbox(organization.name, settings.DEFAULT_FROM_EMAIL), [member.user.email])
    except (OSError, ValueError) as exc:  # smtplib errors are OSErrors
        log.warning("Invitation e-mail to member %s could not be sent: %s", member.pk, type(exc).__name__)
        raise EmailFailed("The invitation e-mail could not be sent; nothing was changed. Try again later.") from exc


def invitation_get(*, token: str) -> Membership:
    """The pending membership a link invites to; InvalidInput (code invitation_invalid) with the reason if none."""
    try:
        member_id, nonce = invitation_links.read_link_token(token)
    except invitation_links.LinkRefused as exc:
        raise InvalidInput(exc.reason, code="invitation_invalid") from exc
    member = (
        Membership.objects.select_related("user", "organization", "custom_role")
        .filter(pk=member_id, status=MembershipStatus.PENDING)
        .first()
    )
    if member is None or not invitation_links.nonce_matches(nonce, member.invitation_digest):
        raise InvalidInput(invitation_links.NOT_VALID, code="invitation_invalid")
    return member


def invitation_accept(*, token: str, new_password: str | None, password_checked: bool = False) -> Membership:
    """Accept an invitation. Someone without a password sets one (Django's password validators); someone with an
    account proves it first (`password_checked`, by signing in through the throttled backend in the view)."""
    with transaction.atomic():
        member = invitation_get(token=token)
        # Read again under the row lock: of two acceptances of one link at once, one joins and the other is
        # refused, and a link replaced by a newer invitation meanwhile no longer matches.
        member = (
            Membership.objects.select_for_update(of=("self",))
            .select_related("user", "organization", "custom_role")
            .get(pk=member.pk)
        )
        _, nonce = invitation_links.read_link_token(token)
        if member.status != MembershipStatus.PENDING or not invitation_links.nonce_matches(
            nonce, member.invitation_digest
        ):
            raise InvalidInput(invitation_links.NOT_VALID, code="invitation_invalid")
        user = member.user
        if user.has_usable_password():
            if not password_checked:
                raise PermissionDenied("Sign in with your password to accept this invitation.")
        else:
            try:
                validate_password(new_password or "", user)
            except ValidationError as exc:
                raise InvalidInput(" ".join(exc.messages), code="password_invalid") from exc
            user.set_password(new_password)
            user.save(update_fields=["password"])
        before = _state(member)
        member.status, member.invitation_digest = MembershipStatus.ACTIVE, ""
        member.save(update_fields=["status", "invitation_digest"])
        audit_record(
            organization_id=member.organization_id,
            actor=Actor.for_user(user),
            action="member.joined",
            obj=member,
            before=before,
            after=_state(member),
            message=f"{user.email} accepted the invitation as {member.role_label}.",
        )
    return member


def member_change_role(*, actor: Actor, member: Membership, role: str) -> Membership:
    acting = _acting(actor)
    role_name, custom_role = role_resolve(organization=acting.organization, ref=role)
    with transaction.atomic():
        _lock(acting.organization)
        acting = _fresh_acting(acting)
        approvers = approvers_before_change(organization_id=acting.organization_id)
        member = _locked_member(acting, member.pk)
        _require_grant(acting, member.role, member.custom_role)  # may they touch this member at all?
        _require_grant(acting, role_name, custom_role)
        if member.is_active and rules.leaves_no_owner(
            active_owner_ids=_active_owner_ids(acting.organization_id), member_id=member.pk, new_role=role_name
        ):
            raise Conflict(rules.LAST_OWNER, code="last_owner")
        before = _state(member)
        member.role, member.custom_role = role_name, custom_role
        member.save(update_fields=["role", "custom_role"])
        access_changed(organization_id=acting.organization_id)
        approvers_kept(organization_id=acting.organization_id, before=approvers)
        audit_record(
            organization_id=acting.organization_id,
            actor=Actor.for_user(acting.user),
            action="member.role_changed",
            obj=member,
            before=before,
            after=_state(member),
            message=f"{member.user.email}: {before['role']} → {member.role_ref}.",
        )
    return member


def member_remove(*, actor: Actor, member: Membership) -> None:
    """Remove a member (or withdraw an invitation). Their API tokens go with the membership and their web
    sessions end at once, in the same transaction."""
    acting = _acting(actor)
    with transaction.atomic():
        _lock(acting.organization)
        acting = _fresh_acting(acting)
        approvers = approvers_before_change(organization_id=acting.organization_id)
        member = _locked_member(acting, member.pk)
        _require_grant(acting, member.role, member.custom_role)
        if member.is_active and rules.leaves_no_owner(
            active_owner_ids=_active_owner_ids(acting.organization_id), member_id=member.pk, new_role=None
        ):
            raise Conflict(rules.LAST_OWNER, code="last_owner")
        before = _state(member)
        tokens = member.api_tokens.filter(revoked_at__isnull=True).count()
        audit_record(
            organization_id=acting.organization_id,
            actor=Actor.for_user(acting.user),
            action="member.removed" if member.is_active else "member.invitation_withdrawn",
            obj=member,
            before=before,
            after=None,
            message=f"{member.user.email} removed; {tokens} API token(s) revoked, web sessions ended.",
        )
        member.api_tokens.all().delete()
        user = member.user
        member.delete()
        access_changed(organization_id=acting.organization_id)
        approvers_kept(organization_id=acting.organization_id, before=approvers)
        if before["status"] == MembershipStatus.ACTIVE:
            user_sessions_end(user=user)
