"""An OAuth 2.0 identity provider on 127.0.0.1 for the tests, shaped as Microsoft Entra ID answers MSAL:

- HTTPS (a self-signed certificate made by openssl; the client trusts it through [oauth2] cafile):
  ``/{tenant}/v2.0/.well-known/openid-configuration`` (OpenID Connect discovery) and
  ``/{tenant}/oauth2/v2.0/token`` (RFC 6749 client-credentials grant, with a client secret or an RFC 7523 signed
  assertion made with the application's certificate, checked against the certificate's public key);
  Entra's error shapes (``error``, ``error_description`` with an AADSTS code, ``error_codes``).
- plain HTTP on 127.0.0.1: ``/introspect`` (RFC 7662), which Dovecot's oauth2 passdb asks whether a token is
  active and for which mailbox; the SMTP server of these tests asks the same.

An application is granted mailboxes (``grant``), as Exchange Online's Add-MailboxPermission does; a token is
valid for those only.
"""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import threading
import time
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.smtp import AuthResult

from consolidate.mailsandbox import SmtpSink

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def self_signed(folder: Path, name: str, cn: str = "localhost") -> tuple[Path, Path]:
    cert, key = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", f"/CN={cn}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class IdentityProvider:
    def __init__(self, folder: Path, tenant: str = "ministry.test", expires_in: int = 3600):
        self.folder = folder
        self.tenant = tenant
        self.expires_in = expires_in
        self.secrets: dict[str, str] = {}          # client id → client secret
        self.certificates: dict[str, bytes] = {}   # client id → the application certificate (PEM)
        self.grants: dict[str, set[str]] = {}      # client id → mailboxes the application may open
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (client id, expiry)
        self.requests: list[dict] = []             # every token request: its form, as the server got it
        self.introspections: list[str] = []        # every token asked about by a mail server
        self.cert, self.key = self_signed(folder, "idp")
        self._https = self._http = None

    # applications ---------------------------------------------------------------

    def register(self, client_id: str, *, secret: str = "", certificate: Path | None = None,
                 mailboxes: tuple[str, ...] = ()) -> None:
        if secret:
            self.secrets[client_id] = secret
        if certificate is not None:
            self.certificates[client_id] = certificate.read_bytes()
        self.grants[client_id] = set(mailboxes)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self._https.server_address[1]}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.base}/{self.tenant}/oauth2/v2.0/token"

    @property
    def introspection_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/introspect"

    def issued(self) -> int:
        return sum(1 for r in self.requests if r.get("issued"))

    # the token endpoint -----------------------------------------------------------

    def grant(self, form: dict[str, str]) -> tuple[int, dict]:
        record = dict(form)
        self.requests.append(record)
        if form.get("grant_type") != "client_credentials":
            return 400, _entra("unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        client = form.get("client_id", "")
        if client not in self.grants:
            return 400, _entra("unauthorized_client", 700016,
                               f"Application with identifier '{client}' was not found in the directory '{self.tenant}'.")
        if form.get("scope") != "https://outlook.office365.com/.default":
            return 400, _entra("invalid_scope", 1002012, f"The provided value for scope {form.get('scope')} is not valid.")
        if "client_secret" in form:
            if form["client_secret"] != self.secrets.get(client):
                return 401, _entra("invalid_client", 7000215, "Invalid client secret provided.")
        elif form.get("client_assertion_type") == ASSERTION_TYPE:
            if not self._assertion_valid(client, form.get("client_assertion", "")):
                return 401, _entra("invalid_client", 700027, "Client assertion failed signature validation.")
        else:
            return 401, _entra("invalid_client", 7000218, "The request body must contain client_assertion or client_secret.")
        token = secrets.token_urlsafe(32)
        self.tokens[token] = (client, time.time() + self.expires_in)
        record["issued"] = True
        return 200, {"token_type": "Bearer", "expires_in": self.expires_in, "ext_expires_in": self.expires_in,
                     "access_token": token}

    def _assertion_valid(self, client: str, assertion: str) -> bool:
        import jwt  # PyJWT, which msal brings
        from cryptography import x509

        pem = self.certificates.get(client)
        if not pem:
            return False
        key = x509.load_pem_x509_certificate(pem).public_key()
        try:
            claims = jwt.decode(assertion, key, algorithms=["PS256", "RS256"], audience=self.token_endpoint)
        except jwt.PyJWTError:
            return False
        return claims.get("iss") == client and claims.get("sub") == client

    # introspection (RFC 7662) ---------------------------------------------------------

    def introspect(self, token: str, mailbox: str = "") -> dict:
        """What a mail server is told of ``token``: active, and for which mailbox (``username``)."""
        self.introspections.append(token)
        client, expiry = self.tokens.get(token, ("", 0.0))
        if not client or expiry < time.time():
            return {"active": False}
        granted = self.grants.get(client, set())
        user = mailbox if mailbox in granted else next(iter(sorted(granted)), "")
        return {"active": True, "client_id": client, "username": user, "exp": int(expiry)}

    def expire_all(self) -> None:
        self.tokens = {t: (c, 0.0) for t, (c, _) in self.tokens.items()}

    # servers ---------------------------------------------------------------------

    def start(self) -> IdentityProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def form(self) -> dict[str, str]:
                length = int(self.headers.get("Content-Length") or 0)
                return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

            def do_GET(self):
                path = urlsplit(self.path).path
                if path == f"/{provider.tenant}/v2.0/.well-known/openid-configuration":
                    base = f"{provider.base}/{provider.tenant}"
                    return self.reply(200, {"issuer": f"{base}/v2.0", "token_endpoint": f"{base}/oauth2/v2.0/token",
                                            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize"})
                if path.endswith("/v2.0/.well-known/openid-configuration"):
                    return self.reply(400, _entra("invalid_tenant", 90002, "Tenant not found."))
                self.reply(404, {"error": "not_found"})

            def do_POST(self):
                path = urlsplit(self.path).path
                if path == f"/{provider.tenant}/oauth2/v2.0/token":
                    return self.reply(*provider.grant(self.form()))
                if path == "/introspect":
                    form = self.form()
                    return self.reply(200, provider.introspect(form.get("token", ""), form.get("mailbox", "")))
                self.reply(404, {"error": "not_found"})

        self._https = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        self._https.socket = context.wrap_socket(self._https.socket, server_side=True)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        for server in (self._https, self._http):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for server in (self._https, self._http):
            if server is not None:
                server.shutdown()
                server.server_close()

    def __enter__(self) -> IdentityProvider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _entra(error: str, code: int, text: str) -> dict:
    return {"error": error, "error_description": f"AADSTS{code}: {text} Trace ID: {secrets.token_hex(8)}",
            "error_codes": [code]}


class OAuthSmtpSink(SmtpSink):
    """The tests' SMTP server that also takes SASL XOAUTH2, asking the identity provider about each token, as
    Exchange Online does (a refused token gets Exchange's 535 5.7.3)."""

    def __init__(self, provider: IdentityProvider, folder: Path | None = None, **controller):
        super().__init__(folder, **controller)
        self.provider = provider
        self.logins: list[str] = []

    async def auth_XOAUTH2(self, server, args):
        if len(args) > 1:
            blob = args[1].encode()
        else:
            blob = await server.challenge_auth("")
        try:
            fields = dict(part.split("=", 1) for part in b64decode(blob).decode().split("\x01") if part)
        except Exception:
            return AuthResult(success=False, handled=False)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        answer = self.provider.introspect(token, user)
        if answer.get("active") and answer.get("username") == user:
            self.logins.append(user)
            return AuthResult(success=True, auth_data=user)
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer", "scope": ""}))
        return AuthResult(success=False, message="535 5.7.3 Authentication unsuccessful")
