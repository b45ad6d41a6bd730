"""``score()``: batch scoring of files, folders or a manifest with a saved model directory.

Flow: collect cases -> take this process's part -> (resume: drop cases already done) -> DataLoader
workers read + preprocess -> batched predictions (and Grad-CAMs) in the main process -> writer
threads write each case's files -> per loader batch, one filesystem sync, then the batch's result
records (casewriter.py) -> predictions.csv / errors.jsonl / run_manifest.json are regenerated from
the records (periodically and at the end).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from medtl.errors import MedtlError
from medtl.fileio import confined, sync_filesystem

log = logging.getLogger(__name__)
FORMATS = ("csv", "nifti", "dicom-seg")
SNAPSHOT_EVERY_S = 30.0
WRITER_THREADS = 4


@dataclass
class ScoreSummary:
    output: str
    total: int  # cases in this part
    ok: int
    failed: int
    skipped: int  # already done (--resume)
    wall_s: float
    merged: bool  # predictions.csv / run_manifest.json written for the whole run
    num_parts: int = 1
    part_id: int = 0
    loop_s: float = 0.0  # time in the scoring loop (wall_s minus discovery, model load, merge)
    store_failed: int = 0  # cases whose results --store-results could not send

    @property
    def exit_code(self) -> int:
        return 0 if self.failed == 0 and self.store_failed == 0 else 1

    @property
    def cases_per_s(self) -> float:
        return (self.total - self.skipped) / self.wall_s if self.wall_s > 0 else 0.0


def _check_formats(formats) -> tuple[str, ...]:
    formats = tuple(f.strip() for f in formats if f.strip())
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise MedtlError(f"unknown --format {unknown}; choose from {', '.join(FORMATS)}", code="usage")
    return formats


def score(model_dir, inputs, output, *, store_results: str | None = None, **options) -> ScoreSummary:
    """Score every case under ``inputs`` (files, folders, manifests, ``dicomweb://`` queries) into
    ``output``; see docs/scoring.md and :func:`_score` for ``options``.

    ``dicomweb://`` series are retrieved into a private temporary folder, deleted when scoring
    (and ``store_results``: sending DICOM SEG / SR back with STOW-RS) is over, even on failure.
    """
    from medtl.pacs.source import SeriesSource

    if store_results:
        from medtl.infer.store import check_store_url

        check_store_url(store_results)  # a bad URL is a usage error before any work
    with SeriesSource(quiet=options.get("quiet", False)) as source:
        return _score(model_dir, inputs, output, source=source, store_url=store_results, **options)


def _score(model_dir, inputs, output, *, resume: bool = False, batch_size: int = 8, workers: int = 2,
           tta: bool = False, formats=FORMATS, anonymise_ids: bool = False, num_parts: int = 1,
           part_id: int = 0, quiet: bool = False, cam: bool = True, keep_patient_ids: bool = False,
           tta_axes=None, localizers: bool = False, source=None, store_url: str | None = None) -> ScoreSummary:
    """``tta_axes`` (with ``tta``): the spatial axes to flip; default the flips the model was trained
    with (``medtl.models.tta.tta_flips``). ``localizers``: also score the parts of fewer than 3
    slices of mixed DICOM series. ``source`` retrieves ``dicomweb://`` inputs;
    ``store_url``: where the DICOM results go (after a merged run)."""
    import torch

    from medtl import __version__
    from medtl.data import PreprocessConfig, build_transforms
    from medtl.infer.cases import collect_cases
    from medtl.infer.manifest import merge, now_iso
    from medtl.infer.predictor import Predictor
    from medtl.infer.resume import completed, load_salt
    from medtl.infer.sharding import clear_stale_parts, part_from_env, write_part
    from medtl.models import load_model_dir
    from medtl.models.io import read_model_info
    from medtl.pacs import is_dicomweb_url

    t0, started = time.perf_counter(), now_iso()
    formats = _check_formats(formats)
    part, distributed = part_from_env(num_parts, part_id)
    if part.num_parts > 1 and any(map(is_dicomweb_url, inputs)):  # each part would retrieve every series
        raise MedtlError("dicomweb:// inputs are scored by one process: drop --num-parts", code="usage")
    out = Path(output)
    info = read_model_info(model_dir)  # fail fast on a bad model directory, before touching OUT
    mask_stats = _mask_stats(model_dir, info.get("task"))
    flips = _tta_flips(model_dir, info, tta, tta_axes)
    cases = collect_cases(list(inputs), anonymise_ids=anonymise_ids, salt=load_salt(out) if anonymise_ids else "",
                          localizers=localizers, source=source)
    out_r = out.resolve()
    cases = [c for c in cases if out_r != Path(c.path) and out_r not in Path(c.path).parents]  # not our outputs
    if not cases:
        raise MedtlError("no scans found in the inputs", path=", ".join(map(str, inputs)), code="usage")
    mine = part.select(cases)
    out.mkdir(parents=True, exist_ok=True)
    clear_stale_parts(out, part)
    if resume and part.num_parts == 1:
        _remove_interrupted_writes(out)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and workers > 0:
        # Loader workers use one core each; leave the model the rest instead of oversubscribing
        # (2 torch threads + 2 workers on 2 cores ran several times slower on a busy machine).
        torch.set_num_threads(max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - workers)))
    loaded = load_model_dir(model_dir, device=device)
    cfg = PreprocessConfig.from_dict(loaded.preprocess)
    run = {"model_id": loaded.model_id, "weights_sha256": loaded.model_id, "model_dir": str(Path(model_dir).resolve()),
           "medtl_version": __version__, "task": loaded.task, "label_names": loaded.label_names,
           "spatial_dims": cfg.spatial_dims, "multilabel": loaded.multilabel, "tta": tta,
           "write_csv": "csv" in formats, "inputs": [_describe_input(p) for p in inputs],
           "options": {"tta": tta, "tta_axes": None if flips is None else list(flips.axes),
                       "tta_axes_from": None if flips is None else flips.source, "formats": list(formats),
                       "anonymise_ids": anonymise_ids, "cam": cam}}
    record = {"num_parts": part.num_parts, "part_id": part.part_id, "run": run, "started": started,
              "finished": None, "indices": mine, "case_ids": [cases[i].case_id for i in mine], "skipped": 0}
    write_part(out, part, record)

    results: dict[int, object] = {}
    todo = []
    for i in mine:
        done = completed(out, cases[i], loaded.model_id) if resume else None
        if done is not None:
            results[i] = done
        else:
            todo.append(i)
    record["skipped"] = len(results)
    from medtl.infer.casewriter import CaseWriter

    writer = CaseWriter(str(out), loaded, formats, keep_patient_ids, mask_stats)
    predictor = Predictor(loaded, tta=tta, cam=cam, tta_axes=None if flips is None else flips.axes,
                          roi_size=cfg.image_size if loaded.task == "segmentation" else None)
    t_loop = time.perf_counter()
    _run_cases(cases, todo, results, writer, predictor, build_transforms(cfg, train=False), out, run,
               batch_size=batch_size, workers=workers, quiet=quiet, snapshot=part.num_parts == 1)
    loop_s = time.perf_counter() - t_loop
    if todo:
        sync_filesystem(out)  # the last batches' records, before the part record says "finished"
    record["finished"] = now_iso()
    write_part(out, part, record)

    from medtl.infer.sharding import barrier_and_is_leader, missing_parts, read_parts

    merged = False
    if barrier_and_is_leader(distributed) and not missing_parts(read_parts(out)):
        merge(out)
        merged = True
    elif not quiet and not distributed:
        print(f"part {part.part_id} of {part.num_parts} done; when all parts are done run: "
              f"medtl score --merge {out}", file=sys.stderr)
    statuses = [results[i].status for i in mine]
    store_failed = 0
    if store_url and merged:
        from medtl.infer.store import store_results

        store_failed = store_results(out, cases, store_url, task=loaded.task, label_names=loaded.label_names,
                                     keep_patient_ids=keep_patient_ids, quiet=quiet)
    return ScoreSummary(str(out), len(mine), statuses.count("ok"), len(mine) - statuses.count("ok"),
                        record["skipped"], time.perf_counter() - t0, merged, part.num_parts, part.part_id,
                        loop_s, store_failed)


def _describe_input(item) -> str:
    """How run_manifest.json names an input: the resolved path, or the redacted DICOMweb URL."""
    from medtl.pacs import is_dicomweb_url, parse_dicomweb_url

    return parse_dicomweb_url(item).redacted if is_dicomweb_url(item) else str(Path(item).resolve())


def _mask_stats(model_dir, task: str) -> dict | None:
    """The training masks' statistics for the quality flags; said once when a segmentation model
    has none (trained before medtl stored them)."""
    from medtl.data.mask_stats import STATS_FILE, read_stats

    if task != "segmentation":
        return None
    try:
        stats = read_stats(model_dir)
    except MedtlError as exc:
        raise MedtlError(exc.message, path=exc.path, code="usage") from None
    if stats is None:
        log.warning("%s has no %s (trained before medtl stored training mask statistics): only the "
                    "touches_border quality flag applies", model_dir, STATS_FILE)
    return stats


def _tta_flips(model_dir, info: dict, tta: bool, tta_axes):
    """The TTA flips (``None`` without TTA); a usage error for a bad request."""
    from medtl.errors import ConfigError
    from medtl.models.tta import model_spatial_dims, resolve_tta

    try:
        return resolve_tta(model_dir, tta, tta_axes, model_spatial_dims(info, model_dir) if tta else None)
    except ConfigError as exc:
        raise MedtlError(exc.message, path=exc.path, code="usage") from None


def _predict(predictor, group):
    """Predictions for a same-shape group; if the batch fails, each case is retried alone so one
    bad input (e.g. a volume too small for the network) fails only itself."""
    import torch

    try:
        return list(zip(group, predictor(torch.stack([torch.as_tensor(it.x) for it in group]))))
    except Exception as exc:
        if len(group) == 1:
            return [(group[0], exc)]
    out = []
    for item in group:
        try:
            out.append((item, predictor(torch.as_tensor(item.x)[None])[0]))
        except Exception as exc:
            out.append((item, exc))
    return out


def _remove_interrupted_writes(out: Path) -> None:
    """Temporary files left by a killed run (atomic_write names them ``.<name>.<random>.tmp``).
    Only done by a single-part run: another part may be writing right now."""
    for tmp in out.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def _run_cases(cases, todo, results, writer, predictor, transforms, out, run, *, batch_size, workers,
               quiet, snapshot) -> None:
    from tqdm import tqdm

    from medtl.infer.casewriter import attach_cam_previews
    from medtl.infer.manifest import PREDICTIONS, csv_row
    from medtl.infer.outputs import prediction_header, write_predictions_csv
    from medtl.infer.pipeline import CaseDataset, group_by_shape, make_loader

    if not todo:
        return
    loader = make_loader(CaseDataset(cases, transforms), todo, batch_size=batch_size, workers=workers)
    pending: list[tuple[list[int], Future]] = []  # per loader batch: its case indices, its commit
    bar = tqdm(total=len(todo), unit="case", disable=quiet, dynamic_ncols=True, file=sys.stderr)
    last_snapshot = last_log = time.perf_counter()
    header = prediction_header(run["task"], run["label_names"], spatial_dims=run["spatial_dims"], tta=run["tta"])

    def drain(limit: int) -> None:
        while sum(len(indices) for indices, _ in pending) > limit:
            indices, future = pending.pop(0)
            for index, result in zip(indices, future.result()):
                results[index] = result
            bar.update(len(indices))

    def commit(futures: list[Future]):
        return writer.commit([f.result() for f in futures])

    # Writer threads write the cases' files (no per-file fsync); one committer thread then makes
    # each loader batch durable with one filesystem sync and writes its records (casewriter.py).
    with ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="medtl-write") as pool, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="medtl-commit") as committer:
        for items in loader:
            batch: list[tuple[int, Future]] = []
            for item in items:
                if not item.ok:
                    case = cases[item.index]
                    batch.append((item.index, pool.submit(writer.failed, case, item.code, item.message, record=False)))
            for group in group_by_shape([it for it in items if it.ok]):
                scored = _predict(predictor, group)
                attach_cam_previews([(it, p) for it, p in scored if not isinstance(p, Exception)])
                for item, pred in scored:
                    if isinstance(pred, Exception):  # this case only; the rest of the run goes on
                        failed = pool.submit(writer.failed, cases[item.index], "predict_failed",
                                             f"{type(pred).__name__}: {pred}", item.input_sha256, record=False)
                        batch.append((item.index, failed))
                        continue
                    item.x = None  # free the tensor before the writer runs
                    batch.append((item.index, pool.submit(writer.finish, cases[item.index], item, pred, record=False)))
            pending.append(([i for i, _ in batch], committer.submit(commit, [f for _, f in batch])))
            drain(2 * max(WRITER_THREADS, batch_size))
            now = time.perf_counter()
            if snapshot and run["write_csv"] and now - last_snapshot > SNAPSHOT_EVERY_S:
                rows = [csv_row(results[i]) for i in sorted(results)]
                write_predictions_csv(confined(out, PREDICTIONS), header, rows)
                last_snapshot = now
            if quiet and now - last_log > SNAPSHOT_EVERY_S:
                print(f"medtl score: {bar.n}/{len(todo)} cases", file=sys.stderr)
                last_log = now
        drain(0)
    bar.close()
