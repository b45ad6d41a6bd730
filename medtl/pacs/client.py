"""A dicomweb-client with a ``requests`` session that retries: connection errors, read timeouts
and HTTP 429/5xx are retried a bounded number of times with exponential backoff (urllib3's
``Retry``), then raised. dicomweb-client's own status retry is switched off so the two do not
multiply."""

from __future__ import annotations

from dataclasses import dataclass

from medtl.pacs.auth import Credentials, ca_bundle, credentials_for
from medtl.pacs.url import DicomwebUrl

RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries in all (1 = no retry)
    backoff_s: float = 0.5  # waits 0.5, 1, 2, 4 s ... between tries
    max_backoff_s: float = 30.0
    timeout_s: float = 60.0  # connect and read timeout per request


def make_session(credentials: Credentials, policy: RetryPolicy = RetryPolicy(), verify: str | bool = True):
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(total=policy.attempts - 1, connect=policy.attempts - 1, read=policy.attempts - 1,
                  status=policy.attempts - 1, other=0, backoff_factor=policy.backoff_s,
                  backoff_max=policy.max_backoff_s, status_forcelist=RETRY_STATUSES,
                  allowed_methods=None,  # STOW-RS (POST) too: storing the same SOP instance again is idempotent
                  raise_on_status=False,
                  respect_retry_after_header=False)  # a Retry-After of hours would be a hang; the backoff is bounded
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = verify
    credentials.apply(session)
    return session


def make_client(url: DicomwebUrl, policy: RetryPolicy = RetryPolicy(), credentials: Credentials | None = None,
                *, for_store: bool = False):
    """A ``dicomweb_client.DICOMwebClient`` for ``url`` with credentials from the environment
    (``for_store``: a client that only sends, see below)."""
    from dicomweb_client import DICOMwebClient

    creds = credentials if credentials is not None else credentials_for(url.host)
    session = make_session(creds, policy, ca_bundle() if url.base.startswith("https:") else True)
    client = DICOMwebClient(url.base, session=session, timeout=policy.timeout_s)
    client.set_http_retry_params(retry=False)
    if for_store:
        # STOW-RS bodies larger than the chunk size are sent from a generator, which a retry cannot
        # replay; one bytes body (a series' results: a few MB) can be retried. Only for a client that
        # does not download: the chunk size is also the read size of WADO-RS responses.
        client.set_chunk_size(1 << 40)
    return client
