"""Training engine: typed configs, strategies (scratch / linear-probe / finetune), loop, metrics.

Notebook use::

    from medtl.train import load_config, train, evaluate
    cfg = load_config(overrides=["data.path=data.npz", "out=runs/a", "model.encoder=efficientnet-lite0"])
    result = train(cfg)                       # RunResult(run_dir, metrics)
    evaluate(result.run_dir, "other.csv")     # metrics dict

Heavy modules (torch, MONAI) load on first use, so importing this package is cheap.
"""

from medtl.train.config import TrainConfig, load_config

__all__ = ["RunResult", "TrainConfig", "evaluate", "load_config", "train"]


def __getattr__(name: str):
    if name in ("train", "RunResult"):
        from medtl.train import trainer

        return getattr(trainer, name)
    if name == "evaluate":
        from medtl.train.evaluation import evaluate

        return evaluate
    raise AttributeError(name)
