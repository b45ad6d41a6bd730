"""STOW-RS: store DICOM datasets on the server, retried like every request (medtl.pacs.client)."""

from __future__ import annotations

from medtl.pacs.fetch import FetchError, fetch_error


def store_datasets(client, datasets: list) -> list[str]:
    """Store ``datasets`` in one STOW-RS request; their SOPInstanceUIDs. A :class:`FetchError`
    (code ``dicomweb_*``, or ``dicomweb_store_refused`` when the server rejects an instance)."""
    try:
        response = client.store_instances(datasets)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a typed error
        raise fetch_error(exc, "STOW-RS store failed") from None
    failed = list(getattr(response, "FailedSOPSequence", None) or [])
    if failed:
        reasons = sorted({str(item.get("FailureReason", "?")) for item in failed})
        raise FetchError(f"STOW-RS: the server refused {len(failed)} instance(s) (failure reason {', '.join(reasons)})",
                         code="dicomweb_store_refused")
    return [str(ds.SOPInstanceUID) for ds in datasets]
