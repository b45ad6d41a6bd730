"""Credentials for a DICOMweb server, from the environment or a netrc file; never from argv.

In order: ``MEDTL_DICOMWEB_TOKEN`` (HTTP bearer token), ``MEDTL_DICOMWEB_USER`` +
``MEDTL_DICOMWEB_PASSWORD`` (HTTP basic), then the netrc file ``MEDTL_DICOMWEB_NETRC`` (default
``~/.netrc``) entry whose ``machine`` is the server's host (HTTP basic). ``MEDTL_DICOMWEB_CA_BUNDLE``
names extra trusted certificates for ``dicomwebs://``; certificate verification is always on.
Secrets never appear in ``repr``, logs or medtl's outputs.
"""

from __future__ import annotations

import netrc
import os
from dataclasses import dataclass, field
from pathlib import Path

from medtl.errors import MedtlError

ENV_TOKEN = "MEDTL_DICOMWEB_TOKEN"
ENV_USER = "MEDTL_DICOMWEB_USER"
ENV_PASSWORD = "MEDTL_DICOMWEB_PASSWORD"
ENV_NETRC = "MEDTL_DICOMWEB_NETRC"
ENV_CA_BUNDLE = "MEDTL_DICOMWEB_CA_BUNDLE"


@dataclass(frozen=True)
class Credentials:
    kind: str  # "none" | "basic" | "bearer"
    source: str  # where they came from, for messages ("MEDTL_DICOMWEB_TOKEN", "netrc ~/.netrc", ...)
    user: str = ""
    secret: str = field(default="", repr=False)

    def __repr__(self) -> str:
        return f"Credentials(kind={self.kind!r}, source={self.source!r}, user={self.user!r}, secret=***)"

    def apply(self, session) -> None:
        """Set the ``requests`` session's authentication."""
        if self.kind == "basic":
            session.auth = (self.user, self.secret)
        elif self.kind == "bearer":
            session.headers["Authorization"] = f"Bearer {self.secret}"


NO_CREDENTIALS = Credentials("none", "none")


def _from_netrc(host: str, env) -> Credentials | None:
    path = Path(env.get(ENV_NETRC) or Path.home() / ".netrc")
    if not path.is_file():
        if env.get(ENV_NETRC):
            raise MedtlError("netrc file not found", path=path, code="usage")
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        # NetrcParseError's message can quote the offending line: name the file and line only
        line = getattr(exc, "lineno", None)
        raise MedtlError(f"cannot parse the netrc file{f' (line {line})' if line else ''}", path=path,
                         code="usage") from None
    if entry is None:
        return None
    login, _account, password = entry
    return Credentials("basic", f"netrc {path}", login or "", password or "")


def credentials_for(host: str, env=None) -> Credentials:
    """The credentials to use for ``host`` (``NO_CREDENTIALS`` when none are configured)."""
    env = os.environ if env is None else env
    if env.get(ENV_TOKEN):
        return Credentials("bearer", ENV_TOKEN, secret=env[ENV_TOKEN])
    user, password = env.get(ENV_USER), env.get(ENV_PASSWORD)
    if user or password:
        if not (user and password):
            raise MedtlError(f"set both {ENV_USER} and {ENV_PASSWORD} (only one is set)", code="usage")
        return Credentials("basic", f"{ENV_USER}/{ENV_PASSWORD}", user, password)
    return _from_netrc(host, env) or NO_CREDENTIALS


def ca_bundle(env=None) -> str | bool:
    """``requests``' ``verify``: True (system trust store) or the CA bundle file named in the env."""
    env = os.environ if env is None else env
    path = env.get(ENV_CA_BUNDLE)
    if not path:
        return True
    if not Path(path).is_file():
        raise MedtlError("CA bundle not found", path=path, code="usage")
    return path
