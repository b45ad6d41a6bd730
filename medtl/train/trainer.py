"""``train(cfg) -> RunResult``: data -> model -> strategy -> loop -> selection -> model directory."""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from medtl.errors import ConfigError
from medtl.train import checkpoint as ckpt
from medtl.train.config import TrainConfig, resolve_positive_class
from medtl.train.finalize import finalize
from medtl.train.loop import Runtime, fit, resolve_runtime, seed_everything
from medtl.train.objective import SupervisedObjective
from medtl.train.strategies import make_plan, set_bn_momentum


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict


def _check_run_dir(cfg: TrainConfig) -> Path:
    return check_run_dir(cfg, data_hint="MANIFEST.csv|FILE.npz", what="training data")


def check_run_dir(cfg, *, data_hint: str, what: str) -> Path:
    """``cfg.out`` as the run folder: it and ``data.path`` must be set, and a folder that already
    holds a run is only continued with ``--resume`` (any run config: train, pretrain)."""
    if not cfg.out:
        raise ConfigError("no output folder: pass --out RUN_DIR (config key 'out')")
    if not cfg.data.path:
        raise ConfigError(f"no {what}: pass --data {data_hint} (config key 'data.path')")
    run_dir = Path(cfg.out)
    main_rank = int(os.environ.get("RANK", "0")) == 0  # other torchrun ranks start once rank 0 has checked
    held = (run_dir / "checkpoints" / ckpt.STATE).exists() or (run_dir / "model.json").exists()
    if main_rank and not cfg.resume and held:
        raise ConfigError("the output folder already holds a run; pass --resume to continue it or choose another --out",
                          path=run_dir)
    return run_dir


def _model_config(cfg: TrainConfig, source):
    from medtl.models import ModelConfig

    kw = {}
    if cfg.model.decoder_channels:
        kw["decoder_channels"] = tuple(cfg.model.decoder_channels)
    in_ch = cfg.preprocess.in_channels or source.in_channels
    return ModelConfig(task=cfg.task, encoder=cfg.model.encoder, weights=cfg.model.weights,
                       spatial_dims=source.spatial_dims, in_channels=int(in_ch),
                       num_classes=len(source.label_names), multilabel=bool(source.multilabel),
                       dropout=cfg.model.dropout, **kw)


def _init_from(model, path: str, *, encoder_only: bool = False) -> tuple[dict, list]:
    """Load an earlier run's weights (encoder always; heads/decoder where shapes match)."""
    from safetensors.torch import load_file

    from medtl.errors import ModelDirError
    from medtl.models.io import read_model_info

    info = read_model_info(path)
    weights = Path(path) / "model.safetensors"
    try:
        state = load_file(str(weights))
    except Exception as exc:
        raise ModelDirError(f"unreadable weights: {exc}", path=weights) from None
    own = model.state_dict()
    enc_missing = [k for k in own if k.startswith("encoder.") and k not in state]
    bad = [k for k, v in state.items() if k.startswith("encoder.") and k in own and own[k].shape != v.shape]
    if enc_missing or bad:
        raise ModelDirError(f"--init-from encoder does not match (missing {enc_missing[:3]}, shape {bad[:3]})",
                            path=path)
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape
              and (k.startswith("encoder.") or not encoder_only)}
    model.load_state_dict(usable, strict=False)
    lineage = list(info.get("lineage") or []) + [{"model_id": info.get("model_id"), "path": str(path)}]
    return info, lineage


def _pretraining_parent_as_weights(cfg: TrainConfig, rt: Runtime) -> None:
    """``--init-from`` a ``medtl pretrain`` directory: there is no old task to keep, so it is an
    initialisation like ``--weights DIR`` (encoder, and the decoder with model.pretrained_decoder)."""
    from medtl.models.io import model_dir_info

    info = model_dir_info(cfg.init_from)
    if info is None or not info.get("pretraining"):
        return
    if cfg.continual.method != "none":
        raise ConfigError(f"continual.method={cfg.continual.method} needs a parent with a task to keep; "
                          f"{cfg.init_from} is a self-supervised pretraining run (use continual.method=none)",
                          path=cfg.init_from)
    rt.log(f"--init-from {cfg.init_from}: a self-supervised pretraining run, used as the starting weights")
    cfg.model.weights, cfg.init_from = str(cfg.init_from), None


def _weights_lineage(weights: str) -> list[dict]:
    """A run that starts from a ``medtl pretrain`` directory records it (and its own lineage)."""
    from medtl.models.io import model_dir_info

    info = model_dir_info(str(weights))
    if info is None or not info.get("pretraining"):
        return []
    p = info["pretraining"]
    return list(info.get("lineage") or []) + [{"model_id": info.get("model_id"), "path": str(weights),
                                                "kind": "self-supervised", "method": p.get("method"),
                                                "n_scans": p.get("n_scans")}]


