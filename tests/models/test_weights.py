"""Safe loading: refused pickles, missing-file messages, exact key/shape checks, provenance."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from medtl.errors import WeightsError
from medtl.models.weights import (
    check_exact,
    find_weights_file,
    load_exact,
    load_safetensors,
    load_torch_file,
    search_dirs,
)

from .published_weights import isolate_weight_dirs


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    return isolate_weight_dirs(monkeypatch, tmp_path)


class _Exploit:
    """A pickle payload: unpickling calls os.system to create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"conv.weight": torch.zeros(1), "payload": _Exploit(marker)}, path)
    assert not marker.exists()
    with pytest.raises(WeightsError) as info:
        load_torch_file(path)
    assert info.value.code == "unsafe_weights"
    assert info.value.path == str(path) and "evil.pth" in str(info.value)
    assert "system" in str(info.value)  # names the blocked callable
    assert not marker.exists()
    # the payload is real: an unsafe load would have run it (harmless here: touch in tmp_path)
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_plain_state_dict_loads(tmp_path):
    path = tmp_path / "ok.pth"
    torch.save({"w": torch.arange(3.0)}, path)
    assert torch.equal(load_torch_file(path)["w"], torch.arange(3.0))


def test_corrupt_and_non_mapping_files(tmp_path):
    bad = tmp_path / "trunc.pth"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(WeightsError) as info:
        load_torch_file(bad)
    assert info.value.code == "weights_unreadable" and "trunc.pth" in str(info.value)
    lst = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], lst)
    with pytest.raises(WeightsError, match="state dict"):
        load_torch_file(lst)
    with pytest.raises(WeightsError) as info:
        load_safetensors(bad)
    assert info.value.code == "weights_unreadable"


def test_search_order_and_missing_message(tmp_path, monkeypatch, _isolated):
    explicit, env_dir = tmp_path / "explicit", tmp_path / "env"
    monkeypatch.setenv("MEDTL_WEIGHTS_DIR", str(env_dir))
    assert search_dirs(explicit) == [explicit, env_dir, _isolated]
    with pytest.raises(WeightsError) as info:
        find_weights_file(["resnet18-f37072fd.pth"], weights_dir=explicit,
                          url="https://download.pytorch.org/models/resnet18-f37072fd.pth")
    err = info.value
    assert err.code == "weights_missing"
    msg = str(err)
    for part in ("resnet18-f37072fd.pth", "--weights-dir", "MEDTL_WEIGHTS_DIR", str(_isolated),
                 str(explicit), str(env_dir), "https://download.pytorch.org/models/resnet18-f37072fd.pth"):
        assert part in msg
    for folder in (_isolated, env_dir, explicit):  # the last one created wins by priority
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "resnet18-f37072fd.pth").write_bytes(b"x")
        assert find_weights_file(["resnet18-f37072fd.pth"], weights_dir=explicit).parent == folder


def _module():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))


def test_load_exact_reports_missing_unexpected_and_shapes(tmp_path):
    module = _module()
    good = {k: torch.randn_like(v.float()).to(v.dtype) for k, v in module.state_dict().items()}
    load_exact(module, good, path="f.pth")
    assert torch.equal(module[0].weight, good["0.weight"])

    missing = {k: v for k, v in good.items() if k != "1.running_var"}
    extra = {**good, "2.weight": torch.zeros(1)}
    shape = {**good, "0.weight": torch.zeros(2, 1, 5, 5)}
    for state, words in ((missing, "1 missing: 1.running_var"), (extra, "1 unexpected: 2.weight"),
                         (shape, "0.weight: file (2, 1, 5, 5) vs model (2, 1, 3, 3)")):
        before = module[0].weight.detach().clone()
        with pytest.raises(WeightsError) as info:
            load_exact(module, state, path="f.pth")
        assert info.value.code == "weights_mismatch" and words in str(info.value)
        assert torch.equal(module[0].weight, before)  # nothing loaded partially


def test_old_files_without_num_batches_tracked_are_accepted():
    module = _module()
    state = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert "1.num_batches_tracked" in check_exact(module, state, path="old.pth")


def test_safetensors_round_trip(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"a": torch.ones(2)}, str(path))
    assert torch.equal(load_safetensors(path)["a"], torch.ones(2))
