"""Series of a ``dicomweb://`` query in one private temporary folder, deleted on close.

    with SeriesSource() as source:
        for series in source.fetch("dicomweb://pacs:8042/dicom-web?Modality=CT"):
            series.folder  # <tmp>/<n>/<SeriesInstanceUID>/000000.dcm ...  (None when series.error)

The folder is made by ``tempfile.mkdtemp`` (mode 0700: other users cannot read the patients'
images) and removed by :meth:`SeriesSource.close`, also when scoring fails, on Ctrl-C and on SIGTERM (only
``kill -9`` leaves it behind). A series that cannot
be retrieved after the retries carries its :class:`~medtl.pacs.fetch.FetchError`; the query itself
failing raises it (nothing can be scored without it).
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from medtl.pacs.client import RetryPolicy, make_client
from medtl.pacs.fetch import FetchError, SeriesRef, query_series, retrieve_series
from medtl.pacs.url import DicomwebUrl, parse_dicomweb_url


@dataclass
class FetchedSeries:
    url: DicomwebUrl
    ref: SeriesRef
    root: Path  # the folder holding this URL's series folders
    folder: Path | None  # root / SeriesInstanceUID, None when the retrieve failed
    error: FetchError | None = None


class SeriesSource:
    def __init__(self, policy: RetryPolicy = RetryPolicy(), *, quiet: bool = False):
        self.policy, self.quiet = policy, quiet
        self._tmp: Path | None = None
        self._count = 0
        self._previous = None

    def _new_root(self) -> Path:
        if self._tmp is None:
            self._previous = _raise_on_sigterm()  # only while patients' images are on disk
            self._tmp = Path(tempfile.mkdtemp(prefix="medtl-dicomweb-"))
        self._count += 1
        root = self._tmp / str(self._count)
        root.mkdir(mode=0o700)
        return root

    def fetch(self, text: str) -> list[FetchedSeries]:
        """Query ``text`` and retrieve every matching series (sorted by study, series UID)."""
        from tqdm import tqdm

        url = parse_dicomweb_url(text)
        client = make_client(url, self.policy)
        try:
            refs = query_series(client, url.filters)
        except FetchError as exc:  # name the server (the query itself stops the run)
            raise FetchError(exc.message, path=url.redacted, code=exc.code) from None
        root = self._new_root()
        out = []
        for ref in tqdm(refs, desc="retrieving series", unit="series", disable=self.quiet or not refs,
                        file=sys.stderr, dynamic_ncols=True):
            try:
                retrieve_series(client, ref, root / ref.series_uid)
                out.append(FetchedSeries(url, ref, root, root / ref.series_uid))
            except FetchError as exc:
                out.append(FetchedSeries(url, ref, root, None, exc))
        return out

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def __enter__(self) -> SeriesSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _sigterm(signum, frame):
    # Ignore further SIGTERMs while unwinding: `timeout` and job schedulers signal the process and
    # then its whole group, and a second SystemExit would cut the cleanup short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def _raise_on_sigterm():
    """SIGTERM (a job scheduler's cancel, ``kill``) unwinds like Ctrl-C so the temporary series are
    deleted; the previous handler, or None when not in the main thread (signals go there only)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return None  # the application handles SIGTERM itself: leave it alone
    signal.signal(signal.SIGTERM, _sigterm)
    return previous
