from ninja.security import HttpBearer

from flexbill.accounts.selectors import membership_for_token


class BearerToken(HttpBearer):
    """Authorization: Bearer TOKEN -> the caller's Membership (their organization and role)."""

    def authenticate(self, request, token: str):
        if not token or len(token) > 200:
            return None
        return membership_for_token(raw_token=token)
