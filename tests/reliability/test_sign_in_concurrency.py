"""A burst of simultaneous wrong passwords for one account from one address gets exactly the limit of tries, never
more: in threads through Django's request handling, and through the real server (several processes)."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.db import connection
from django.test import Client

from flexbill.accounts.sign_in import rules
from password_checks import passwords_checked, use_counting_hasher

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BURST = 16
THROTTLED = "Too many failed sign-in attempts. Try again in"
WRONG = "Please enter a correct"


@pytest.mark.nostripe
def test_a_burst_of_wrong_passwords_lets_exactly_the_limit_reach_the_password_check(settings, owner):
    use_counting_hasher(settings)
    start = threading.Barrier(BURST)
    answers: list = [None] * BURST

    def attempt(i):
        try:
            client = Client(REMOTE_ADDR="203.0.113.5")
            start.wait()
            # Spellings vary too: they are one account to the throttle.
            email = owner.user.email.upper() if i % 2 else f" {owner.user.email} "
            answers[i] = client.post("/login/", {"username": email, "password": "wrong password"}).content.decode()
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    assert sum(WRONG in answer for answer in answers) == rules.ADDRESS_FAILURE_LIMIT, [
        re.findall(r'role="alert">([^<]*)', a) for a in answers
    ]
    assert passwords_checked() == rules.ADDRESS_FAILURE_LIMIT
    assert sum(THROTTLED in answer for answer in answers) == BURST - rules.ADDRESS_FAILURE_LIMIT


def _sign_in_over_http(url: str, email: str, password: str) -> requests.Response:
    session = requests.Session()
    page = session.get(f"{url}/login/", timeout=60)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(
        f"{url}/login/",
        data={"username": email, "password": password, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=60,
    )


def test_a_burst_of_wrong_passwords_through_the_server_lets_exactly_the_limit_reach_the_password_check(
    http_server, owner
):
    owner.user.password = make_password("the-owners-password-1", hasher=PBKDF2PasswordHasher())  # the server's hasher
    owner.user.save(update_fields=["password"])
    server = http_server(workers=3, threads=4)
    email = owner.user.email

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(lambda _: _sign_in_over_http(server.url, email, "wrong password"), range(BURST)))

    assert all(answer.status_code == 200 for answer in answers)
    assert sum(WRONG in answer.text for answer in answers) == rules.ADDRESS_FAILURE_LIMIT
    assert sum(THROTTLED in answer.text for answer in answers) == BURST - rules.ADDRESS_FAILURE_LIMIT
    log = server.log()
    assert log.count(f"sign-in failed for {email!r} from 127.0.0.1") == rules.ADDRESS_FAILURE_LIMIT
    assert log.count(f"sign-in throttled for {email!r} from 127.0.0.1") == BURST - rules.ADDRESS_FAILURE_LIMIT
    # Even the right password waits out the window from this address.
    assert THROTTLED in _sign_in_over_http(server.url, email, "the-owners-password-1").text
