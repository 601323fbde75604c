"""SMTP adapter: e-mail codes through any SMTP server (smtplib, one connection per message)."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, ClassVar, Self

from ._common import optional, redact, require
from .base import ConfigError, FailureClass, Message, ProviderContext, ProviderError, SendResult

_DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
_SUBJECTS = {
    "login": "Your login code",
    "signup": "Your sign-up code",
    "reset_password": "Your password reset code",
    "approve": "Your approval code",
}
# RFC 3463 enhanced status: 5.1.x is a bad address, 5.2.x a mailbox that cannot take mail.
_ENHANCED_STATUS = re.compile(r"\b5\.(\d{1,3})\.\d{1,3}\b")
_RECIPIENT_SUBJECTS = frozenset({"1", "2"})


@dataclass(frozen=True)
class _Server:
    host: str
    port: int
    security: str
    login: tuple[str, str] | None
    timeout: float
    helo_name: str
    tls: ssl.SSLContext


class SmtpProvider:
    """Sends the rendered text as a plain-text e-mail."""

    kind: ClassVar[str] = "smtp"
    serves: ClassVar[frozenset[str]] = frozenset({"email"})

    def __init__(self, name: str, channels: frozenset[str], server: _Server, sender: str) -> None:
        self.name = name
        self.channels = channels
        self._server = server
        self._sender = sender
        # make_msgid would otherwise look up this host's FQDN, which can stall on DNS.
        self._msgid_domain = parseaddr(sender)[1].rpartition("@")[2]

    @classmethod
    def from_settings(
        cls,
        name: str,
        channels: frozenset[str],
        settings: Mapping[str, Any],
        context: ProviderContext,
    ) -> Self:
        """Validate the settings; connections are opened per message."""
        sender = require(settings, "sender")
        if "@" not in parseaddr(sender)[1]:
            raise ConfigError("sender", "must be an e-mail address")
        return cls(name, channels, _server(settings, context.send_timeout), sender)

    def send(self, message: Message) -> SendResult:
        """Deliver one e-mail; the Message-ID we generate is the message id."""
        email = self._email(message)
        try:
            with self._connect() as smtp:
                if self._server.login:
                    smtp.login(*self._server.login)
                smtp.send_message(email)
        except OSError as exc:  # smtplib.SMTPException, ssl.SSLError and socket errors alike
            failure, code = _classify(exc)
            raise ProviderError(failure, f"smtp: {redact(str(exc))}", code) from exc
        return SendResult(message_id=email["Message-ID"])

    def _email(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["Subject"] = _SUBJECTS.get(message.purpose, "Your verification code")
        email["From"] = message.sender or self._sender
        email["To"] = message.to
        email["Date"] = formatdate()
        email["Message-ID"] = make_msgid(domain=self._msgid_domain)
        email["Auto-Submitted"] = "auto-generated"  # keeps vacation responders quiet
        email.set_content(message.text)
        return email

    def _connect(self) -> smtplib.SMTP:
        server = self._server
        if server.security == "ssl":
            return smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=server.helo_name,
                timeout=server.timeout,
                context=server.tls,
            )
        smtp = smtplib.SMTP(
            server.host, server.port, local_hostname=server.helo_name, timeout=server.timeout
        )
        if server.security == "starttls":
            try:
                smtp.starttls(context=server.tls)
            except BaseException:
                smtp.close()
                raise
        return smtp


def _server(settings: Mapping[str, Any], timeout: float) -> _Server:
    security = optional(settings, "security") or "starttls"
    if security not in _DEFAULT_PORTS:
        raise ConfigError("security", "must be ssl, starttls or none")
    return _Server(
        host=require(settings, "host"),
        port=_port(settings.get("port"), _DEFAULT_PORTS[security]),
        security=security,
        login=_login(settings),
        timeout=timeout,
        helo_name=optional(settings, "helo_name") or socket.getfqdn(),
        tls=_tls(optional(settings, "ca_file")),
    )


def _tls(ca_file: str | None) -> ssl.SSLContext:
    """Verifying context; ca_file adds trust for a private relay's certificate."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("ca_file", f"cannot load certificates: {exc}") from exc


def _port(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not str(value).isdigit() or not 0 < int(value) < 65536:
        raise ConfigError("port", "must be a TCP port number")
    return int(value)


def _login(settings: Mapping[str, Any]) -> tuple[str, str] | None:
    user, password = optional(settings, "user"), optional(settings, "password")
    if (user is None) != (password is None):
        raise ConfigError("password" if user else "user", "user and password go together")
    return (user, password) if user and password else None


def _classify(exc: OSError) -> tuple[FailureClass, str | None]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return _refusal(code, reply), str(code)
    if isinstance(exc, smtplib.SMTPDataError):
        return _refusal(exc.smtp_code, exc.smtp_error), str(exc.smtp_code)
    if isinstance(exc, smtplib.SMTPResponseException):
        # Sender refused, login failed, greeting refused: our configuration unless the
        # server says "try later" (4xx). Another provider may still deliver.
        return _temporary_or(exc.smtp_code, FailureClass.ROUTE), str(exc.smtp_code)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return FailureClass.TRANSIENT, None
    if isinstance(exc, ssl.SSLError | smtplib.SMTPException):
        # TLS mismatch or untrusted certificate, STARTTLS or AUTH not offered: configuration.
        return FailureClass.ROUTE, None
    return FailureClass.TRANSIENT, None  # refused, reset, timed out, name not resolved


def _refusal(code: int, reply: bytes | str) -> FailureClass:
    """A refused recipient or message: permanent only when the reply blames the address."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    enhanced = _ENHANCED_STATUS.search(text)
    blames_address = enhanced.group(1) in _RECIPIENT_SUBJECTS if enhanced else 550 <= code <= 553
    permanent = FailureClass.PERMANENT if blames_address else FailureClass.ROUTE
    return _temporary_or(code, permanent)


def _temporary_or(code: int, failure: FailureClass) -> FailureClass:
    return FailureClass.TRANSIENT if 400 <= code < 500 else failure
