"""``consolidate serve``: run the console with uvicorn, print the address to open, open the browser."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
import webbrowser
from pathlib import Path

from ..errors import ConsolidateError
from .app import Config, create_app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build(root: Path, host: str, *, accounts: bool = False):
    """The application and the address a clerk opens (with the token in token mode)."""
    from .accounts import Store

    accounts = accounts or not is_loopback(host)
    token = "" if accounts else secrets.token_urlsafe(32)
    config = Config(
        root=Path(root), accounts=accounts, token=token, secure_cookies=accounts
    )  # token mode on loopback: plain http to this machine only
    app = create_app(config)
    if accounts and not Store(app.state.console.ws.root).has_users():
        raise ConsolidateError(
            "Консоль на адресі, відмінній від 127.0.0.1, потребує облікових записів: додайте їх "
            "командою «consolidate users add ІМ’Я --role clerk|reviewer|viewer»."
        )
    return app, token


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    open_browser: bool = True,
    accounts: bool = False,
    echo=print,
) -> None:
    import uvicorn

    app, token = build(root, host, accounts=accounts)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
        except OSError as exc:
            raise ConsolidateError(
                f"Не вдалося відкрити {host}:{port} ({exc.strerror or exc}); вкажіть інший --port."
            ) from None
    if token:
        echo(f"Консоль: {url}")
    else:
        echo(f"Консоль: {url} (вхід за обліковими записами; за зворотним проксі з TLS — див. docs/web.md)")
    echo("Зупинити: Ctrl+C.")
    if open_browser and is_loopback(host):  # the clerk's own machine (a server's console is opened from elsewhere)
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
    uvicorn.Server(config).run()
