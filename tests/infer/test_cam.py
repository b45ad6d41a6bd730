from __future__ import annotations

import torch

from medtl.infer.cam import CamEngine, last_stage_name
from medtl.models import load_model_dir


def test_cam_targets_last_encoder_stage_and_is_per_sample(cls_model):
    loaded = load_model_dir(cls_model)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):  # a batch whose samples predict different classes
        x = torch.randn(4, 1, 32, 32, generator=g) * torch.rand(4, 1, 1, 1, generator=g) * 4
        with torch.inference_mode():
            if len(set(loaded.model(x).argmax(1).tolist())) == 2:
                break
    else:
        raise AssertionError("no mixed batch found")
    assert last_stage_name(loaded.model, x[:1]) == "encoder.stages.3"
    engine = CamEngine(loaded.model, x[:1])
    logits, maps = engine(x)
    with torch.inference_mode():
        expected = loaded.model(x)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)  # the CAM pass gives the logits too
    assert maps.shape == (4, 32, 32) and maps.min() >= 0 and maps.max() <= 1
    for i in range(4):  # a batch gives each sample the map it gets alone (MONAI mixes them)
        _, alone = engine(x[i : i + 1])
        torch.testing.assert_close(maps[i], alone[0], rtol=1e-4, atol=1e-5)


def test_cut_backward_gives_monai_gradcam_maps_and_leaves_weights_untouched(cls_model):
    """The engine stops the backward pass at the target stage; the maps equal MONAI's GradCAM run
    the default way (full backward through every weight), per sample."""
    from monai.visualize import GradCAM

    from medtl.infer.cam import _minmax01

    reference, loaded = load_model_dir(cls_model), load_model_dir(cls_model)
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    engine = CamEngine(loaded.model, x[:1])
    assert not any(p.requires_grad for p in loaded.model.parameters())
    _, maps = engine(x)
    cam = GradCAM(nn_module=reference.model, target_layers=engine.layer, postprocessing=_minmax01)
    for i in range(3):
        want = cam(x[i : i + 1])[:, 0]
        torch.testing.assert_close(maps[i : i + 1], want, rtol=1e-5, atol=1e-6)
    assert all(p.grad is None for p in loaded.model.parameters())
