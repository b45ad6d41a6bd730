"""State dicts in the EXACT key format of published weight files, generated from the published
architecture definitions (torchvision ResNet/DenseNet, MedicalNet's 3D ResNet) -- independently
of medtl's MONAI-based networks -- with random values. No network access, no real files."""

from __future__ import annotations

from pathlib import Path

import torch

BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def _bn(state: dict, prefix: str, ch: int, *, tracked: bool) -> None:
    state[f"{prefix}.weight"] = torch.rand(ch) + 0.5
    state[f"{prefix}.bias"] = torch.randn(ch) * 0.1
    state[f"{prefix}.running_mean"] = torch.randn(ch) * 0.1
    state[f"{prefix}.running_var"] = torch.rand(ch) + 0.5
    if tracked:
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(1000)


def _conv(out_ch: int, in_ch: int, k: int, dims: int) -> torch.Tensor:
    return torch.randn(out_ch, in_ch, *([k] * dims)) * (2.0 / (in_ch * k**dims)) ** 0.5


RESNET_LAYERS = {10: ("basic", (1, 1, 1, 1)), 18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
                 50: ("bottleneck", (3, 4, 6, 3))}


def resnet_state(depth: int, *, dims: int = 2, in_ch: int = 3, shortcut: str = "B", fc: bool = True,
                 tracked: bool = False) -> dict[str, torch.Tensor]:
    """torchvision ``resnet<depth>`` (dims=2) or MedicalNet ``resnet<depth>`` (dims=3) keys."""
    block, layers = RESNET_LAYERS[depth]
    exp = 4 if block == "bottleneck" else 1
    state = {"conv1.weight": _conv(64, in_ch, 7, dims)}
    _bn(state, "bn1", 64, tracked=tracked)
    inplanes = 64
    for i, n in enumerate(layers, start=1):
        planes = 64 * 2 ** (i - 1)
        for b in range(n):
            p = f"layer{i}.{b}"
            stride = 2 if (i > 1 and b == 0) else 1
            if block == "basic":
                state[f"{p}.conv1.weight"] = _conv(planes, inplanes, 3, dims)
                _bn(state, f"{p}.bn1", planes, tracked=tracked)
                state[f"{p}.conv2.weight"] = _conv(planes, planes, 3, dims)
                _bn(state, f"{p}.bn2", planes, tracked=tracked)
            else:
                state[f"{p}.conv1.weight"] = _conv(planes, inplanes, 1, dims)
                _bn(state, f"{p}.bn1", planes, tracked=tracked)
                state[f"{p}.conv2.weight"] = _conv(planes, planes, 3, dims)
                _bn(state, f"{p}.bn2", planes, tracked=tracked)
                state[f"{p}.conv3.weight"] = _conv(planes * exp, planes, 1, dims)
                _bn(state, f"{p}.bn3", planes * exp, tracked=tracked)
            if b == 0 and (stride != 1 or inplanes != planes * exp) and shortcut == "B":
                state[f"{p}.downsample.0.weight"] = _conv(planes * exp, inplanes, 1, dims)
                _bn(state, f"{p}.downsample.1", planes * exp, tracked=tracked)
            inplanes = planes * exp
    if fc:
        state["fc.weight"] = torch.randn(1000, 512 * exp) * 0.01
        state["fc.bias"] = torch.zeros(1000)
    return state


def densenet121_state(*, old_style: bool = True, tracked: bool = False) -> dict[str, torch.Tensor]:
    """torchvision ``densenet121`` keys; ``old_style`` = the published file's ``norm.1`` names."""
    state = {"features.conv0.weight": _conv(64, 3, 7, 2)}
    _bn(state, "features.norm0", 64, tracked=tracked)
    nf = 64
    for i, n in enumerate((6, 12, 24, 16), start=1):
        for j in range(1, n + 1):
            p = f"features.denseblock{i}.denselayer{j}"
            cin = nf + (j - 1) * 32
            names = ("norm.1", "conv.1", "norm.2", "conv.2") if old_style else ("norm1", "conv1", "norm2", "conv2")
            _bn(state, f"{p}.{names[0]}", cin, tracked=tracked)
            state[f"{p}.{names[1]}.weight"] = _conv(128, cin, 1, 2)
            _bn(state, f"{p}.{names[2]}", 128, tracked=tracked)
            state[f"{p}.{names[3]}.weight"] = _conv(32, 128, 3, 2)
        nf += n * 32
        if i < 4:
            _bn(state, f"features.transition{i}.norm", nf, tracked=tracked)
            state[f"features.transition{i}.conv.weight"] = _conv(nf // 2, nf, 1, 2)
            nf //= 2
    _bn(state, "features.norm5", nf, tracked=tracked)
    state["classifier.weight"] = torch.randn(1000, nf) * 0.01
    state["classifier.bias"] = torch.zeros(1000)
    return state


def medicalnet_file(state: dict[str, torch.Tensor]) -> dict:
    """MedicalNet's published layout: DataParallel ``module.`` prefix inside ``state_dict``."""
    return {"state_dict": {"module." + k: v for k, v in state.items()}}


def save(obj, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    torch.save(obj, path)
    return path


def isolate_weight_dirs(monkeypatch, tmp_path: Path) -> Path:
    """No real weight folder leaks into a test: empty $TORCH_HOME, no $MEDTL_WEIGHTS_DIR."""
    monkeypatch.delenv("MEDTL_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home" / "hub" / "checkpoints"
