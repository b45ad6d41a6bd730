"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) access to a PACS: ``dicomweb://`` URLs, credentials,
a retrying HTTP session, series retrieval into private temporary folders and storage of results.

It knows nothing of models or scoring: ``medtl.infer`` uses it to turn a query into series folders
scored like any other files, and to send DICOM SEG / SR results back. See docs/scoring.md.
"""

from medtl.pacs.url import DicomwebUrl, is_dicomweb_url, parse_dicomweb_url

__all__ = ["DicomwebUrl", "is_dicomweb_url", "parse_dicomweb_url"]
