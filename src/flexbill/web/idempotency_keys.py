"""The one-time key of the forms that move money (Send refund, the bulk refund preview): each rendering of such a
form carries its own key, which the form's service takes as its Idempotency-Key (docs/rules.md, rules 13 and 22).
Sending the same form twice (a double click, the browser sending it again, a retry after a network error) therefore
answers with what the first one made; changing the form and sending it again is refused with a fresh key, so the
person sends the changed request deliberately."""

import uuid

from django import forms

from flexbill.billing.idempotency import MAX_KEY

# How a service's 409 for a key used with another request is recognised.
KEY_REUSED = "idempotency_key_reused"


def new_idempotency_key() -> str:
    """A key for one rendering of a form: every rendering gets its own."""
    return f"web-{uuid.uuid4().hex}"


def with_new_key(data):
    """The form's data as it was sent, with a fresh key: shown again after its key was refused."""
    data = data.copy()
    data["idempotency_key"] = new_idempotency_key()
    return data


class IdempotencyKeyField(forms.CharField):
    """The form's one-time key, hidden. `expired`: what to say when a form comes without a usable key (a page from
    before the key existed, or a hand-made post): nothing is done."""

    def __init__(self, *, expired: str, **kwargs):
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault("error_messages", {"required": expired, "max_length": expired})
        super().__init__(max_length=MAX_KEY, **kwargs)
