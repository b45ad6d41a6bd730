"""MODEL_CARD.md of a ``medtl pretrain`` directory: what it learned from, how, and how to use it."""

from __future__ import annotations

import json
from pathlib import Path

from medtl.fileio import atomic_write_text


def model_card(path: Path, *, info: dict, metrics: dict, data_json: Path) -> None:
    p = info["pretraining"]
    data = json.loads(Path(data_json).read_text(encoding="utf-8"))
    model = info["model"]
    pre = info["preprocess"]
    ssl = p["ssl"]
    method = {"genesis": "Models Genesis restoration (Zhou et al. 2021): local pixel shuffling, Bezier "
                         "intensity remap, in-/out-painting; restore the original (MSE)",
              "mim": f"masked image modelling (SimMIM-style): {ssl['mask_ratio']:.0%} of the patches hidden; "
                     "predict them (L1 on hidden voxels)"}[p["method"]]
    skipped = "".join(f"\n  - `{s['id']}`: {s['code']}: {s['message']}" for s in data.get("skipped", [])[:20])
    more = len(data.get("skipped", [])) - 20
    text = f"""# Model card: self-supervised encoder ({p['method']})

## Self-supervised pretraining
- **What it is**: an encoder `{model['encoder']}` ({model['spatial_dims']}D, {model['in_channels']} channel(s)) with a
  U-Net decoder, trained without labels: {method}.
- **Data**: {p['n_scans']} unlabelled scans from `{p['data']['source']}` ({p['counts'].get('train')} train /
  {p['counts'].get('val')} held out to select the epoch); modality {p['data']['modality'] or 'not stated'};
  fingerprint `{p['data']['fingerprint'][:16]}`.
- **Excluded**: {p['excluded']} images held for validation or testing
  (exclude manifest: `{data.get('exclude_manifest')}`); never read.
- **Skipped** (unreadable or another geometry): {p['skipped']}{skipped}{f' (+{more} more)' if more > 0 else ''}
- **Started from**: `{model['weights']}` weights.
- **Preprocessing**: {pre['intensity']} intensities, image size {pre['image_size']}, resize mode {pre['resize_mode']}.
- **Training**: {p['epochs']} epochs, best epoch {p['best_epoch']} by validation PSNR
  ({_fmt(metrics['val'].get('psnr'))} dB, restoring the held-out scans); {p['wall_time_s']:.0f} s.

## How to use it
This model reconstructs images; it has no diagnosis or segmentation head and is not for scoring.
Start a supervised model from it:

```bash
medtl train --data MANIFEST.csv --task segmentation --encoder {model['encoder']} --weights {path.parent} \\
            --strategy finetune --set model.pretrained_decoder=true --out runs/from_ssl
medtl train --data MANIFEST.csv --task classification --encoder {model['encoder']} --weights {path.parent} \\
            --strategy finetune --out runs/from_ssl_clf
```
`model.pretrained_decoder: true` (segmentation) also starts the decoder from this run; it needs the same
`model.decoder_channels` ({model['decoder_channels']}).

## Limitations
Self-supervised features follow the pretraining data: scans of another modality, anatomy or
protocol transfer less. Whether pretraining helps a given task is measured, not assumed:
docs/pretraining.md lists where it did and did not on public data.

## Provenance
model_id `{info['model_id']}`, medtl {info['medtl_version']}, created {info['created']}.
"""
    atomic_write_text(path, text)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"
