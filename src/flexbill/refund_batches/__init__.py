"""Bulk refunds: a batch of charges refunded one by one by the worker, each an ordinary refund."""
