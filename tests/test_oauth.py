"""OAuth 2.0 login (Microsoft 365's way): the application's token from an identity provider over HTTPS (MSAL),
SASL XOAUTH2 to a real Dovecot (its oauth2 passdb asks the provider about each token) and to a real SMTP server
(aiosmtpd, STARTTLS) for the receipts."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess

import pytest
from click.testing import CliRunner

from consolidate.cli import main
from consolidate.errors import ConsolidateError
from consolidate.mailbox import mailbox_settings, smtp_from_workspace
from consolidate.oauth import OAuthSettings, TokenSource, oauth_settings, xoauth2
from consolidate.workflows import mail as wf

from .conftest import need_binary
from .mail_util import Dovecot, outlook
from .oauth_util import IdentityProvider, OAuthSmtpSink, self_signed
from .test_mailbox import Box

CLIENT, SECRET = "5f1c2b9e-7d4a-4c1e-9a0b-2e6f8d3c1a77", "Ab3~secret.value-42"
SECRET_ENV = "CONSOLIDATE_OAUTH_SECRET"


# ---------------------------------------------------------------------------------
# settings (no server)
# ---------------------------------------------------------------------------------

def configure(ws, text: str) -> None:
    (ws.root / "consolidate.toml").write_text(text, encoding="utf-8")
    ws._config = None


MAILBOX = '[mailbox]\nhost = "outlook.office365.com"\nuser = "zvity@msp.gov.ua"\nauth = "oauth2"\n'


def test_settings_read_and_secrets_kept_out_of_the_file(workspace):
    configure(workspace, MAILBOX + f'\n[oauth2]\ntenant = "msp.gov.ua"\nclient_id = "{CLIENT}"\n')
    s = mailbox_settings(workspace, environ={SECRET_ENV: SECRET})
    assert s.password == "" and s.oauth is not None
    assert s.oauth.authority_url == "https://login.microsoftonline.com/msp.gov.ua"
    assert s.oauth.scope == "https://outlook.office365.com/.default" and s.oauth.secret == SECRET
    assert SECRET not in repr(s)                          # never printed with the settings

    # no IMAP password is asked for when the login is OAuth's
    with pytest.raises(ConsolidateError, match=SECRET_ENV):
        mailbox_settings(workspace, environ={})

    refusals = {
        MAILBOX + f'[oauth2]\ntenant = "t"\nclient_id = "{CLIENT}"\nsecret = "x"\n': "не зберігайте секрет",
        MAILBOX + f'[oauth2]\nclient_id = "{CLIENT}"\n': "tenant",
        MAILBOX + '[oauth2]\ntenant = "t"\n': "client_id",
        MAILBOX + f'[oauth2]\ntenant = "t"\nclient_id = "{CLIENT}"\nauthority = "http://login.example"\n': "https://",
        MAILBOX + f'[oauth2]\ntenant = "t"\nclient_id = "{CLIENT}"\ncertificate = "нема.pfx"\n': "не знайдено",
        MAILBOX: "немає розділу [oauth2]",
        MAILBOX.replace('"oauth2"', '"kerberos"'): "дозволено «password»",
    }
    for text, expected in refusals.items():
        configure(workspace, text)
        with pytest.raises(ConsolidateError, match=re.escape(expected)):
            mailbox_settings(workspace, environ={SECRET_ENV: SECRET})


def test_smtp_with_oauth_needs_the_sending_mailbox_and_starttls(workspace):
    app = f'[oauth2]\ntenant = "msp.gov.ua"\nclient_id = "{CLIENT}"\n'
    configure(workspace, '[smtp]\nserver = "smtp.office365.com:587"\nauth = "oauth2"\nstarttls = true\n'
                         'user = "zvity@msp.gov.ua"\n' + app)
    s = smtp_from_workspace(workspace, environ={SECRET_ENV: SECRET})
    assert s.oauth is not None and s.password == "" and s.user == "zvity@msp.gov.ua"
    configure(workspace, '[smtp]\nserver = "smtp.office365.com:587"\nauth = "oauth2"\nuser = "zvity@msp.gov.ua"\n' + app)
    with pytest.raises(ConsolidateError, match="starttls"):
        smtp_from_workspace(workspace, environ={SECRET_ENV: SECRET})
    configure(workspace, '[smtp]\nserver = "smtp.office365.com:587"\nauth = "oauth2"\nstarttls = true\n' + app)
    with pytest.raises(ConsolidateError, match="user"):
        smtp_from_workspace(workspace, environ={SECRET_ENV: SECRET})


def test_xoauth2_initial_response():
    assert xoauth2("zvity@msp.gov.ua", "tok") == "user=zvity@msp.gov.ua\x01auth=Bearer tok\x01\x01"


# ---------------------------------------------------------------------------------
# the identity provider alone (HTTPS, MSAL)
# ---------------------------------------------------------------------------------

@pytest.fixture
def provider(tmp_path):
    need_binary("openssl")
    with IdentityProvider(tmp_path) as p:
        yield p


def app(provider, **kw) -> OAuthSettings:
    return OAuthSettings(**{"tenant": provider.tenant, "client_id": CLIENT, "secret": SECRET,
                            "authority": provider.base, "cafile": str(provider.cert), **kw})


def test_token_once_then_from_memory_until_it_nears_expiry(provider):
    provider.register(CLIENT, secret=SECRET, mailboxes=("zvity@msp.gov.ua",))
    source = TokenSource(app(provider))
    first = source.token()
    assert source.token() == first and provider.issued() == 1   # MSAL's cache: no second request
    assert provider.requests[0]["client_secret"] == SECRET and provider.requests[0]["grant_type"] == "client_credentials"

    provider.expires_in = 60          # a token this short-lived is renewed at once (MSAL renews ahead of expiry)
    short = TokenSource(app(provider))
    short.token()
    short.token()
    assert provider.issued() == 3


def test_refusals_are_ukrainian_and_name_what_to_fix(provider, tmp_path):
    provider.register(CLIENT, secret=SECRET)
    cases = [
        (app(provider, secret="wrong"), ["не прийняв застосунок", "AADSTS7000215", SECRET_ENV]),
        (OAuthSettings(tenant=provider.tenant, client_id="00000000-0000-0000-0000-000000000000", secret=SECRET,
                       authority=provider.base, cafile=str(provider.cert)), ["немає в каталозі", "AADSTS700016"]),
        (OAuthSettings(tenant="other.test", client_id=CLIENT, secret=SECRET, authority=provider.base,
                       cafile=str(provider.cert)), ["не знає каталогу «other.test»"]),
        (app(provider, scope="https://graph.microsoft.com/.default"), ["scope"]),
        (OAuthSettings(tenant=provider.tenant, client_id=CLIENT, secret=SECRET, authority=provider.base),
         ["сертифікат сервера входу", "[oauth2] cafile"]),             # a private CA not trusted
        (OAuthSettings(tenant=provider.tenant, client_id=CLIENT, secret=SECRET, authority="https://127.0.0.1:9",
                       cafile=str(provider.cert)), ["Не вдалося з’єднатися з сервером входу"]),
    ]
    for settings, expected in cases:
        with pytest.raises(ConsolidateError) as caught:
            TokenSource(settings).token()
        for text in expected:
            assert text in str(caught.value), (settings, str(caught.value))
        assert "Traceback" not in str(caught.value)


def pfx(tmp_path, password: str):
    cert, key = self_signed(tmp_path, "app", "consolidate")
    out = tmp_path / "consolidate.pfx"
    subprocess.run(["openssl", "pkcs12", "-export", "-inkey", str(key), "-in", str(cert), "-out", str(out),
                    "-passout", f"pass:{password}"], check=True, capture_output=True, timeout=60)
    return cert, key, out


def test_certificate_credential_pfx_and_pem(provider, tmp_path):
    cert, key, bundle = pfx(tmp_path, "пароль-1")
    provider.register(CLIENT, certificate=cert, mailboxes=("zvity@msp.gov.ua",))
    settings = OAuthSettings(tenant=provider.tenant, client_id=CLIENT, certificate=str(bundle),
                             certificate_password="пароль-1", authority=provider.base, cafile=str(provider.cert))
    assert TokenSource(settings).token()
    request = provider.requests[-1]
    assert "client_secret" not in request and request["client_assertion"].count(".") == 2   # a signed JWT

    pem = tmp_path / "app.pem"
    pem.write_bytes(key.read_bytes() + cert.read_bytes())
    assert TokenSource(OAuthSettings(tenant=provider.tenant, client_id=CLIENT, certificate=str(pem),
                                     authority=provider.base, cafile=str(provider.cert))).token()
    assert provider.issued() == 2

    with pytest.raises(ConsolidateError, match="пароль"):
        TokenSource(OAuthSettings(tenant=provider.tenant, client_id=CLIENT, certificate=str(bundle),
                                  certificate_password="не той", authority=provider.base,
                                  cafile=str(provider.cert))).token()
    other, _ = self_signed(tmp_path, "other", "intruder")       # the provider knows another certificate
    provider.register(CLIENT, certificate=other)
    with pytest.raises(ConsolidateError, match="AADSTS700027"):
        TokenSource(settings).token()


# ---------------------------------------------------------------------------------
# the whole round: Dovecot and SMTP, both by XOAUTH2
# ---------------------------------------------------------------------------------

@pytest.fixture
def oauth_mail(tmp_path, workspace, provider):
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin") \
        or need_binary("dovecot")
    dovecot = Dovecot.temporary(binary, introspection_url=provider.introspection_url).start()
    cert, key = self_signed(tmp_path, "smtp")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = OAuthSmtpSink(provider, tls_context=context, require_starttls=True, auth_required=True,
                         auth_require_tls=True).start()
    box = Box(workspace, dovecot, (sink.address, sink), dovecot.add_user())
    text = (f'[mail]\nsender = "{box.user}"\nsender_name = "Мінсоцполітики, звітність"\n\n'
            f'[operator]\nname = "Оператор"\n\n'
            f'[smtp]\nserver = "{sink.address}"\nstarttls = true\nauth = "oauth2"\nuser = "{box.user}"\n'
            f'cafile = "{cert}"\n\n'
            f'[mailbox]\nhost = "127.0.0.1"\nport = {dovecot.imaps_port}\nuser = "{box.user}"\nauth = "oauth2"\n'
            f'cafile = "{dovecot.cert}"\nidle = false\n\n'
            f'[oauth2]\ntenant = "{provider.tenant}"\nclient_id = "{CLIENT}"\nauthority = "{provider.base}"\n'
            f'cafile = "{provider.cert}"\n')
    configure(workspace, text)
    yield box, sink
    sink.stop()
    dovecot.stop()


@pytest.mark.slow
def test_mail_fetch_over_xoauth2_receipt_sent_with_the_same_token(oauth_mail, provider):
    box, sink = oauth_mail
    provider.register(CLIENT, secret=SECRET, mailboxes=(box.user,))
    box.append(outlook("mvs@example.org", box.user, "Звіт МВС за 2024 рік", [("Звіт МВС.xlsx", box.workbook("MVS", 1))]))

    result = CliRunner().invoke(main, ["mail", "fetch", "-w", str(box.ws.root)], env={SECRET_ENV: SECRET})
    assert result.exit_code == 0, result.output
    assert "квитанцію надіслано" in result.output
    assert sink.logins == [box.user]                       # the receipt went out by XOAUTH2 as the mailbox
    assert provider.issued() == 1                          # one token for the IMAP login and the SMTP login
    assert len(provider.introspections) == 2               # Dovecot and the SMTP server each checked it
    assert len(box.folder("Оброблено")) == 1 and box.folder("INBOX") == []
    assert "Звіт МВС.xlsx" in box.receipts()[0].get_body(("plain",)).get_content()


@pytest.mark.slow
def test_watch_reuses_the_token_between_rounds(oauth_mail, provider):
    box, _ = oauth_mail
    provider.register(CLIENT, secret=SECRET, mailboxes=(box.user,))
    settings, smtp = wf.settings_for(box.ws, environ={SECRET_ENV: SECRET})
    errors = []
    rounds = wf.watch(box.ws, settings=settings, smtp=smtp, rounds=3, sleep=lambda s: None,
                      on_round=lambda r, error: errors.append(error))
    assert rounds == 3 and errors == ["", "", ""]
    assert provider.issued() == 1

    # revoked at the provider while MSAL still holds it: refused by the server, so a new one is asked for once
    provider.expire_all()
    box.append(outlook("mvs@example.org", box.user, "Звіт МВС", [("Звіт МВС.xlsx", box.workbook("MVS", 1))]))
    result = wf.fetch(box.ws, settings=settings, smtp=smtp)
    assert result.exit_code == 0 and len(result.new) == 1 and result.new[0].reply == "sent"
    assert provider.issued() == 2


@pytest.mark.slow
def test_refused_logins_say_what_the_administrator_must_grant(oauth_mail, provider):
    box, sink = oauth_mail
    provider.register(CLIENT, secret=SECRET, mailboxes=("someone-else@msp.gov.ua",))   # not this mailbox
    box.append(outlook("mvs@example.org", box.user, "Звіт", [("Звіт.xlsx", box.workbook("MVS", 1))]))
    result = CliRunner().invoke(main, ["mail", "fetch", "-w", str(box.ws.root)], env={SECRET_ENV: SECRET})
    assert result.exit_code == 2
    assert "IMAP.AccessAsApp" in result.output and "Add-MailboxPermission" in result.output
    assert "Traceback" not in result.output
    assert len(box.folder("INBOX")) == 1                  # nothing taken

    result = CliRunner().invoke(main, ["mail", "fetch", "-w", str(box.ws.root)], env={SECRET_ENV: "wrong"})
    assert result.exit_code == 2 and "AADSTS7000215" in result.output
    assert len(box.folder("INBOX")) == 1


@pytest.mark.slow
def test_a_server_without_xoauth2_is_named(tmp_path, workspace, provider, dovecot_plain):
    provider.register(CLIENT, secret=SECRET, mailboxes=("x@msp.gov.ua",))
    configure(workspace, f'[mailbox]\nhost = "127.0.0.1"\nport = {dovecot_plain.imaps_port}\nuser = "x@msp.gov.ua"\n'
                         f'auth = "oauth2"\ncafile = "{dovecot_plain.cert}"\nreceipts = false\n\n'
                         f'[oauth2]\ntenant = "{provider.tenant}"\nclient_id = "{CLIENT}"\n'
                         f'authority = "{provider.base}"\ncafile = "{provider.cert}"\n')
    result = CliRunner().invoke(main, ["mail", "fetch", "-w", str(workspace.root)], env={SECRET_ENV: SECRET})
    assert result.exit_code == 2 and "AUTH=XOAUTH2" in result.output, result.output
    assert provider.issued() == 0                          # no token asked for a server that cannot take it


@pytest.fixture
def dovecot_plain():
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin") \
        or need_binary("dovecot")
    server = Dovecot.temporary(binary).start()
    yield server
    server.stop()
