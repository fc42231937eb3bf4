"""Keyset pagination of any queryset of rows with an integer id, newest first, behind an opaque cursor."""

import base64
import binascii
from dataclasses import dataclass

from django.db.models import QuerySet

from flexbill.errors import InvalidInput

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":", 1)
        last_id = int(value)
        if prefix != "id" or last_id < 1:
            raise ValueError
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidInput(
            "cursor is not valid; use the next_cursor of a previous page.", code="cursor_invalid"
        ) from exc
    return last_id


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.", code="limit_invalid")


def page_of(rows: list, *, limit: int, id_of) -> Page:
    """The page of rows read newest first, one more than the page holds, and the cursor after it if more follow."""
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    items = rows[:limit]
    return Page(items=items, next_cursor=encode_cursor(id_of(items[-1])))


def paginate(qs: QuerySet, *, cursor: str | None, limit: int = PAGE_SIZE) -> Page:
    """Keyset pagination, newest first: stable under inserts and as fast on page 1000 as on page 1."""
    check_limit(limit)
    last_id = decode_cursor(cursor)
    if last_id is not None:
        qs = qs.filter(id__lt=last_id)
    return page_of(list(qs.order_by("-id")[: limit + 1]), limit=limit, id_of=lambda row: row.id)
