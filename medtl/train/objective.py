"""Supervised training as an objective of the epoch loop (:class:`medtl.train.loop.Objective`).

A *step hook* (``medtl.continual.Continuation`` for ``--init-from`` runs) may replace how the task
loss of a batch is computed: ``hook.step_loss(model, x, y, batch, loss_fn, autocast) -> loss``.
The hook is passed in, never imported here, so ``medtl.continual`` plugs into the loop without
the two packages importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from medtl.data.loader import loss_target
from medtl.train.loop import Runtime, Validation, batch_inputs, epoch_metrics, predict
from medtl.train.metrics import INFO_KEYS, primary_metric


@dataclass
class SupervisedObjective:
    """Classification (AUC) or segmentation (mean Dice) with ``loss_fn`` on labelled batches."""

    loss_fn: Callable
    task: str
    multilabel: bool = False
    label_names: list[str] | None = None
    positive: int = 1
    step_hook: object | None = None  # e.g. medtl.continual.Continuation

    @property
    def metric_name(self) -> str:
        return "auc" if self.task == "classification" else "dice"

    def train_loss(self, model, batch: dict, rt: Runtime):
        x = batch_inputs(batch, rt)
        y = loss_target(batch, self.task, self.multilabel, rt.device)
        if self.step_hook is not None:
            return self.step_hook.step_loss(model, x, y, batch, self.loss_fn, rt.autocast), x.shape[0]
        with rt.autocast():
            loss = self.loss_fn(model(x).float(), y)
        return loss, x.shape[0]

    def validate(self, model, loader, rt: Runtime, desc: str = "val") -> Validation:
        out = predict(model, loader, rt, task=self.task, multilabel=self.multilabel, loss_fn=self.loss_fn,
                      label_names=self.label_names, desc=desc)
        val = epoch_metrics(out, task=self.task, multilabel=self.multilabel, positive=self.positive)
        return Validation(loss=out["loss"], metric=primary_metric(self.task, val),
                          values={k: v for k, v in val.items() if k not in INFO_KEYS})
