"""Automatic downloads of published weights, from a server on 127.0.0.1 serving files in the exact
published formats (never the internet): hash checked, atomic, offline message unchanged."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from medtl.errors import WeightsError
from medtl.models import download as dl
from medtl.models.registry import create_encoder

from .published_weights import isolate_weight_dirs, medicalnet_file, resnet_state, save


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serve(folder: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mirror"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def online(tmp_path, monkeypatch):
    """A loopback 'internet': files put in the returned folder are served under MEDTL_WEIGHTS_URL_BASE."""
    hub = isolate_weight_dirs(monkeypatch, tmp_path)
    served = tmp_path / "served" / "mirror"
    served.mkdir(parents=True)
    monkeypatch.delenv("MEDTL_OFFLINE", raising=False)
    with _serve(tmp_path / "served") as base:
        monkeypatch.setenv("MEDTL_WEIGHTS_URL_BASE", base)
        yield served, hub


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_medicalnet_downloads_verifies_and_loads(online, monkeypatch):
    served, hub = online
    state = resnet_state(10, dims=3, in_ch=1, fc=False)
    path = save(medicalnet_file(state), served, "resnet_10_23dataset.pth")
    # the test file is not Tencent's: record its hash in place of the published one
    monkeypatch.setitem(dl.MEDICALNET_SHA256, path.name, ("https://unused.invalid/x", _sha(path)))
    enc = create_encoder("resnet10", weights="medicalnet", spatial_dims=3, in_channels=1)
    assert (hub / path.name).read_bytes() == path.read_bytes()
    assert enc.pretrained_cfg.sha256 == _sha(path) and enc.pretrained_cfg.path == str(hub / path.name)
    assert torch.equal(enc.state_dict()["net.conv1.weight"], state["conv1.weight"])
    assert not list(hub.glob(".*.tmp"))


def test_a_file_failing_the_published_hash_is_never_kept(online):
    served, hub = online
    save(medicalnet_file(resnet_state(10, dims=3, in_ch=1, fc=False)), served, "resnet_10_23dataset.pth")
    with pytest.raises(WeightsError) as info:  # the recorded hash is Tencent's file's, not this one's
        create_encoder("resnet10", weights="medicalnet", spatial_dims=3, in_channels=1)
    assert info.value.code == "weights_hash_mismatch"
    assert not hub.exists() or list(hub.iterdir()) == []


def test_torchvision_name_prefix_is_the_check(online):
    served, hub = online
    save(resnet_state(18), served, "resnet18-f37072fd.pth")  # random values: not the published file
    with pytest.raises(WeightsError) as info:
        create_encoder("resnet18", weights="imagenet", in_channels=3)
    assert info.value.code == "weights_hash_mismatch" and "f37072fd" in info.value.message
    assert not (hub / "resnet18-f37072fd.pth").exists()
    # a file whose name carries its own hash prefix, as torchvision names them, passes
    tmp = save(resnet_state(18), served, "tmp.pth")
    name = f"resnet18-{_sha(tmp)[:8]}.pth"
    tmp.rename(served / name)
    got = dl.download(dl.Published(name, "https://unused.invalid/x", _sha(served / name)[:8]), hub, quiet=True)
    assert got == hub / name and _sha(got) == _sha(served / name)


def test_a_file_that_would_run_code_is_never_kept(online, monkeypatch):
    served, hub = online
    path = served / "resnet_10_23dataset.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "evil": Path("/")}, path)  # a pickle of an arbitrary object
    monkeypatch.setitem(dl.MEDICALNET_SHA256, path.name, ("https://unused.invalid/x", _sha(path)))
    with pytest.raises(WeightsError) as info:
        create_encoder("resnet10", weights="medicalnet", spatial_dims=3, in_channels=1)
    assert info.value.code == "unsafe_weights"
    assert not hub.exists() or list(hub.iterdir()) == []


def test_unreachable_server_keeps_the_offline_message(online, monkeypatch):
    monkeypatch.setenv("MEDTL_WEIGHTS_URL_BASE", "http://127.0.0.1:9/none")  # discard port: refused
    with pytest.raises(WeightsError) as info:
        create_encoder("resnet18", weights="imagenet", in_channels=3)
    message = info.value.message
    assert info.value.code == "weights_missing" and "resnet18-f37072fd.pth" in message
    assert "automatic download failed" in message


def test_offline_switch_means_no_request(online, monkeypatch):
    served, _ = online
    save(resnet_state(18), served, "resnet18-f37072fd.pth")
    monkeypatch.setenv("MEDTL_OFFLINE", "1")
    with pytest.raises(WeightsError) as info:
        create_encoder("resnet18", weights="imagenet", in_channels=3)
    assert info.value.code == "weights_missing" and "automatic download" not in info.value.message


def test_files_without_a_published_hash_are_not_downloaded():
    from medtl.models.medicalnet import medicalnet_spec
    from medtl.models.resnet import IMAGENET

    assert dl.published(medicalnet_spec("resnet18")) is None
    assert dl.published(IMAGENET["resnet18"]).sha256 == "f37072fd"
    assert dl.published(medicalnet_spec("resnet50")).file_name == "resnet_50_23dataset.pth"
