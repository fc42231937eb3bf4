"""The worker's part of bulk refunds (django-tasks): run a batch a few seconds at a time, and resume batches whose
worker died."""

from django_tasks import task

from .models import RefundBatch
from .services import refund_batch_run, refund_batches_due


@task()
def refund_batch_run_task(batch_id: int, token: str | None = None) -> dict:
    done = refund_batch_run(batch_id=batch_id, token=token, on_more=refund_batch_run_soon)
    return {"batch": batch_id, "done": done}


def refund_batch_run_soon(batch_id: int, token: str | None) -> None:
    refund_batch_run_task.enqueue(batch_id, token)


def refund_batch_queued(batch: RefundBatch) -> None:
    """After a batch is created: its first run, holding the claim the batch was created with."""
    refund_batch_run_soon(batch.pk, str(batch.claim_token))


def refund_batches_sweep() -> int:
    """The worker's periodic look: queue a run of every unfinished batch nobody holds (its worker died)."""
    due = refund_batches_due()
    for batch_id in due:
        refund_batch_run_task.enqueue(batch_id, None)
    return len(due)