def _load_pretrained_decoder(model, cfg: TrainConfig, rt: Runtime) -> None:
    from medtl.models.io import model_dir_info
    from medtl.models.weights import load_decoder_from_model_dir

    if model_dir_info(str(cfg.model.weights)) is None:
        raise ConfigError("model.pretrained_decoder needs --weights DIR, a medtl model directory with a decoder "
                          f"(e.g. from medtl pretrain); weights are {cfg.model.weights!r}")
    n = load_decoder_from_model_dir(model, Path(cfg.model.weights))
    rt.log(f"decoder: {n} tensors from {cfg.model.weights}")


def _linear_probe(model, datasets, source, cfg: TrainConfig, rt: Runtime, preprocess, *,
                  augmented_train: bool, positive: int = 1) -> tuple:
    """Fit the head on cached embeddings; returns (ProbeResult, {split: (features, labels)})."""
    from medtl.train.data import make_loader, make_split_dataset
    from medtl.train.embeddings import EmbeddingCache, cache_key, compute_embeddings
    from medtl.train.probe import fit_probe

    # Default inside the run folder: nothing is written outside the output folder the user named.
    cache = EmbeddingCache(cfg.linear_probe.cache_dir or Path(cfg.out) / "embeddings")
    pre = preprocess.to_dict()
    pcfg = model.encoder.pretrained_cfg
    feats = {}
    for split in ("train", "val", "test"):
        ds = datasets.get(split)
        if ds is None or len(ds) == 0:
            continue
        key = cache_key(fingerprint=source.fingerprint, split=split, preprocess=pre, encoder=cfg.model.encoder,
                        in_channels=model.encoder.in_channels, weights=str(cfg.model.weights),
                        weights_sha256=getattr(pcfg, "sha256", None), seed=cfg.seed)

        def compute(split=split, ds=ds):
            if split == "train" and augmented_train:  # features of the un-augmented images
                ds = make_split_dataset(cfg, source.records["train"], preprocess, train=False)
            loader = make_loader(ds, batch_size=max(cfg.batch_size, 32), shuffle=False, seed=cfg.seed,
                                 num_workers=cfg.data.num_workers)
            return compute_embeddings(model.encoder, loader, rt)

        feats[split] = cache.get_or_compute(key, compute, write=rt.ctx.is_main)
    rt.log(f"embeddings: {cache.hits} cached, {cache.misses} computed ({cache.folder})")
    result = fit_probe(feats["train"], feats["val"], num_classes=len(source.label_names),
                       multilabel=source.multilabel, c_grid=list(cfg.linear_probe.c_grid),
                       max_iter=cfg.linear_probe.max_iter, balanced=cfg.data.balance != "none",
                       positive=positive)
    model.head.set_linear(torch.from_numpy(result.weight), torch.from_numpy(result.bias))
    rt.log(f"linear probe: C={result.C:g} chosen on validation")
    return result, feats


