import logging

import pytest

from medtl.errors import MedtlError
from medtl.pacs.auth import NO_CREDENTIALS, ca_bundle, credentials_for


def test_token_wins_then_user_password():
    env = {"MEDTL_DICOMWEB_TOKEN": "tok", "MEDTL_DICOMWEB_USER": "u", "MEDTL_DICOMWEB_PASSWORD": "p"}
    assert (credentials_for("h", env).kind, credentials_for("h", env).secret) == ("bearer", "tok")
    del env["MEDTL_DICOMWEB_TOKEN"]
    creds = credentials_for("h", env)
    assert (creds.kind, creds.user, creds.secret) == ("basic", "u", "p")


def test_half_a_password_pair_is_an_error():
    with pytest.raises(MedtlError) as info:
        credentials_for("h", {"MEDTL_DICOMWEB_USER": "u"})
    assert info.value.code == "usage"


def test_netrc_entry_for_the_host(tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine pacs.example login alice password s3cret\nmachine other login bob password x\n")
    netrc.chmod(0o600)
    env = {"MEDTL_DICOMWEB_NETRC": str(netrc)}
    creds = credentials_for("pacs.example", env)
    assert (creds.kind, creds.user, creds.secret) == ("basic", "alice", "s3cret")
    assert credentials_for("unknown.example", env) is NO_CREDENTIALS


def test_unparsable_netrc_names_the_file_not_its_content(tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine pacs login alice password s3cret bogus\n")
    netrc.chmod(0o600)
    with pytest.raises(MedtlError) as info:
        credentials_for("pacs", {"MEDTL_DICOMWEB_NETRC": str(netrc)})
    assert str(netrc) in str(info.value) and "s3cret" not in str(info.value)


def test_missing_netrc_named_in_env_is_an_error(tmp_path):
    with pytest.raises(MedtlError):
        credentials_for("pacs", {"MEDTL_DICOMWEB_NETRC": str(tmp_path / "absent")})


def test_secret_never_in_repr():
    creds = credentials_for("h", {"MEDTL_DICOMWEB_TOKEN": "tok-SECRET"})
    assert "SECRET" not in repr(creds) and "SECRET" not in str(creds)


def test_tls_verification_on_unless_a_ca_bundle_is_named(tmp_path):
    assert ca_bundle({}) is True
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert ca_bundle({"MEDTL_DICOMWEB_CA_BUNDLE": str(bundle)}) == str(bundle)
    with pytest.raises(MedtlError):
        ca_bundle({"MEDTL_DICOMWEB_CA_BUNDLE": str(tmp_path / "none.pem")})


def test_no_secret_in_debug_logs_of_a_request(caplog):
    from medtl.pacs import parse_dicomweb_url
    from medtl.pacs.client import make_client
    from medtl.pacs.fetch import query_series
    from tests.pacs.servers import serve

    seen = []
    with serve([(200, b"[]")], seen) as port, caplog.at_level(logging.DEBUG):
        client = make_client(parse_dicomweb_url(f"dicomweb://127.0.0.1:{port}/rs"),
                             credentials=credentials_for("127.0.0.1", {"MEDTL_DICOMWEB_TOKEN": "tok-SECRET"}))
        assert query_series(client, {}) == []
    assert seen[0]["Authorization"] == "Bearer tok-SECRET"  # it was sent ...
    assert "SECRET" not in caplog.text  # ... and never logged
