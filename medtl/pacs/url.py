"""``dicomweb://HOST[:PORT]/PATH?FILTERS`` -> the service's base URL and its QIDO-RS filters.

``dicomweb://`` talks HTTP, ``dicomwebs://`` HTTPS (with certificate verification). The query
string holds QIDO-RS search keys: DICOM keywords (``Modality=MR``, ``StudyDate=20240101-``,
``StudyInstanceUID=1.2.3``, ``SeriesInstanceUID=...``) and nothing else. Credentials are refused
in the URL (``user:pass@host``): command lines are visible to every user of the machine; they come
from the environment or a netrc file (medtl.pacs.auth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

from medtl.errors import MedtlError

SCHEMES = {"dicomweb": "http", "dicomwebs": "https"}
# Filter values never written to medtl's outputs (run_manifest.json records the query).
_IDENTIFYING_PREFIXES = ("Patient", "OtherPatient", "IssuerOfPatient", "AccessionNumber", "ReferringPhysician",
                         "StudyID", "Institution", "PerformingPhysician", "OperatorsName")


def is_dicomweb_url(text: object) -> bool:
    return isinstance(text, str) and text.split("://", 1)[0].lower() in SCHEMES and "://" in text


@dataclass(frozen=True)
class DicomwebUrl:
    base: str  # http(s)://host:port/path, the DICOMweb service root
    filters: dict[str, str] = field(default_factory=dict)
    host: str = ""

    @property
    def redacted(self) -> str:
        """The URL as medtl records it: identifying filter values replaced by ``***``."""
        scheme = "dicomwebs" if self.base.startswith("https:") else "dicomweb"
        text = f"{scheme}://{self.base.split('://', 1)[1]}"
        if self.filters:
            text += "?" + "&".join(f"{k}={'***' if k.startswith(_IDENTIFYING_PREFIXES) else quote(v, safe='-.*,')}"
                                   for k, v in self.filters.items())
        return text


def _check_keyword(key: str, url: str) -> None:
    from pydicom.datadict import tag_for_keyword

    if tag_for_keyword(key) is None:
        raise MedtlError(f"unknown QIDO filter {key!r}: filters are DICOM keywords such as Modality, StudyDate, "
                         "StudyInstanceUID, SeriesInstanceUID", path=url, code="usage")


def parse_dicomweb_url(url: str) -> DicomwebUrl:
    """Parse a ``dicomweb://`` or ``dicomwebs://`` URL; a usage error names what is wrong."""
    parts = urlsplit(url)
    scheme = SCHEMES.get(parts.scheme.lower())
    shown = url.split("?", 1)[0]
    if scheme is None:
        raise MedtlError("not a DICOMweb URL: use dicomweb://HOST:PORT/PATH (http) or dicomwebs://... (https)",
                         path=shown, code="usage")
    if parts.username is not None or parts.password is not None:
        raise MedtlError("credentials in the URL are refused (command lines are visible to other users); set "
                         "MEDTL_DICOMWEB_USER/MEDTL_DICOMWEB_PASSWORD, MEDTL_DICOMWEB_TOKEN or a netrc file",
                         path=f"{parts.scheme}://{parts.hostname or ''}", code="usage")
    if not parts.hostname:
        raise MedtlError("the DICOMweb URL has no host", path=shown, code="usage")
    try:
        port = parts.port
    except ValueError:
        raise MedtlError("the DICOMweb URL has an invalid port", path=shown, code="usage") from None
    filters: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        _check_keyword(key, shown)
        if key in filters:
            raise MedtlError(f"QIDO filter {key} given twice", path=shown, code="usage")
        filters[key] = value
    netloc = parts.hostname if port is None else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        netloc = f"[{parts.hostname}]" + ("" if port is None else f":{port}")
    base = f"{scheme}://{netloc}{parts.path.rstrip('/')}"
    return DicomwebUrl(base=base, filters=filters, host=parts.hostname)
