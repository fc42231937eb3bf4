"""Re-encrypt every stored secret with the first key of FLEXBILL_ENCRYPTION_KEYS (after a new key was put first)."""

from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast

from . import keys
from .fields import UNSET, EncryptedTextField

BATCH_SIZE = 500


@dataclass
class RotationReport:
    rows_rotated: int = 0
    rows_checked: int = 0
    by_model: dict[str, tuple[int, int]] = field(default_factory=dict)  # label -> (rotated, checked)


def encrypted_fields() -> dict[type[models.Model], list[str]]:
    """Every model field that holds an encrypted secret, so that a new one is rotated without being listed here."""
    found = {}
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            found[model] = names
    return found


def encryption_keys_rotate(*, batch_size: int = BATCH_SIZE) -> RotationReport:
    """Re-encrypt, in one transaction, every secret not yet encrypted with the first key.

    Idempotent: a second run finds nothing left to rotate. A secret no configured key decrypts stops the run and
    rolls everything back, naming the setting; nothing is ever half-rotated.
    """
    report = RotationReport()
    with transaction.atomic():
        for model, names in encrypted_fields().items():
            rotated, checked = _rotate_model(model, names, batch_size)
            report.by_model[model._meta.label] = (rotated, checked)
            report.rows_rotated += rotated
            report.rows_checked += checked
    return report


def _rotate_model(model, names: list[str], batch_size: int) -> tuple[int, int]:
    # The raw tokens, as stored: read through the field they would be decrypted.
    raw = {f"raw_{name}": Cast(name, output_field=models.TextField()) for name in names}
    rotated = checked = 0
    last_pk = None
    while True:
        batch = model.objects.order_by("pk").select_for_update()
        if last_pk is not None:
            batch = batch.filter(pk__gt=last_pk)
        rows = list(batch.annotate(**raw).values_list("pk", *raw)[:batch_size])
        if not rows:
            return rotated, checked
        for pk, *tokens in rows:
            checked += 1
            updates = {}
            for name, token in zip(names, tokens, strict=True):
                if token and token != UNSET and not keys.encrypted_with_first_key(token):
                    where = f"{model._meta.label}.{name} (row {pk})"
                    # Written as the raw token: through the field it would be encrypted a second time.
                    updates[name] = models.Value(keys.rotate(token, where=where), output_field=models.TextField())
            if updates:
                model.objects.filter(pk=pk).update(**updates)
                rotated += 1
        last_pk = rows[-1][0]
