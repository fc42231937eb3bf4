"""EncryptedTextField: a secret that code reads as plain text while its column holds a Fernet token."""

from django.core.exceptions import FieldError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models.lookups import Exact, IsNull

from . import keys

UNSET = ""


class EncryptedTextField(models.TextField):
    """Plain text in memory, a Fernet token in the database (encrypted with the first FLEXBILL_ENCRYPTION_KEYS key).

    An empty value means "not set" and is stored empty, so code may still ask whether a secret is set. Nothing else
    can be compared in SQL: every encryption of one secret gives a different token.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The column is unbounded (a token is longer than its secret); max_length bounds the secret itself.
        if self.max_length is not None:
            self.validators.append(MaxLengthValidator(self.max_length))

    def from_db_value(self, value, expression, connection):
        if value is None or value == UNSET:
            return value
        return keys.decrypt(value, where=self.label_for_errors)

    def get_db_prep_save(self, value, connection):
        value = super().get_db_prep_save(value, connection)
        if value is None or value == UNSET or hasattr(value, "as_sql"):  # an expression is saved as it is
            return value
        return keys.encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name == "exact":
            return UnsetOnlyExact
        if lookup_name == "isnull":
            return IsNull
        return None  # Django then refuses the lookup with a FieldError

    def get_transform(self, lookup_name):
        return None

    @property
    def label_for_errors(self) -> str:
        return f"{self.model._meta.label}.{self.name}" if hasattr(self, "model") else self.name


class UnsetOnlyExact(Exact):
    """`secret=""` (is it unset?) is the only comparison an encrypted column answers truthfully."""

    def get_prep_lookup(self):
        if self.rhs != UNSET:
            raise FieldError(
                f"{self.lhs.output_field.label_for_errors} is encrypted: it can only be compared with '' (not set)."
            )
        return super().get_prep_lookup()
