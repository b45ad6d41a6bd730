"""``--store-results dicomweb://...``: send each scored DICOM case's results back with STOW-RS.

Segmentation: the case's DICOM SEG (``seg/<case_id>.dcm``, as written to OUT). Classification: a
Comprehensive SR made from the case's row (medtl.infer.dicom_sr). Both reference the source series.
One request per case; a case that cannot be stored after the retries is listed with its code in
``OUT/store_results.json`` (the scoring results stay valid) and makes the exit status 1.
"""

from __future__ import annotations

import sys

from medtl.errors import MedtlError
from medtl.fileio import atomic_write_json, confined
from medtl.infer.resume import read_result

STORE_LOG = "store_results.json"


def check_store_url(text: str):
    """The parsed ``--store-results`` URL; a usage error when it is not a bare service URL."""
    from medtl.pacs import parse_dicomweb_url

    url = parse_dicomweb_url(text)
    if url.filters:
        raise MedtlError("--store-results takes the DICOMweb service URL without query filters", path=url.redacted,
                         code="usage")
    return url


def _datasets(out, case, result, task: str, label_names: list[str], keep_patient_ids: bool) -> list:
    import pydicom

    segs = [pydicom.dcmread(confined(out, rel)) for rel in result.outputs if rel.startswith("seg/")]
    if segs or task != "classification" or case.format != "dicom" or not case.files:
        return segs
    from medtl.infer.dicom_sr import classification_sr

    probs = {name: float(result.row[f"prob_{name}"]) for name in label_names}
    return [classification_sr(case.files, label_names, probs, str(result.row.get("predicted_label", "")),
                              model_id=result.model_id, keep_patient_ids=keep_patient_ids)]


def store_results(out, cases: list, url_text: str, *, task: str, label_names: list[str],
                  keep_patient_ids: bool = False, policy=None, quiet: bool = False) -> int:
    """Store the results of every ``ok`` case; the number of cases that could not be stored."""
    from medtl.pacs.client import RetryPolicy, make_client
    from medtl.pacs.store import store_datasets

    url = check_store_url(url_text)
    client = make_client(url, policy or RetryPolicy(), for_store=True)
    records = []
    for case in cases:
        result = read_result(out, case.case_id)
        if result is None or result.status != "ok":
            continue
        try:
            datasets = _datasets(out, case, result, task, label_names, keep_patient_ids)
            if not datasets:
                continue
            uids = store_datasets(client, datasets)
            records.append({"case_id": case.case_id, "status": "ok", "sop_instance_uids": uids})
        except MedtlError as exc:
            records.append({"case_id": case.case_id, "status": "failed", "code": exc.code, "message": exc.message})
    failed = sum(r["status"] != "ok" for r in records)
    atomic_write_json(confined(out, STORE_LOG), {"url": url.redacted, "cases": records})
    if not quiet or failed:
        print(f"stored the results of {len(records) - failed} case(s) on {url.redacted}"
              + (f"; {failed} failed (see {STORE_LOG})" if failed else ""), file=sys.stderr)
    return failed
