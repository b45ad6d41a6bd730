"""``medtl score``: batch scoring with a saved model directory (see docs/scoring.md)."""

from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser("score", help="score files, folders or a manifest with a trained model",
                       description="Score every scan under the inputs; writes predictions.csv, masks, "
                                   "DICOM SEG, review artefacts and run_manifest.json into OUT_DIR.")
    p.add_argument("--model", metavar="RUN_DIR", help="model directory (model.json + model.safetensors)")
    p.add_argument("--input", nargs="+", metavar="PATH",
                   help="files, folders (recursive), a manifest CSV or a DICOMweb query "
                        "dicomweb[s]://HOST:PORT/PATH?Modality=CT&StudyDate=20240101- (credentials from "
                        "MEDTL_DICOMWEB_* environment variables or netrc, see docs/scoring.md)")
    p.add_argument("--store-results", metavar="DICOMWEB_URL",
                   help="also send DICOM SEG (segmentation) or SR (classification) results to this DICOMweb "
                        "server with STOW-RS")
    p.add_argument("--output", metavar="OUT_DIR", help="output folder (nothing is written outside it)")
    p.add_argument("--resume", action="store_true", help="skip cases already scored for the same input and model")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="loader processes (0 = load in the main process)")
    p.add_argument("--tta", action="store_true",
                   help="flip test-time augmentation over the flips the model was trained with (adds tta_disagreement)")
    p.add_argument("--tta-axes", type=int, nargs="+", metavar="AXIS",
                   help="with --tta: flip these spatial axes instead (0 = first spatial axis)")
    p.add_argument("--format", default="csv,nifti,dicom-seg", help="comma list of csv, nifti, dicom-seg")
    p.add_argument("--num-parts", type=int, default=1, help="split the cases into N parts (one per process)")
    p.add_argument("--part-id", type=int, default=0, help="which part this process scores (0-based)")
    p.add_argument("--anonymise-ids", action="store_true", help="case ids are salted hashes, not paths")
    p.add_argument("--keep-patient-ids", action="store_true",
                   help="copy the source's patient/study identifiers into DICOM SEG (default: blanked)")
    p.add_argument("--no-cam", action="store_true", help="skip Grad-CAM maps (faster)")
    p.add_argument("--localizers", action="store_true",
                   help="also score localizer-like parts (< 3 slices) of DICOM series mixing sizes or orientations")
    p.add_argument("--quiet", action="store_true", help="log lines instead of a progress bar")
    p.add_argument("--merge", metavar="OUT_DIR", help="only merge the finished parts in OUT_DIR")
    return p


def _usage(message: str) -> int:
    print(f"medtl score: error: {message}", file=sys.stderr)
    return 2


def run(args) -> int:
    from medtl.errors import MedtlError

    if args.merge:
        from medtl.infer.manifest import merge

        manifest = merge(args.merge)
        c = manifest["counts"]
        print(f"merged {c['total']} cases ({c['ok']} ok, {c['failed']} failed) into {args.merge}")
        return 0 if c["failed"] == 0 else 1
    if not (args.model and args.input and args.output):
        return _usage("--model, --input and --output are required (or --merge OUT_DIR)")
    if args.batch_size < 1 or args.workers < 0:
        return _usage("--batch-size must be >= 1 and --workers >= 0")
    from medtl.infer.score import score

    try:
        summary = score(args.model, args.input, args.output, resume=args.resume, batch_size=args.batch_size,
                        workers=args.workers, tta=args.tta, formats=args.format.split(","),
                        anonymise_ids=args.anonymise_ids, num_parts=args.num_parts, part_id=args.part_id,
                        quiet=args.quiet, cam=not args.no_cam, keep_patient_ids=args.keep_patient_ids,
                        tta_axes=args.tta_axes, localizers=args.localizers, store_results=args.store_results)
    except MedtlError as exc:
        if exc.code in ("usage", "not_found", "bad_model_dir", "missing_file", "bad_json"):
            return _usage(str(exc))
        raise
    print(f"scored {summary.total} cases ({summary.ok} ok, {summary.failed} failed, {summary.skipped} resumed) "
          f"in {summary.wall_s:.1f} s -> {summary.output}", file=sys.stderr)
    return summary.exit_code
