"""Download a missing pretrained file when the machine is online; verify it before it can be used.

* torchvision files carry the first 8+ hex digits of their sha256 in the name
  (``resnet18-f37072fd.pth``); the download must start with them.
* MedicalNet publishes no hashes itself. Recorded here: the Git LFS object ids (the full sha256 of
  the file) of the copies in the MONAI project's Hugging Face mirror (``MONAI/checkpoints``,
  ``medicalnet/``), downloaded from there. Only ``resnet_10_23dataset.pth`` and
  ``resnet_50_23dataset.pth`` are recorded; the others (ResNet-18/34) are not downloaded
  automatically (no hash to check them against): get them by hand.

The file is streamed into a temporary file beside its final name, hashed, checked to load without
executing code (``torch.load(weights_only=True)``) and only then renamed into place, so a file that
fails a check is never where medtl looks. ``MEDTL_WEIGHTS_URL_BASE`` replaces every source URL by
``<base>/<file name>`` (a local mirror; the tests' loopback server); ``MEDTL_OFFLINE=1`` turns
automatic downloads off.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from medtl.errors import WeightsError

ENV_URL_BASE = "MEDTL_WEIGHTS_URL_BASE"
ENV_OFFLINE = "MEDTL_OFFLINE"
TIMEOUT_S = 30.0
_MIRROR = "https://huggingface.co/MONAI/checkpoints/resolve/main/medicalnet/"
MEDICALNET_SHA256 = {  # file name -> (url, sha256): LFS oids of huggingface.co/MONAI/checkpoints
    "resnet_10_23dataset.pth": (_MIRROR + "resnet_10_23dataset.pth",
                                "afa8055f3e47f4a18239495d92a7abc587902c69c31c743de2b2784653b72605"),
    "resnet_50_23dataset.pth": (_MIRROR + "resnet_50_23dataset.pth",
                                "ff48a62219073fb977fd3f4ddfb8dc1367f0ec156c8d6f6c37e205bd683a246e"),
}
_NAME_HASH = re.compile(r"-([0-9a-f]{8,64})\.pth$")


@dataclass(frozen=True)
class Published:
    file_name: str
    url: str
    sha256: str  # the full digest or its published prefix


def published(spec) -> Published | None:
    """The downloadable, hash-checkable file of ``spec`` (a WeightSpec), or None."""
    for name in spec.file_names:
        if name in MEDICALNET_SHA256:
            url, digest = MEDICALNET_SHA256[name]
            return Published(name, url, digest)
    name = spec.file_names[0]
    match = _NAME_HASH.search(name)
    if spec.downloadable and match:
        return Published(name, spec.url, match.group(1))
    return None


def offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in ("", "0", "false", "no")


def source_url(pub: Published) -> str:
    base = os.environ.get(ENV_URL_BASE)
    return f"{base.rstrip('/')}/{pub.file_name}" if base else pub.url


def _stream(response, fh, digest, name: str, quiet: bool) -> None:
    from tqdm import tqdm

    total = int(response.headers.get("Content-Length") or 0) or None
    with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=quiet, file=sys.stderr,
              dynamic_ncols=True) as bar:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            fh.write(chunk)
            bar.update(len(chunk))
    fh.flush()
    os.fsync(fh.fileno())


def download(pub: Published, dest: Path, *, quiet: bool = False, check_hash: bool = True) -> Path:
    """Fetch ``pub`` into ``dest/<file name>`` (see the module docstring). Raises ``WeightsError``:
    ``download_failed`` (network, HTTP), ``weights_hash_mismatch``, ``unsafe_weights`` /
    ``weights_unreadable`` (the file does not load as plain tensors)."""
    import urllib.error
    import urllib.request

    from medtl.models.weights import load_torch_file

    url, target = source_url(pub), Path(dest) / pub.file_name
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Not fileio.atomic_write: the checks below need the temporary file's path before the rename.
    fd, tmp = tempfile.mkstemp(prefix=f".{pub.file_name}.", suffix=".tmp", dir=target.parent)
    try:
        try:
            with os.fdopen(fd, "wb") as fh, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                _stream(response, fh, digest, pub.file_name, quiet)
        except (urllib.error.URLError, OSError, ValueError) as exc:  # offline, DNS, refused, timeout, HTTP
            reason = getattr(exc, "reason", None) or exc
            raise WeightsError(f"download from {url} failed: {reason}", path=target, code="download_failed") from None
        if check_hash and not digest.hexdigest().startswith(pub.sha256):
            raise WeightsError(f"downloaded from {url}: sha256 {digest.hexdigest()[:16]}... does not match the "
                               f"published {pub.sha256[:16]}...; the file was discarded", path=target,
                               code="weights_hash_mismatch")
        load_torch_file(tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
