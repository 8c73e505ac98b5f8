"""The catalogue workbook through the web console: download, edit, upload; refused whole with every problem."""

from __future__ import annotations

import html
import io

import openpyxl

from consolidate.catalogue import load_catalogue
from consolidate.workflows.catalogue import folder_digest

from .web_util import Server, csrf_of, multipart, request, token_session


def _upload(server, cookie, name, data):
    body, ctype = multipart([(name, data)])
    csrf = csrf_of(server, cookie)
    return request(server, "POST", f"/catalogue/import?csrf={csrf}", body, {"Content-Type": ctype}, cookie=cookie)


def test_catalogue_workbook_down_and_up(workspace):
    server = Server(workspace.root)
    try:
        cookie = token_session(server)
        status, headers, body = request(server, "GET", "/catalogue", cookie=cookie)
        assert status == 200 and b'id="catalogue-import"' in body and b"/catalogue/workbook.xlsx" in body
        status, headers, data = request(server, "GET", "/catalogue/workbook.xlsx?period=2024", cookie=cookie)
        assert status == 200 and headers["content-type"].startswith("application/vnd.openxmlformats")
        wb = openpyxl.load_workbook(io.BytesIO(data))
        assert wb["Показники"]["A1"].value == "ID"

        # a broken edit: refused with sheet and cell, nothing changed
        wb["Показники"]["E2"] = "двадцять"
        wb["Заходи"]["E3"] = "NOPE"
        bad = io.BytesIO()
        wb.save(bad)
        before = folder_digest(workspace.templates_dir)
        status, _, body = _upload(server, cookie, "каталог.xlsx", bad.getvalue())
        text = html.unescape(body.decode())
        assert status == 422
        assert "аркуш «Показники», клітинка E2" in text and "аркуш «Заходи», клітинка E3" in text
        assert "каталог не змінено" in text and "2 помилки" in text
        assert folder_digest(workspace.templates_dir) == before

        # a good edit: the plan figure replaced
        wb["Показники"]["E2"] = 5
        wb["Заходи"]["E3"] = openpyxl.load_workbook(io.BytesIO(data))["Заходи"]["E3"].value
        good = io.BytesIO()
        wb.save(good)
        status, headers, _ = _upload(server, cookie, "каталог.xlsx", good.getvalue())
        assert status == 303, headers
        assert load_catalogue(workspace.templates_dir).indicators[0].planned == 5
        _, _, page = request(server, "GET", headers["location"], cookie=cookie)
        assert "замінено" in html.unescape(page.decode())
        _, _, body = request(server, "GET", "/catalogue", cookie=cookie)
        assert "план 5" in html.unescape(body.decode())  # the console shows the new catalogue at once
        _, _, journal = request(server, "GET", "/journal", cookie=cookie)
        assert "імпорт каталогу" in journal.decode()
    finally:
        server.stop()
