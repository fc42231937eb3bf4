"""Running the same request from several threads at once, each on its own database connection."""

import threading

from django.db import connection

THREADS = 8


def run_together(target, n=THREADS) -> list:
    """Run target() in n threads released at once; return each one's result or exception."""
    start = threading.Barrier(n)
    results: list = [None] * n

    def work(i):
        try:
            start.wait()
            results[i] = target()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each request ended with
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results
