"""QIDO-RS: which series match a query; WADO-RS: one series into a private folder.

Every failure becomes a :class:`FetchError` with a code (``dicomweb_auth``, ``dicomweb_http``,
``dicomweb_connection``, ``dicomweb_timeout``, ``dicomweb_bad_response``), raised after the
session's bounded retries (medtl.pacs.client).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from medtl.errors import MedtlError

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# Retrieve each instance as stored: no transcoding on the server (medtl decodes what pydicom can).
AS_STORED = (("application/dicom", "*"),)
PAGE = 500  # QIDO-RS results asked for at a time


class FetchError(MedtlError):
    code = "dicomweb_http"


@dataclass(frozen=True)
class SeriesRef:
    study_uid: str
    series_uid: str
    modality: str = ""


def fetch_error(exc: Exception, what: str) -> FetchError:
    """The typed error for a failed request (the message never holds credentials: URLs carry none)."""
    import requests

    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        code = "dicomweb_auth" if status in (401, 403) else "dicomweb_http"
        return FetchError(f"{what}: HTTP {status} {exc.response.reason}", code=code)
    if isinstance(exc, requests.exceptions.RetryError):
        return FetchError(f"{what}: server kept failing after retries ({exc.args[0].reason if exc.args else exc})",
                          code="dicomweb_http")
    reason = getattr(exc.args[0], "reason", None) if exc.args else None  # urllib3's MaxRetryError.reason
    if isinstance(exc, requests.Timeout) or type(reason).__name__ in ("ReadTimeoutError", "ConnectTimeoutError"):
        return FetchError(f"{what}: timed out after retries", code="dicomweb_timeout")
    if isinstance(exc, requests.ConnectionError):
        return FetchError(f"{what}: cannot connect after retries ({type(exc).__name__})", code="dicomweb_connection")
    return FetchError(f"{what}: {type(exc).__name__}: {exc}", code="dicomweb_bad_response")


def _value(item: dict, tag: str) -> str:
    values = (item.get(tag) or {}).get("Value") or [""]
    return str(values[0])


def _page_refs(found) -> set[SeriesRef]:
    refs = set()
    for item in found or []:
        study, series = _value(item, "0020000D"), _value(item, "0020000E")
        if not (_UID.match(study) and _UID.match(series)):
            raise FetchError(f"QIDO-RS answer has an invalid study/series UID {study!r}/{series!r}",
                             code="dicomweb_bad_response")
        refs.add(SeriesRef(study, series, _value(item, "00080060")))
    return refs


def query_series(client, filters: dict[str, str], *, page: int = PAGE) -> list[SeriesRef]:
    """Every series matching the QIDO-RS ``filters``, sorted by (study, series) UID.

    Paged by hand (``limit``/``offset``) rather than with dicomweb-client's ``get_remaining``,
    which asks again until a page is empty: a server that ignores ``offset`` would make that loop
    forever. Here a page with nothing new also ends the query."""
    refs: set[SeriesRef] = set()
    offset = 0
    while True:
        try:
            found = client.search_for_series(search_filters=dict(filters), limit=page, offset=offset,
                                             fields=["StudyInstanceUID", "SeriesInstanceUID", "Modality"])
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed error
            raise fetch_error(exc, "QIDO-RS series query failed") from None
        new = _page_refs(found) - refs
        refs |= new
        if len(found or []) < page or not new:
            return sorted(refs, key=lambda r: (r.study_uid, r.series_uid))
        offset += len(found)


def _save_instances(client, ref: SeriesRef, folder: Path, media_types) -> list[Path]:
    files = []
    for n, ds in enumerate(client.iter_series(ref.study_uid, ref.series_uid, media_types=media_types)):
        path = folder / f"{n:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def _not_acceptable(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    return response is not None and response.status_code == 406


def retrieve_series(client, ref: SeriesRef, folder: Path) -> list[Path]:
    """WADO-RS: every instance of ``ref`` written into the new folder ``folder`` (mode 0700) as
    ``NNNNNN.dcm`` (names never come from the server). Asked for as stored; a server that cannot
    (HTTP 406 Not Acceptable) is asked again for its default transfer syntax (Explicit VR Little
    Endian). The folder is removed if anything fails."""
    folder.mkdir(mode=0o700)
    try:
        try:
            files = _save_instances(client, ref, folder, AS_STORED)
        except Exception as exc:  # noqa: BLE001 - sorted below
            if not _not_acceptable(exc):
                raise
            for stale in folder.iterdir():
                stale.unlink()
            files = _save_instances(client, ref, folder, None)
    except Exception as exc:  # noqa: BLE001 - a failed series is reported, the others go on
        shutil.rmtree(folder, ignore_errors=True)
        raise fetch_error(exc, f"WADO-RS retrieve of series {ref.series_uid} failed") from None
    if not files:
        shutil.rmtree(folder, ignore_errors=True)
        raise FetchError(f"WADO-RS returned no instances for series {ref.series_uid}", code="dicomweb_bad_response")
    return files
