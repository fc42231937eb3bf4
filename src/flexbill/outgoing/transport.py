"""The one place flexbill opens a connection to an integrator: to an address destinations.py checked, nowhere else.

The connection goes to the vetted IP address itself, so nothing can resolve the name again in between (DNS
rebinding); the request still names the endpoint's host in its Host header, TLS still sends it as SNI and the
certificate is verified against it. Redirects are never followed and no proxy is used.
"""

import http.client
import logging

import certifi
import urllib3
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError, SSLError

from .destinations import Destination

log = logging.getLogger("flexbill.outgoing")

# The delivery log's whole vocabulary, besides "HTTP <status>": never an exception's text, which would tell the
# caller what answers at an address and how.
CONNECTION_REFUSED = "Connection refused"
TIMED_OUT = "Timed out"
TLS_ERROR = "TLS error"
CONNECTION_FAILED = "Connection failed"
MAX_ADDRESSES_TRIED = 3
CA_BUNDLE = certifi.where()  # the certificate authorities requests trusts; tests point it at their own CA


class DeliveryFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _NotConnected(DeliveryFailed):
    """Nothing was sent: the next vetted address of the same name may be tried."""


def post(destination: Destination, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST once and return the answer's status code, or raise DeliveryFailed with a short reason."""
    failure: DeliveryFailed | None = None
    for address in destination.addresses[:MAX_ADDRESSES_TRIED]:
        try:
            return _post_to(destination, str(address), body=body, headers=headers, timeout=timeout)
        except _NotConnected as exc:
            failure = exc
    raise DeliveryFailed(failure.reason if failure else CONNECTION_FAILED)


def _post_to(destination: Destination, address: str, *, body: bytes, headers: dict, timeout: float) -> int:
    url = destination.url
    options = {
        "host": address,
        "port": url.port,
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if url.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            **options,
            cert_reqs="CERT_REQUIRED",
            ca_certs=CA_BUNDLE,
            server_hostname=url.host,
            assert_hostname=url.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(**options)
    try:
        response = pool.urlopen(
            "POST",
            url.target,
            body=body,
            headers={**headers, "Host": url.host_header},
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        response.close()  # the status is all flexbill reads; a receiver cannot make it read a large body
        return response.status
    except NewConnectionError as exc:
        refused = isinstance(exc.__cause__, ConnectionRefusedError)
        raise _NotConnected(CONNECTION_REFUSED if refused else CONNECTION_FAILED) from exc
    except ConnectTimeoutError as exc:
        raise _NotConnected(TIMED_OUT) from exc
    except ReadTimeoutError as exc:
        raise DeliveryFailed(TIMED_OUT) from exc
    except SSLError as exc:
        raise DeliveryFailed(TLS_ERROR) from exc
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
        log.info("webhook delivery to %s failed: %r", url.host, exc)
        raise DeliveryFailed(CONNECTION_FAILED) from exc
    finally:
        pool.close()
