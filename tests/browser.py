"""A real browser for page tests: Debian's ``chromium``, headless, driven over the DevTools protocol on a pipe
(``--remote-debugging-pipe``: JSON messages ending in a NUL byte on file descriptors 3 and 4), standard library
only. Tests skip, saying why, where chromium is not installed (CI installs it: ``apt-get install -y chromium``).

Example:
    >>> with Browser(tmp_path) as browser:  # doctest: +SKIP
    ...     browser.open("file:///.../index.html")
    ...     browser.evaluate("document.title")
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-crash-reporter", "--remote-debugging-pipe", "--window-size=1280,900")  # fmt: skip


class Browser:
    """One headless chromium with one page; every call waits at most ``timeout`` seconds."""

    def __init__(self, folder: Path, timeout: float = 30.0):
        self.folder, self.timeout = Path(folder), timeout
        self._id, self._buffer, self.session = 0, b"", None

    def __enter__(self) -> Browser:
        to_chrome, self._writer = os.pipe()
        self._reader, from_chrome = os.pipe()

        def descriptors() -> None:  # in the child: chromium reads commands on 3 and writes replies on 4 (kept open:
            # subprocess closes the descriptors not in pass_fds after this)
            os.dup2(to_chrome, 3)
            os.dup2(from_chrome, 4)

        profile = self.folder / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                        preexec_fn=descriptors, pass_fds=(3, 4, to_chrome, from_chrome),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        env={**os.environ, "HOME": str(self.folder), "TMPDIR": str(self.folder)})  # fmt: skip
        os.close(to_chrome)
        os.close(from_chrome)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable")
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        os.close(self._writer)
        os.close(self._reader)

    def call(self, method: str, **params: Any) -> dict:
        """Send one command (to the page once attached) and return its result."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" not in self._buffer:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chromium did not answer {method} in {self.timeout} s")
                chunk = os.read(self._reader, 1 << 16)
                if not chunk:
                    raise ConnectionError(f"chromium closed the pipe during {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def open(self, url: str) -> None:
        """Load ``url`` and wait until its document is complete."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while self.evaluate("document.readyState") != "complete" or self.evaluate("location.href") == "about:blank":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load in {self.timeout} s")
            time.sleep(0.05)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (an exception in it is a RuntimeError)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        """The viewport as PNG."""
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
