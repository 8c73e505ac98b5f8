"""OAuth 2.0 for the reporting mailbox and for sending: Microsoft 365 (Exchange Online) and any identity
provider that issues tokens the same way.

Exchange Online accepts no password over IMAP, and no longer over SMTP client submission: a program logs in with
an access token (SASL XOAUTH2).  An unattended program — ``mail fetch --watch`` as a service — gets the token for
itself, as an *application* registered in the ministry's Microsoft Entra ID, with the OAuth 2.0 client-credentials
grant: its client id and a client secret or a certificate (the certificate is what Microsoft recommends).  The
token is asked from ``{authority}/{tenant}`` by MSAL (Microsoft's own library, ``msal``), which keeps it in memory
until shortly before it expires: a watch that runs for days asks for a new one about once an hour.

Settings (``[oauth2]`` of consolidate.toml), used by ``[mailbox] auth = "oauth2"`` and ``[smtp] auth = "oauth2"``::

    [oauth2]
    tenant = "msp.gov.ua"                       # the Entra tenant: its domain or its id (a GUID)
    client_id = "…"                             # the application (client) id
    secret_env = "CONSOLIDATE_OAUTH_SECRET"     # the client secret comes from this environment variable
    # certificate = "C:/Звітність/consolidate.pfx"   # or a certificate (.pfx/.p12, or .pem with its key)
    # certificate_password_env = "CONSOLIDATE_OAUTH_CERT_PASSWORD"
    # authority = "https://login.microsoftonline.com"  # another cloud, or another provider
    # scope = "https://outlook.office365.com/.default"

The secret and the certificate's password never go into the file (a ``secret`` key there is refused).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConsolidateError

SECRET_ENV = "CONSOLIDATE_OAUTH_SECRET"
CERT_PASSWORD_ENV = "CONSOLIDATE_OAUTH_CERT_PASSWORD"
AUTHORITY = "https://login.microsoftonline.com"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"  # IMAP.AccessAsApp and SMTP.SendAsApp alike
PASSWORD, OAUTH2 = "password", "oauth2"  # [mailbox] auth, [smtp] auth


class OAuthError(ConsolidateError):
    """No token: the identity provider refused the application, or could not be reached."""


@dataclass(frozen=True)
class OAuthSettings:
    tenant: str
    client_id: str
    secret: str = field(default="", repr=False)
    secret_env: str = SECRET_ENV
    certificate: str = ""
    certificate_password: str = field(default="", repr=False)
    certificate_password_env: str = CERT_PASSWORD_ENV
    authority: str = AUTHORITY
    scope: str = EXCHANGE_SCOPE
    cafile: str = ""  # the CA of an authority with a certificate of a private CA (a departmental provider, the tests)
    timeout: float = 30.0

    @property
    def authority_url(self) -> str:
        return f"{self.authority.rstrip('/')}/{self.tenant}"

    @property
    def credential_label(self) -> str:
        """What the application proves itself with, for messages."""
        if self.certificate:
            return f"сертифікат «{Path(self.certificate).name}»"
        return f"секрет зі змінної середовища {self.secret_env}"


def auth_method(cfg: Mapping, section: str) -> str:
    """``auth`` of a [mailbox] or [smtp] section: "password" (the default) or "oauth2"."""
    value = str(cfg.get("auth", PASSWORD)).strip().lower()
    if value not in (PASSWORD, OAUTH2):
        raise ConsolidateError(
            f"[{section}] auth = «{cfg.get('auth')}»: дозволено «password» (ім’я і пароль) або «oauth2» "
            "(вхід застосунку, напр. для Microsoft 365; розділ [oauth2])."
        )
    return value


def oauth_settings(ws, environ: Mapping[str, str] | None = None) -> OAuthSettings:
    """[oauth2] of consolidate.toml, with the secret (or the certificate's password) from the environment."""
    env = os.environ if environ is None else environ
    cfg = ws.config.get("oauth2") or {}
    if not cfg:
        raise ConsolidateError(
            'Обрано вхід через OAuth 2.0 (auth = "oauth2"), але в consolidate.toml немає розділу [oauth2] '
            "з tenant і client_id (див. docs/mail.md)."
        )
    secret_env = str(cfg.get("secret_env") or SECRET_ENV)
    password_env = str(cfg.get("certificate_password_env") or CERT_PASSWORD_ENV)
    for secret_key, env_name in (
        ("secret", secret_env),
        ("client_secret", secret_env),
        ("certificate_password", password_env),
    ):
        if secret_key in cfg:
            raise ConsolidateError(
                f"У consolidate.toml не зберігайте секрет ([oauth2] {secret_key}): задайте його у змінній "
                f"середовища {env_name}."
            )
    tenant = str(cfg.get("tenant") or "").strip()
    client_id = str(cfg.get("client_id") or "").strip()
    if not tenant:
        raise ConsolidateError(
            "[oauth2] tenant: вкажіть каталог організації (домен, напр. msp.gov.ua, або його ідентифікатор)."
        )
    if not client_id or any(c in client_id for c in "/?# "):
        raise ConsolidateError(
            f"[oauth2] client_id = «{client_id}»: вкажіть ідентифікатор застосунку (Application (client) ID) "
            "з реєстрації застосунку в Microsoft Entra."
        )
    if any(c in tenant for c in "/?#\\ "):
        raise ConsolidateError(f"[oauth2] tenant = «{tenant}»: лише домен або ідентифікатор каталогу, без «/».")
    authority = str(cfg.get("authority") or AUTHORITY).strip().rstrip("/")
    parts = urlsplit(authority)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ConsolidateError(
            f"[oauth2] authority = «{authority}»: очікується адреса https://… сервера входу "
            f"(для Microsoft 365 — {AUTHORITY})."
        )
    scope = str(cfg.get("scope") or EXCHANGE_SCOPE).strip()
    certificate = str(cfg.get("certificate") or "")
    cafile = str(cfg.get("cafile") or "")
    if cafile and not Path(cafile).is_file():
        raise ConsolidateError(f"Файл сертифікатів «{cafile}» ([oauth2] cafile) не знайдено")
    secret = ""
    if certificate:
        if not Path(certificate).is_file():
            raise ConsolidateError(f"Сертифікат застосунку «{certificate}» ([oauth2] certificate) не знайдено")
        if Path(certificate).suffix.lower() not in (".pfx", ".p12", ".pem"):
            raise ConsolidateError(
                f"Сертифікат застосунку «{certificate}»: очікується файл .pfx (.p12) або .pem разом із закритим ключем."
            )
    else:
        secret = env.get(secret_env, "")
        if not secret:
            raise ConsolidateError(
                f"Секрет застосунку (client secret) для входу через OAuth 2.0 не задано: задайте змінну "
                f"середовища {secret_env} або вкажіть сертифікат ([oauth2] certificate)."
            )
    return OAuthSettings(
        tenant=tenant,
        client_id=client_id,
        secret=secret,
        secret_env=secret_env,
        certificate=certificate,
        certificate_password=env.get(password_env, "") if certificate else "",
        certificate_password_env=password_env,
        authority=authority,
        scope=scope,
        cafile=cafile,
    )


def login_with_token(source: TokenSource, attempt: Callable[[str], object], refused: type[BaseException]) -> None:
    """``attempt(token)`` with the remembered token; if the mail server refuses it (``refused``), once more with a
    new one — a token remembered by MSAL may have been revoked at the provider."""
    token = source.token()
    try:
        attempt(token)
    except refused:
        if not source.from_cache:
            raise
        attempt(source.token(fresh=True))


def xoauth2(user: str, token: str) -> str:
    """The initial client response of SASL XOAUTH2 (before base64, which imaplib and smtplib add)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


class TokenSource:
    """Access tokens for one application; MSAL keeps each until shortly before it expires."""

    def __init__(self, settings: OAuthSettings):
        self.settings = settings
        self._app: Any = None  # msal.ConfidentialClientApplication, made at the first token
        self._lock = threading.Lock()
        self.from_cache = False  # whether the last token came from memory rather than from the provider

    def token(self, *, fresh: bool = False) -> str:
        """A token, from memory while it is valid; ``fresh``: forget it and ask the provider (a mail server refused
        the remembered one: revoked, or the provider's clock ahead of ours)."""
        s = self.settings
        with self._lock:
            try:
                if self._app is None:
                    self._app = self._application()
                if fresh:
                    self._app.remove_tokens_for_client()
                result = self._app.acquire_token_for_client(scopes=[s.scope])
            except OAuthError:
                raise
            except Exception as exc:  # requests' connection, TLS and HTTP errors; MSAL's ValueError for the authority
                raise OAuthError(_network_reason(exc, s)) from exc
        if not isinstance(result, dict) or not result.get("access_token"):
            raise OAuthError(_refusal(result if isinstance(result, dict) else {}, s))
        self.from_cache = result.get("token_source") == "cache"
        return str(result["access_token"])

    def _application(self):
        import msal
        import requests

        s = self.settings
        # Our own session, with the CA file given per request: requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE of
        # the environment override a session's ``verify`` (and MSAL's ``verify`` is one), not a request's.  Proxies
        # of the environment (HTTPS_PROXY) still apply.
        verify, timeout = s.cafile or True, s.timeout

        class Session(requests.Session):
            def request(self, method, url, *args, **kwargs):
                kwargs.setdefault("timeout", timeout)
                kwargs["verify"] = verify
                return super().request(method, url, *args, **kwargs)

        session = Session()
        session.mount("https://", requests.adapters.HTTPAdapter(max_retries=1))
        return msal.ConfidentialClientApplication(
            s.client_id,
            client_credential=self._credential(),
            authority=s.authority_url,
            instance_discovery=False,  # the authority is the administrator's setting, not one found at run time
            http_client=session,
        )

    def _credential(self):
        s = self.settings
        if not s.certificate:
            return s.secret
        path = Path(s.certificate)
        passphrase = s.certificate_password or None
        if path.suffix.lower() in (".pfx", ".p12"):
            return {"private_key_pfx_path": str(path), "passphrase": passphrase}
        text = path.read_text(encoding="ascii", errors="replace")
        if "PRIVATE KEY-----" not in text or "-----BEGIN CERTIFICATE-----" not in text:
            raise OAuthError(
                f"Файл «{path.name}» ([oauth2] certificate) має містити і сертифікат, і закритий ключ (PEM); "
                "або вкажіть файл .pfx."
            )
        return {"private_key": text, "public_certificate": text, "passphrase": passphrase}


@functools.lru_cache(maxsize=8)
def token_source(settings: OAuthSettings) -> TokenSource:
    """One :class:`TokenSource` per application settings, so that a watch reuses its token between rounds."""
    return TokenSource(settings)


def _network_reason(exc: Exception, s: OAuthSettings) -> str:
    where = urlsplit(s.authority).hostname or s.authority
    name = type(exc).__name__
    text = str(exc)
    if "SSL" in name or "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            f"Не вдалося перевірити сертифікат сервера входу {where}. Якщо його підписав відомчий центр "
            "сертифікації, вкажіть файл центру в [oauth2] cafile."
        )
    if "Timeout" in name:
        return f"Сервер входу {where} не відповідає (очікування {s.timeout:g} с)."
    if "Connection" in name:
        return f"Не вдалося з’єднатися з сервером входу {where} для токена OAuth 2.0: перевірте мережу і [oauth2] authority."
    if "password" in text.lower() and s.certificate:
        return (
            f"Не вдалося відкрити сертифікат «{Path(s.certificate).name}»: неправильний пароль у змінній "
            f"середовища {s.certificate_password_env} або пошкоджений файл."
        )
    if isinstance(exc, ValueError) and ("authority" in text.lower() or "tenant" in text.lower()):
        return (
            f"Сервер входу {where} не знає каталогу «{s.tenant}»: перевірте [oauth2] tenant (домен або ідентифікатор "
            "каталогу Microsoft Entra)."
        )
    return f"Не вдалося отримати токен OAuth 2.0 від {where}: {text or name}."


def _refusal(result: Mapping, s: OAuthSettings) -> str:
    """The Ukrainian reason of a token request the provider refused (RFC 6749 §5.2; AADSTS codes of Entra ID)."""
    error = str(result.get("error") or "")
    description = str(result.get("error_description") or "").strip().splitlines()
    first = description[0] if description else ""
    codes = " ".join(f"AADSTS{c}" for c in result.get("error_codes") or [])
    said = f" (відповідь сервера: {error}{': ' + first if first else ''})" if error or first else ""
    if error == "invalid_client":
        return (
            f"Сервер входу не прийняв застосунок {s.client_id}: {s.credential_label} неправильний або "
            f"прострочений{said}. Створіть новий секрет чи сертифікат у реєстрації застосунку."
        )
    if error == "unauthorized_client" or "700016" in codes:
        return (
            f"Застосунку {s.client_id} немає в каталозі «{s.tenant}» або його вимкнено{said}. Перевірте "
            "[oauth2] client_id і tenant."
        )
    if error == "invalid_scope":
        return f"Сервер входу не видає токен для «{s.scope}»{said}. Перевірте [oauth2] scope."
    if error == "invalid_request" and ("90002" in codes or "tenant" in first.lower()):
        return f"Каталог «{s.tenant}» не знайдено{said}. Перевірте [oauth2] tenant."
    return f"Сервер входу не видав токен OAuth 2.0 застосунку {s.client_id}{said}."