def train(cfg: TrainConfig, *, on_epoch_end=None) -> RunResult:
    """Train one model as ``cfg`` says and write the model directory ``cfg.out``."""
    from medtl.data import load_source
    from medtl.models import build_model
    from medtl.train.data import (
        apply_label_fraction,
        build_datasets,
        check_input_size,
        class_weights,
        derive_preprocess,
        sample_weights,
    )
    from medtl.train.optim import build_loss

    t0 = time.perf_counter()
    cfg.validate()
    run_dir = _check_run_dir(cfg)
    source = load_source(cfg.data.path, task=cfg.task, seed=cfg.data.seed, val_fraction=cfg.data.val_fraction,
                         test_fraction=cfg.data.test_fraction)
    positive = resolve_positive_class(cfg.positive_class, source.label_names, multilabel=source.multilabel)
    rt = resolve_runtime(cfg, source.spatial_dims)
    if source.extra.get("layout"):
        rt.log(f"data: {source.extra['layout']}")
    apply_label_fraction(source, cfg.data.label_fraction, cfg.data.label_seed, cfg.task, log=rt.log)
    if cfg.strategy == "scratch" and cfg.model.weights != "none":
        rt.log(f"strategy scratch: ignoring weights {cfg.model.weights!r} (random initialisation)")
        cfg.model.weights = "none"
    seed_everything(cfg.seed)
    if cfg.init_from:
        _pretraining_parent_as_weights(cfg, rt)
    model_cfg = _model_config(cfg, source)
    mode = None
    if cfg.init_from:  # the child keeps the parent's input channels; a new task gets only its encoder
        from medtl.continual.parent import resolve_mode
        from medtl.models.io import read_model_info

        parent_info = read_model_info(cfg.init_from)
        mode = resolve_mode(cfg.continual.mode, parent_info, cfg.task, source.label_names)
        model_cfg.in_channels = int(parent_info["model"]["in_channels"])
    model = build_model(model_cfg, weights_dir=cfg.model.weights_dir)
    init_info, lineage = (_init_from(model, cfg.init_from, encoder_only=mode == "new_task") if cfg.init_from
                          else (None, []))
    lineage = lineage + _weights_lineage(cfg.model.weights)
    if cfg.model.pretrained_decoder:
        _load_pretrained_decoder(model, cfg, rt)
    cont = None
    if cfg.init_from:
        from medtl.continual import prepare_continuation

        cont = prepare_continuation(dataclasses.replace(cfg.continual, mode=mode), model, cfg.init_from,
                                    task=cfg.task, label_names=source.label_names, batch_size=cfg.batch_size,
                                    device=rt.device)
    set_bn_momentum(model, cfg.model.bn_momentum)
    preprocess = derive_preprocess(cfg, source, model.encoder.pretrained_cfg, model_cfg.in_channels)
    check_input_size(preprocess.image_size, model.encoder, cfg.task)
    is_clf = cfg.task == "classification"
    probe_only = is_clf and cfg.strategy == "linear-probe"  # no augmented training set needed
    datasets = build_datasets(cfg, source, preprocess, augment_train=not probe_only)
    if cont is not None and cont.buffer is not None:  # rehearsal: replayed records join the training split
        from medtl.train.data import make_split_dataset

        mixed = cont.train_records(source.records["train"])
        train_mixed = make_split_dataset(cfg, mixed, preprocess, train=not probe_only)
        rt.log(f"rehearsal: {len(mixed) - len(source.records['train'])} replayed records from {cfg.init_from}")
    model.to(rt.device)
    if rt.channels_last:
        model.to(memory_format=torch.channels_last)
    plan = make_plan(cfg, len(model.encoder.param_groups()))
    k = len(source.label_names)
    resuming = cfg.resume and (run_dir / "checkpoints" / ckpt.STATE).is_file()
    probe, history, feats = None, [], None
    if is_clf and (cfg.strategy == "linear-probe" or (cfg.strategy == "finetune" and cfg.finetune.lp_init)) \
            and not resuming:
        probe, feats = _linear_probe(model, datasets, source, cfg, rt, preprocess, augmented_train=not probe_only,
                                     positive=positive)
        history = probe.history
    best_epoch, epochs_run = 0, 0
    if not probe_only:
        weights = class_weights(source, k).to(rt.device) if is_clf else None
        loss_fn = build_loss(cfg, multilabel=source.multilabel, class_weights=weights)
        sw = sample_weights(source, k) if is_clf and cfg.data.balance == "sampler" and not source.multilabel else None
        fit_sets = datasets
        if cont is not None and cont.buffer is not None:
            fit_sets, sw = {**datasets, "train": train_mixed}, None  # sampler weights cover the new records only
        objective = SupervisedObjective(loss_fn, cfg.task, multilabel=source.multilabel,
                                        label_names=source.label_names, positive=positive, step_hook=cont)
        res = fit(model, plan, fit_sets, objective, rt, cfg, run_dir, sampler_weights=sw, on_epoch_end=on_epoch_end,
                  eval_initial=probe is not None)
        history, best_epoch, epochs_run = res.history, res.best_epoch, res.epochs_run
        if (run_dir / "checkpoints" / ckpt.BEST).is_file():
            ckpt.load_weights(run_dir / "checkpoints" / ckpt.BEST, model)
        feats = None  # the encoder changed: evaluate through the model
    if cont is not None:
        from medtl.train.old_task import evaluate_old_task

        old = evaluate_old_task(model, cfg.init_from, head=cont.old_head, device=rt.device)
        lineage = cont.lineage(data_source=source.source, data_fingerprint=source.fingerprint,
                               n_train=len(source.records["train"]), metric_after=old.get(cont.metric_name))
        rt.log(f"old task {cont.metric_name}: {cont.metric_before} -> {old.get(cont.metric_name)}")
        if rt.ctx.is_main:
            cont.save(run_dir)
    metrics = finalize(model, model_cfg, cfg, source, datasets, preprocess, rt, run_dir, feats=feats,
                       history=history, best_epoch=best_epoch, epochs_run=epochs_run, init_info=init_info,
                       lineage=lineage, probe_c=probe.C if probe else None, t0=t0, positive=positive)
    rt.ctx.barrier()
    rt.ctx.close()
    return RunResult(run_dir, metrics)

