"""Bounded retries with backoff against a local server: 503 then 200, 503 forever, refused, timeout."""

import json
import time

import pytest

from medtl.pacs import parse_dicomweb_url
from medtl.pacs.auth import NO_CREDENTIALS
from medtl.pacs.client import RetryPolicy, make_client
from medtl.pacs.fetch import FetchError, query_series
from tests.pacs.servers import free_port, serve

SERIES = json.dumps([{"0020000D": {"vr": "UI", "Value": ["1.2.3"]}, "0020000E": {"vr": "UI", "Value": ["1.2.3.4"]},
                      "00080060": {"vr": "CS", "Value": ["CT"]}}]).encode()
FAST = RetryPolicy(attempts=3, backoff_s=0.05, timeout_s=2.0)


def _client(port: int, policy: RetryPolicy = FAST):
    return make_client(parse_dicomweb_url(f"dicomweb://127.0.0.1:{port}/rs"), policy, NO_CREDENTIALS)


def test_503_then_200_is_retried_with_backoff():
    seen = []
    with serve([(503, b""), (503, b""), (200, SERIES)], seen) as port:
        start = time.monotonic()
        (ref,) = query_series(_client(port), {"Modality": "CT"})
        elapsed = time.monotonic() - start
    assert (ref.study_uid, ref.series_uid, ref.modality) == ("1.2.3", "1.2.3.4", "CT")
    assert len(seen) == 3
    assert elapsed >= 0.05  # backed off (urllib3: no wait before the first retry, 0.1 s before the second)


def test_503_forever_gives_up_after_the_attempts():
    seen = []
    with serve([(503, b"")], seen) as port:
        with pytest.raises(FetchError) as info:
            query_series(_client(port), {})
    assert info.value.code == "dicomweb_http" and len(seen) == 3


def test_auth_failure_is_not_retried():
    seen = []
    with serve([(401, b"")], seen) as port:
        with pytest.raises(FetchError) as info:
            query_series(_client(port), {})
    assert info.value.code == "dicomweb_auth" and len(seen) == 1


def test_connection_refused():
    with pytest.raises(FetchError) as info:
        query_series(_client(free_port()), {})
    assert info.value.code == "dicomweb_connection"


def test_timeout():
    seen = []
    with serve([(200, SERIES)], seen, delay_s=0.6) as port:
        with pytest.raises(FetchError) as info:
            query_series(_client(port, RetryPolicy(attempts=2, backoff_s=0.01, timeout_s=0.2)), {})
    assert info.value.code == "dicomweb_timeout" and len(seen) == 2


def test_query_pages_end_on_a_short_or_repeated_page():
    seen = []
    with serve([(200, SERIES)], seen) as port:  # a server ignoring limit/offset: the same page forever
        assert len(query_series(_client(port), {}, page=1)) == 1
    assert len(seen) == 2 and "offset=1" in seen[1]["path"]


def test_retrieve_asks_again_for_the_default_syntax_after_406(tmp_path):
    """A server that cannot send instances as stored (406 Not Acceptable) is asked for its default."""
    import numpy as np

    from medtl.data.synthetic import write_dicom_series
    from medtl.pacs.fetch import SeriesRef, retrieve_series

    (source,) = write_dicom_series(tmp_path / "src", np.arange(64, dtype=np.int16).reshape(8, 8, 1))
    boundary = "medtlboundary"
    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + source.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode())
    multipart = f'multipart/related; type="application/dicom"; boundary={boundary}'
    seen = []
    with serve([(406, b"", "text/plain"), (200, body, multipart)], seen) as port:
        (got,) = retrieve_series(_client(port), SeriesRef("1.2", "1.2.3"), tmp_path / "out")
    assert got.read_bytes() == source.read_bytes()
    assert "transfer-syntax=*" in seen[0]["Accept"] and "transfer-syntax=*" not in seen[1]["Accept"]
    assert len(seen) == 2 and (tmp_path / "out").stat().st_mode & 0o077 == 0
