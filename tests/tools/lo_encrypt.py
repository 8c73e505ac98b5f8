"""Save a spreadsheet with a password to open, through LibreOffice (run with the system python that has uno).

    python3 lo_encrypt.py SRC DST FILTER PASSWORD PROFILE_DIR

FILTER is a LibreOffice export filter ("MS Excel 97" → .xls with RC4 CryptoAPI encryption, "calc8" → .ods
with ODF encryption).  LibreOffice is started headless on a private pipe and stopped at the end.
"""

import os
import subprocess
import sys
import time
import uuid

import uno
from com.sun.star.beans import PropertyValue


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def main(src, dst, filter_name, password, profile):
    pipe = f"intake-{uuid.uuid4().hex}"
    soffice = subprocess.Popen(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                                "--nolockcheck", "--invisible", f"--accept=pipe,name={pipe};urp;"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        resolver = uno.getComponentContext().ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", uno.getComponentContext())
        for _ in range(600):
            try:
                ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except Exception:
                time.sleep(0.1)
        else:
            raise SystemExit("LibreOffice did not start")
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(os.path.abspath(src)), "_blank", 0,
                                           (prop("Hidden", True),))
        doc.storeToURL(uno.systemPathToFileUrl(os.path.abspath(dst)),
                       (prop("FilterName", filter_name), prop("Password", password)))
        doc.close(True)
        try:
            desktop.terminate()
        except Exception:  # the bridge goes down with LibreOffice
            pass
    finally:
        try:
            soffice.wait(timeout=30)
        except subprocess.TimeoutExpired:
            soffice.kill()
            soffice.wait()


if __name__ == "__main__":
    main(*sys.argv[1:6])
