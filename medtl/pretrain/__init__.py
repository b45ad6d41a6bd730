"""Self-supervised pretraining on unlabelled scans (``medtl pretrain``).

Notebook use::

    from medtl.pretrain import load_pretrain_config, pretrain
    cfg = load_pretrain_config(overrides=["data.path=scans/", "out=runs/ssl", "model.encoder=unet-res16"])
    result = pretrain(cfg)      # RunResult(run_dir, metrics); then medtl train --weights runs/ssl

Methods: ``genesis`` (Models Genesis restoration, :mod:`medtl.pretrain.genesis`) and ``mim``
(masked image modelling, :mod:`medtl.pretrain.mim`). The objective plugs into ``medtl.train``'s
loop (:mod:`medtl.pretrain.objective`); see docs/pretraining.md.
"""

from medtl.pretrain.config import PretrainConfig, load_pretrain_config

__all__ = ["PretrainConfig", "load_pretrain_config", "pretrain"]


def __getattr__(name: str):
    if name == "pretrain":
        from medtl.pretrain.runner import pretrain

        return pretrain
    raise AttributeError(name)
