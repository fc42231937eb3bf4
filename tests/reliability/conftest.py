"""Fixtures of the reliability tests: the real HTTP server on the test database."""

import pytest
from reliability_server import Server, Worker, start_server, start_worker


@pytest.fixture
def http_server(transactional_db, tmp_path):
    """http_server(workers=, threads=, env=) -> a running gunicorn on the test database; stopped after the test."""
    servers: list[Server] = []

    def start(**kwargs) -> Server:
        server = start_server(tmp_path / f"gunicorn-{len(servers)}.log", **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def worker_process(transactional_db, tmp_path):
    """worker_process(env=) -> a running `flexbill worker`; stopped after the test."""
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = start_worker(tmp_path / f"worker-{len(workers)}.log", **kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
