"""Data migrations that encrypt (and, reversed, decrypt) the plain-text secrets of existing rows.

The migrations run these while the column is a plain TextField, so they see exactly what the database holds.
"""

from . import keys


def encrypt_plain_values(apps, app_label: str, model_name: str, field_names: list[str]) -> int:
    """Encrypt every plain value; leave empty values and tokens a configured key decrypts alone. Returns rows changed.

    A value shaped like a Fernet token that no configured key decrypts stops the migration: encrypting it again
    would bury a secret under a key nobody has."""

    def encrypted(value: str, where: str) -> str:
        try:
            keys.decrypt(value, where=where)
            return value
        except keys.SecretUndecryptable:
            if keys.looks_like_token(value):
                raise
            return keys.encrypt(value)

    return _rewrite(apps, app_label, model_name, field_names, encrypted)


def decrypt_values(apps, app_label: str, model_name: str, field_names: list[str]) -> int:
    """Undo encrypt_plain_values: every token back to plain text; plain values are left as they are."""

    def plain(value: str, where: str) -> str:
        try:
            return keys.decrypt(value, where=where)
        except keys.SecretUndecryptable:
            if keys.looks_like_token(value):
                raise
            return value

    return _rewrite(apps, app_label, model_name, field_names, plain)


def _rewrite(apps, app_label, model_name, field_names, convert, batch_size: int = 500) -> int:
    model = apps.get_model(app_label, model_name)
    changed = 0
    rows = model.objects.order_by("pk").values_list("pk", *field_names)
    for pk, *values in rows.iterator(chunk_size=batch_size):
        updates = {}
        for name, value in zip(field_names, values, strict=True):
            if value:
                new = convert(value, f"{app_label}.{model_name}.{name} (row {pk})")
                if new != value:
                    updates[name] = new
        if updates:
            model.objects.filter(pk=pk).update(**updates)
            changed += 1
    return changed
