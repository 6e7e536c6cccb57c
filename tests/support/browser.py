"""Headless Chromium for the HTML tests, driven over the DevTools protocol on a pipe (no extra package).

    with Page.open(path) as page:          # the network is off; every request is recorded
        page.evaluate("document.title")
        page.screenshot(tmp_path / "page.png")
        page.requests                      # URLs the page asked for

Chromium is started with ``--remote-debugging-pipe``: it reads commands from file descriptor 3 and writes
answers and events to descriptor 4, one JSON message per NUL-terminated chunk. Requests are blocked twice:
Chromium's own resolver and proxy point nowhere, and the page emulates a browser that is offline.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
TIMEOUT = 60.0  # seconds for one answer; a 10k-row page loads in about one


def chromium() -> str:
    """Chromium's path. Missing: the test fails when CI is "true" (CI installs it), else it is skipped."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium is needed (Debian: apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must install it", pytrace=False)
    pytest.skip(message)


class DevTools:
    """One Chromium process and its DevTools pipe: ``call`` sends a command and waits for its answer,
    keeping the events that arrive meanwhile."""

    def __init__(self, width: int, height: int):
        self.profile = tempfile.mkdtemp(prefix="onnxcost-chromium-")
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-sync",
            "--disable-component-update", "--disable-extensions", "--disable-default-apps", "--hide-scrollbars",
            "--mute-audio", "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--window-size={width},{height}", "about:blank",
        ]

        def onto_3_and_4() -> None:  # in the child: the pipe ends Chromium expects
            high_read, high_write = os.dup(commands_read), os.dup(answers_write)
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        self.process = subprocess.Popen(
            [chromium(), *flags], preexec_fn=onto_3_and_4, close_fds=False,  # our other descriptors close on exec
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result; a protocol error raises RuntimeError."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str, timeout: float = TIMEOUT) -> dict:
        """The first event ``method`` (already received or still to come)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(self._read(deadline))

    def _read(self, deadline: float | None = None) -> dict:
        import select

        deadline = deadline or time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._answers], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe (did it crash?)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            os.write(self._commands, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._answers)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """A file opened in a fresh tab of headless Chromium with the network off."""

    def __init__(self, tools: DevTools, session: str, url: str):
        self.tools, self.session, self.url = tools, session, url

    @classmethod
    def open(cls, path: str | os.PathLike, width: int = 1280, height: int = 900) -> Page:
        tools = DevTools(width, height)
        try:
            target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Network"):
                tools.call(f"{domain}.enable", session=session)
            tools.call("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1,
                                                            "uploadThroughput": -1}, session)
            tools.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                              "mobile": False}, session)
            url = Path(path).resolve().as_uri()
            tools.call("Page.navigate", {"url": url}, session)
            tools.wait_for("Page.loadEventFired")
        except BaseException:
            tools.close()
            raise
        return cls(tools, session, url)

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc) -> None:
        self.tools.close()

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serialisable); an exception raises RuntimeError."""
        result = self.tools.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": True}, self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A left click with the mouse in the middle of the first element ``selector`` finds (scrolled into view)."""
        box = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.tools.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                         "clickCount": 1}, self.session)

    def type(self, selector: str, text: str) -> None:
        """Focus the element ``selector`` finds and type ``text`` into it, as a keyboard would (input events fire)."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.tools.call("Input.insertText", {"text": text}, self.session)

    @property
    def requests(self) -> list[str]:
        """Every URL the page requested so far (its own file included)."""
        return [e["params"]["request"]["url"] for e in self.tools.events if e.get("method") == "Network.requestWillBeSent"]

    @property
    def errors(self) -> list[str]:
        """JavaScript exceptions thrown in the page so far."""
        return [e["params"]["exceptionDetails"].get("exception", {}).get("description", "?")
                for e in self.tools.events if e.get("method") == "Runtime.exceptionThrown"]

    def screenshot(self, target: str | os.PathLike) -> Path:
        """A PNG of the whole page (not only the window) at ``target``, scrolled to the top first (sticky table
        headers would otherwise be drawn where the window last was)."""
        self.evaluate("window.scrollTo(0, 0)")
        size = self.tools.call("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.tools.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True},
                               self.session)
        target = Path(target)
        target.write_bytes(base64.b64decode(shot["data"]))
        return target
