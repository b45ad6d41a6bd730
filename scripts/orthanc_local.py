"""Start a private Orthanc with its DICOMweb plugin on loopback, for trying ``medtl score --input
dicomweb://...`` and for the tests (tests/pacs/conftest.py uses :class:`LocalOrthanc`).

    python scripts/orthanc_local.py            # prints the dicomweb:// URL and the env to export; Ctrl-C stops it

Everything lives in a temporary folder (config, database) removed on exit. The HTTP server only
answers loopback clients ("RemoteAccessAllowed": false; Orthanc 1.10 has no bind-address option),
the DICOM port is off, and HTTP basic authentication is on with a random password printed once.
Debian packages: ``orthanc`` and ``orthanc-dicomweb``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

ORTHANC = "Orthanc"
PLUGIN_PATHS = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so", "/usr/lib/orthanc/libOrthancDicomWeb.so.1.7")


def find_orthanc() -> tuple[str, str] | None:
    """``(Orthanc binary, DICOMweb plugin)`` when both are installed, else None."""
    binary = shutil.which(ORTHANC) or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").is_file() else None)
    plugin = next((p for p in PLUGIN_PATHS if Path(p).is_file()), None)
    if plugin is None:
        plugin = next((str(p) for p in Path("/usr/lib/orthanc").glob("libOrthancDicomWeb.so*")), None) \
            if Path("/usr/lib/orthanc").is_dir() else None
    return (binary, plugin) if binary and plugin else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalOrthanc:
    """One Orthanc process with DICOMweb; ``with LocalOrthanc() as o: o.dicomweb_url``."""

    def __init__(self, *, user: str = "medtl", password: str | None = None, timeout_s: float = 30.0):
        found = find_orthanc()
        if found is None:
            raise RuntimeError("Orthanc or its DICOMweb plugin is not installed "
                               "(Debian: apt-get install orthanc orthanc-dicomweb)")
        self.binary, self.plugin = found
        self.user, self.password = user, password or secrets.token_urlsafe(16)
        self.timeout_s = timeout_s
        self.port = 0
        self.workdir: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return f"dicomweb://127.0.0.1:{self.port}/dicom-web"

    def _config(self) -> dict:
        return {"Name": "medtl-test", "HttpPort": self.port, "HttpServerEnabled": True,
                "DicomServerEnabled": False, "RemoteAccessAllowed": False, "AuthenticationEnabled": True,
                "RegisteredUsers": {self.user: self.password},
                "StorageDirectory": str(self.workdir / "db"), "IndexDirectory": str(self.workdir / "db"),
                "Plugins": [self.plugin], "HttpCompressionEnabled": False, "StableAge": 1,
                "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "Host": "127.0.0.1"}}

    def start(self) -> LocalOrthanc:
        self.workdir = Path(tempfile.mkdtemp(prefix="medtl-orthanc-"))
        last = ""
        for _ in range(3):  # the free port may be taken between the probe and Orthanc's bind
            self.port = free_port()
            config = self.workdir / "orthanc.json"
            config.write_text(json.dumps(self._config()), encoding="utf-8")
            config.chmod(0o600)
            log = open(self.workdir / "orthanc.log", "wb")
            self.proc = subprocess.Popen([self.binary, str(config)], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            log.close()
            if self._wait_ready():
                return self
            last = (self.workdir / "orthanc.log").read_text(errors="replace")[-2000:]
            self._kill()
        self.stop()
        raise RuntimeError(f"Orthanc did not start:\n{last}")

    def _auth_header(self) -> dict:
        token = b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                req = urllib.request.Request(f"{self.http_url}/dicom-web/studies", headers=self._auth_header())
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status in (200, 204):
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        return False

    def upload(self, path: str | Path) -> dict:
        """Store one DICOM file through Orthanc's REST API (not DICOMweb: a second, independent path)."""
        req = urllib.request.Request(f"{self.http_url}/instances", data=Path(path).read_bytes(),
                                     headers={**self._auth_header(), "Content-Type": "application/dicom"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def get_json(self, route: str):
        req = urllib.request.Request(f"{self.http_url}{route}", headers=self._auth_header())
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        self._kill()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> LocalOrthanc:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _exit_on_signal(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upload", nargs="*", default=[], metavar="FILE_OR_FOLDER",
                        help="DICOM files (folders: every *.dcm below) to store once started")
    args = parser.parse_args(argv)
    # Ctrl-C must stop it even when started from a shell's background job, which starts programs with
    # SIGINT ignored (Python then installs no KeyboardInterrupt handler of its own)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server = LocalOrthanc().start()
    except RuntimeError as exc:
        print(f"orthanc_local: {exc}", file=sys.stderr)
        return 1
    try:
        for item in map(Path, args.upload):
            for f in sorted(item.rglob("*.dcm")) if item.is_dir() else [item]:
                server.upload(f)
        print(f"Orthanc with DICOMweb at {server.dicomweb_url}  (REST: {server.http_url})")
        print(f"export MEDTL_DICOMWEB_USER={server.user} MEDTL_DICOMWEB_PASSWORD={server.password}")
        print("Ctrl-C stops it and deletes its database.", flush=True)
        signal.signal(signal.SIGTERM, _exit_on_signal)
        while server.proc.poll() is None:
            time.sleep(0.5)
        print("orthanc_local: Orthanc exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C or SIGTERM (`timeout` signals the process, then its group) must not cut
        # the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
