"""One DICOMweb series, retrieved once into the data cache, for training manifests.

A manifest's ``image`` may be ``dicomweb://HOST:PORT/PATH?SeriesInstanceUID=...`` (one series;
``&StudyInstanceUID=...`` may be added, else the study is looked up with QIDO-RS, as
``medtl reviews export`` writes them). It is retrieved into
``<cache>/<host>_<port>/<SeriesInstanceUID>/`` the first time and read from there afterwards
(SeriesInstanceUIDs are unique, so the study is not part of the path and a cached series needs no
request). ``<cache>`` is ``$MEDTL_DATA_CACHE`` or ``~/.cache/medtl/dicomweb``; its folders are
mode 0700 (they hold patients' images). A series is retrieved into a temporary sibling folder and
renamed into place when complete, so a folder that exists is a whole series (an interrupted
retrieve leaves only the temporary folder, removed by the next attempt).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from medtl.errors import MedtlError
from medtl.pacs.client import RetryPolicy, make_client
from medtl.pacs.fetch import SeriesRef, query_series, retrieve_series
from medtl.pacs.url import parse_dicomweb_url

ENV_CACHE = "MEDTL_DATA_CACHE"
_SAFE = re.compile(r"[^A-Za-z0-9.-]+")
KEYS = ("SeriesInstanceUID", "StudyInstanceUID")
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


def cache_root() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "medtl" / "dicomweb").expanduser()


def series_url(base_url: str, series_uid: str) -> str:
    """The manifest form naming one series of the server of ``base_url`` (a dicomweb:// URL)."""
    return f"{base_url.split('?', 1)[0].rstrip('/')}?SeriesInstanceUID={series_uid}"


def _one_series(text: str):
    url = parse_dicomweb_url(text)
    if "SeriesInstanceUID" not in url.filters or set(url.filters) - set(KEYS):
        raise MedtlError("a DICOMweb image in a manifest names one series: dicomweb://HOST:PORT/PATH?"
                         "SeriesInstanceUID=...[&StudyInstanceUID=...] (nothing else)", path=url.redacted, code="usage")
    if not all(_UID.fullmatch(url.filters[k]) for k in url.filters):
        raise MedtlError("StudyInstanceUID and SeriesInstanceUID must be DICOM UIDs (digits and dots)",
                         path=url.redacted, code="usage")
    return url


def _series_ref(client, url) -> SeriesRef:
    uid = url.filters["SeriesInstanceUID"]
    if "StudyInstanceUID" in url.filters:
        return SeriesRef(url.filters["StudyInstanceUID"], uid)
    found = query_series(client, {"SeriesInstanceUID": uid})
    if len(found) != 1:
        raise MedtlError(f"the server holds {len(found)} series with SeriesInstanceUID {uid}", path=url.redacted,
                         code="dicomweb_not_found" if not found else "dicomweb_bad_response")
    return found[0]


def _private_dirs(folder: Path) -> None:
    """``mkdir -p`` with mode 0700 for every folder it creates (``Path.mkdir(parents=True)`` gives
    the parents the default mode)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def cached_series(text: str, *, root: Path | None = None, policy: RetryPolicy = RetryPolicy()) -> Path:
    """The local folder of the series named by ``text``, retrieved if not cached yet."""
    url = _one_series(text)
    server = _SAFE.sub("_", url.base.split("://", 1)[1].split("/", 1)[0])
    folder = (root or cache_root()) / server / url.filters["SeriesInstanceUID"]
    if folder.is_dir():
        return folder
    client = make_client(url, policy)
    ref = _series_ref(client, url)
    _private_dirs(folder.parent)
    for stale in folder.parent.glob(f".{ref.series_uid}.*"):  # an interrupted earlier retrieve
        shutil.rmtree(stale, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{ref.series_uid}.", dir=folder.parent))
    try:
        retrieve_series(client, ref, partial / "series")
        os.rename(partial / "series", folder)  # atomic: the folder appears complete or not at all
    except FileExistsError:
        pass  # another process cached it meanwhile
    except OSError as exc:
        if not folder.is_dir():
            raise MedtlError(f"cannot store the series in the cache: {exc}", path=folder, code="cache_failed") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder
