"""SmtpProvider driven through smtplib against a local aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.delivery.providers.base import FailureClass, Message, ProviderContext
from app.delivery.providers.smtp import SmtpProvider

from ..conftest import free_port
from . import standins
from .standins import CONTEXT, config_error_key, expect_failure

HOST = "127.0.0.1"
SENDER = "OTP <otp@example.com>"
UNKNOWN = "nobody@example.net"
RELAY_DENIED = "someone@elsewhere.org"


class Recorder:
    """Accepts mail, keeps the envelopes, refuses the two special recipients."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == UNKNOWN:
            return "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown"
        if address == RELAY_DENIED:
            return "554 5.7.1 <someone@elsewhere.org>: Relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 Ok: queued"


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535


def run(handler: Recorder, **options: Any) -> Iterator[Controller]:
    controller = Controller(handler, hostname=HOST, port=free_port(), **options)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[Controller]:
    yield from run(
        recorder, authenticator=authenticate, auth_require_tls=False, server_hostname="mx.test"
    )


def settings(port: int, **extra: str) -> dict[str, Any]:
    return {"host": HOST, "port": port, "security": "none", "sender": SENDER, **extra}


def provider(port: int, timeout: float = 2.0, **extra: str) -> SmtpProvider:
    return SmtpProvider.from_settings(
        "mail", frozenset({"email"}), settings(port, **extra), ProviderContext(send_timeout=timeout)
    )


def message(**overrides: Any) -> Message:
    return standins.message(**{"to": "alice@example.com", "channel": "email", **overrides})


def test_delivers_without_auth(server: Controller, recorder: Recorder) -> None:
    result = provider(server.port).send(message())
    (envelope,) = recorder.envelopes
    assert envelope.mail_from == "otp@example.com"
    assert envelope.rcpt_tos == ["alice@example.com"]
    assert isinstance(envelope.content, bytes)
    email = message_from_bytes(envelope.content)
    assert email["Message-ID"] == result.message_id
    assert result.message_id.endswith("@example.com>")
    assert email["Subject"] == "Your login code"
    body = email.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert body.strip() == b"Your code is 123456"


def test_delivers_with_plain_auth(server: Controller, recorder: Recorder) -> None:
    provider(server.port, user="mailer", password="s3cret").send(message())
    assert len(recorder.envelopes) == 1


def test_bad_credentials_are_a_route_failure(server: Controller) -> None:
    error = expect_failure(provider(server.port, user="mailer", password="wrong"), message())
    assert (error.failure, error.provider_code) == (FailureClass.ROUTE, "535")


def test_unknown_recipient_is_permanent(server: Controller) -> None:
    error = expect_failure(provider(server.port), message(to=UNKNOWN))
    assert (error.failure, error.provider_code) == (FailureClass.PERMANENT, "550")


def test_relay_denied_is_a_route_failure(server: Controller) -> None:
    error = expect_failure(provider(server.port), message(to=RELAY_DENIED))
    assert error.failure is FailureClass.ROUTE


def test_server_down_is_transient() -> None:
    assert expect_failure(provider(free_port()), message()).failure is FailureClass.TRANSIENT


def test_silent_server_times_out_as_transient() -> None:
    with socket.socket() as silent:  # accepts connections but never greets
        silent.bind((HOST, 0))
        silent.listen()
        error = expect_failure(provider(silent.getsockname()[1], timeout=0.3), message())
    assert error.failure is FailureClass.TRANSIENT


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder(subject_name=name, issuer_name=name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


@pytest.fixture
def tls_server(
    certificate: tuple[ssl.SSLContext, Path], recorder: Recorder
) -> Iterator[tuple[Controller, Path]]:
    context, cert_file = certificate
    for controller in run(recorder, tls_context=context, require_starttls=True):
        yield controller, cert_file


def test_implicit_tls(certificate: tuple[ssl.SSLContext, Path], recorder: Recorder) -> None:
    context, cert_file = certificate
    for controller in run(recorder, ssl_context=context):
        provider(controller.port, security="ssl", ca_file=str(cert_file)).send(message())
    assert len(recorder.envelopes) == 1


def test_starttls_with_trusted_certificate(
    tls_server: tuple[Controller, Path], recorder: Recorder
) -> None:
    controller, cert_file = tls_server
    provider(controller.port, security="starttls", ca_file=str(cert_file)).send(message())
    assert len(recorder.envelopes) == 1


def test_starttls_with_untrusted_certificate_is_a_route_failure(
    tls_server: tuple[Controller, Path],
) -> None:
    controller, _ = tls_server
    error = expect_failure(provider(controller.port, security="starttls"), message())
    assert error.failure is FailureClass.ROUTE


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"host": ""}, "host"),
        ({"sender": ""}, "sender"),
        ({"sender": "not an address"}, "sender"),
        ({"security": "tls"}, "security"),
        ({"port": "smtp"}, "port"),
        ({"user": "mailer"}, "password"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file"),
    ],
)
def test_bad_setting_names_the_key(change: dict[str, str], key: str) -> None:
    changed, email = {**settings(25), **change}, frozenset({"email"})
    assert config_error_key(SmtpProvider.from_settings, "m", email, changed, CONTEXT) == key
