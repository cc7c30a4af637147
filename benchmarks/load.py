"""Twenty sessions on one `aereport serve`, tapping and zooming at once, while one of them trains.

    python benchmarks/load.py --run runs/mnist70k [--clients 20] [--seconds 60]

The sessions are Bokeh websocket clients (``bokeh.client``): each is a full server session (the
server builds every view for it, as for a browser), moving the decoder's position every 0.3-0.8 s
and zooming its plane (a new Datashader render) every fifth action; 2 cores cannot also run 20
Chromium renderers, which would measure the load generator instead of the server. Beside them a
real Chromium page taps the Decoder plane and measures tap -> image in the page (pointerdown to
the frame whose pixels change), and for the second half of the window a second page keeps
pressing Train !. Reported: latencies, lost requests, server errors, server CPU and resident
memory as sessions join and after they leave.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np

from _chromium import ARGS, CHROMIUM, FRAME_OF, cpu_seconds, rss_mb, serving

EXCEPTION_LINE = re.compile(r"[\w.]*(Error|Exception)\b")  # a traceback's last line

HOOK = """() => {
  let src = null;
  for (const m of Bokeh.documents[0].all_models)
    if (m.type == 'GlyphRenderer' && m.name == 'decoded-image') src = m.data_source;
  window.__lat = []; window.__taps = 0;
  document.addEventListener('pointerdown', () => {
    const t0 = performance.now(), old = src.data.image[0]; window.__taps += 1;
    const check = () => src.data.image[0] !== old ? window.__lat.push([Date.now(), performance.now() - t0])
                                                   : requestAnimationFrame(check);
    requestAnimationFrame(check);
  }, true);
}"""


TAB_RENDERER = {"Decoder": "decoded-image", "Training": "train"}  # a renderer each tab draws


async def _open(browser, url: str, errors: list, tab: str = "Decoder"):
    context = await browser.new_context(viewport={"width": 1400, "height": 950})
    page = await context.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url, timeout=180000)
    await page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=180000)
    await page.get_by_text(tab, exact=True).first.click()
    await page.wait_for_function("""name => { for (const m of Bokeh.documents[0].all_models)
        if (m.type == 'GlyphRenderer' && m.name == name) return true; return false; }""",
                                 arg=TAB_RENDERER[tab], timeout=120000)
    await page.wait_for_timeout(1000)
    return context, page


class Client(threading.Thread):
    """One Bokeh session driven from Python: position changes and zooms until ``until``."""

    def __init__(self, url: str, seed: int, until: float, nice: int = 0):
        super().__init__(daemon=True)
        self.url, self.rng, self.until, self.nice = url, np.random.default_rng(seed), until, nice
        self.sent: list[float] = []
        self.images: list[float] = []
        self.zooms: list[float] = []
        self.renders: list[float] = []  # the plane's raster arriving (a zoom's Datashader render)
        self.ready = threading.Event()
        self.error: str | None = None
        self.connected = False

    def run(self):
        # Linux niceness is per thread and inherited by the threads this one starts (the session's
        # io loop): the generator yields the cores to the server and the measuring page.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        try:
            session, doc, loop, named, fig = decoder_session(self.url)
            x_input = next(m for m in doc.models if getattr(m, "title", None) == "x" and hasattr(m, "value"))
            named["decoded-image"].data_source.on_change("data", lambda attr, old, new: self.images.append(time.time()))
            named["decoder-raster"].data_source.on_change("data", lambda attr, old, new: self.renders.append(time.time()))
        except Exception as exc:  # reported, not raised: a failing session is a load-test result
            self.error = f"{type(exc).__name__}: {exc}"
            self.ready.set()
            return
        self.ready.set()
        x0, x1 = fig.x_range.start, fig.x_range.end
        step = 0
        while time.time() < self.until:
            if step % 5 == 4:
                # In to a place of this client's own, then back out to the whole layout (a view
                # every session shares, as a person's reset or zoom-out does).
                if (step // 5) % 2 == 0:
                    half = (x1 - x0) / 4
                    mid = float(self.rng.uniform(x0 + half, x1 - half))
                else:
                    mid, half = (x0 + x1) / 2, (x1 - x0) / 2
                self.zooms.append(time.time())
                loop.add_callback(lambda a=mid - half, b=mid + half: zoom(doc, fig, a, b))
            else:
                x = float(self.rng.uniform(x0, x1))
                self.sent.append(time.time())
                loop.add_callback(lambda x=x: setattr(x_input, "value", x))
            step += 1
            time.sleep(self.rng.uniform(0.3, 0.8))
        # Close only once the last request is answered: a backlogged client closing with its
        # queue full left the server writing to and reading from a closing websocket.
        deadline = time.time() + 30
        while time.time() < deadline and self.sent and not any(t > self.sent[-1] for t in self.images):
            time.sleep(0.2)
        time.sleep(2)
        self.connected = session.connected  # still connected at the end: its figures count
        loop.add_callback(lambda: session.close())

    def latencies_ms(self) -> list[float]:
        images = np.array(self.images)
        out = []
        for t in self.sent:
            later = images[images > t]
            out.append((later.min() - t) * 1000 if len(later) else np.inf)
        return out


# The plot size a websocket client reports for the Decoder's plane, in CSS pixels: about what
# the measuring Chromium page's plane is laid out at.
PLOT_SIZE = (640, 480)


def decoder_session(url: str, timeout: float = 120):
    """A Bokeh session of ``url`` on the Decoder tab, as a browser's: ``(session, document, its io
    loop, {renderer name: renderer}, the plane's figure)``, once the tab (built when first opened) has arrived and its
    plane has been told its size (``PLOT_SIZE``) as BokehJS tells it once the plot is laid out."""
    import panel.models  # noqa: F401  Panel's Bokeh models, to read the session's document
    from bokeh.client import pull_session
    from bokeh.events import DocumentReady
    from bokeh.models import GlyphRenderer, Label, Plot, Tabs

    session = pull_session(url=url)
    doc, loop = session.document, session._connection.io_loop
    threading.Thread(target=session._connection.loop_until_closed, daemon=True).start()
    # What a browser sends once it has drawn the page; Panel holds some updates until then.
    loop.add_callback(lambda: doc.callbacks.send_event(DocumentReady()))
    tabs = next(m for m in doc.models if isinstance(m, Tabs))
    loop.add_callback(lambda: setattr(tabs, "active", 1))
    deadline = time.time() + timeout
    # The marker: a Label since session 21, a glyph before (so older versions can be measured)
    while not any(isinstance(m, (GlyphRenderer, Label)) and m.name == "decoder-marker" for m in list(doc.models)):
        if time.time() > deadline:
            raise TimeoutError("the Decoder tab never came")
        time.sleep(0.1)
    named = {m.name: m for m in list(doc.models) if isinstance(m, (GlyphRenderer, Label)) and m.name}
    fig = next(m for m in doc.models if isinstance(m, Plot) and named["decoder-marker"] in m.center + m.renderers)

    def laid_out():
        # Read-only in Python, as BokehJS alone lays plots out: set as its patch sets them, so
        # the server's size streams hear it (and zooms are drawn at that size).
        for name, value in zip(("inner_width", "inner_height"), PLOT_SIZE):
            fig.set_from_json(name, value)
    loop.add_callback(laid_out)
    return session, doc, loop, named, fig


def zoom(doc, fig, x0: float, x1: float) -> None:
    """Set ``fig``'s x range and tell the server as BokehJS does after a wheel zoom: HoloViews'
    range streams follow the ``rangesupdate`` event, not the range's properties."""
    from bokeh.events import RangesUpdate

    class Ranges(RangesUpdate):
        # A Python-made event serializes its model only; BokehJS's carries the new ranges.
        def event_values(self):
            return {**super().event_values(), "x0": self.x0, "x1": self.x1, "y0": self.y0, "y1": self.y1}

    fig.x_range.update(start=x0, end=x1)
    doc.callbacks.send_event(Ranges(fig, x0=x0, x1=x1, y0=fig.y_range.start, y1=fig.y_range.end))


async def _tapper(page, until: float) -> None:
    await page.evaluate(HOOK)
    x0, y0, w, h = await page.evaluate(FRAME_OF, "decoder-marker")
    rng = np.random.default_rng(0)
    while time.time() < until:
        fx, fy = rng.uniform(0.05, 0.95, 2)
        await page.mouse.click(x0 + fx * w, y0 + fy * h)
        await asyncio.sleep(rng.uniform(0.3, 0.8))
    await page.wait_for_timeout(1500)  # let the last taps land


async def _trainer(page, start: float, until: float, log: list) -> None:
    """Press Train ! again whenever the previous request has finished, from ``start`` on."""
    await asyncio.sleep(max(0.0, start - time.time()))
    button = page.get_by_role("button", name="Train !")
    while time.time() < until:
        try:
            if await button.is_enabled(timeout=2000):
                await button.click(timeout=2000)
                log.append(time.time())
        except Exception:  # the button re-renders as its label flips: try again next round
            pass
        await asyncio.sleep(0.5)


async def _sample_cpu(pid: int, out: list, every: float = 1.0) -> None:
    """The server's CPU seconds, ``every`` seconds: when in the window it was busy."""
    while True:
        out.append((time.time(), round(cpu_seconds(pid), 3)))
        await asyncio.sleep(every)


def _pct(a, q):
    a = np.asarray(a, float)
    return round(float(np.percentile(a, q)), 1) if len(a) else None


async def run_load(url: str, pid: int, clients: int = 20, seconds: float = 60, train: bool = True,
                   settle: float = 20, nice: int = 0, trace: str | None = None) -> dict:
    """``clients`` websocket sessions plus a measuring Chromium page against the server at ``url``
    (process ``pid``); the second half of the window runs while another page trains the model."""
    from playwright.async_api import async_playwright

    errors: list[str] = []
    memory = {"idle": rss_mb(pid)}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context, page = await _open(browser, url, errors)
        trainer = await _open(browser, url, errors, tab="Training") if train else None
        memory["2 pages"] = rss_mb(pid)
        cpu_trace: list = []
        sampler = asyncio.ensure_future(_sample_cpu(pid, cpu_trace))
        # Each client acts from the moment it joins; all stop at the end of the window, which
        # opens once the last has joined (joining 20 took 50 s: a fixed end let the clients
        # stop halfway through the window, before the training half).
        workers = [Client(url, i, time.time() + 3600, nice) for i in range(clients)]
        for w in workers:  # one at a time: building a session is the heaviest thing a visitor does
            w.start()
            await asyncio.get_running_loop().run_in_executor(None, w.ready.wait)
        memory[f"2 pages + {clients} clients"] = rss_mb(pid)
        errors += [w.error for w in workers if w.error]
        start, cpu0 = time.time(), cpu_seconds(pid)
        print(f"window starts {start:.3f}", file=sys.stderr, flush=True)
        until = start + seconds
        for w in workers:
            w.until = until
        half = start + seconds / 2
        trains: list[float] = []
        jobs = [_tapper(page, until)] + ([_trainer(trainer[1], half, until, trains)] if train else [])
        await asyncio.gather(*jobs)
        server_cpu = (cpu_seconds(pid) - cpu0) / (time.time() - start)
        sampler.cancel()
        lat = np.array(await page.evaluate("() => window.__lat"), float).reshape(-1, 2)
        taps = await page.evaluate("() => window.__taps")
        for w in workers:
            await asyncio.get_running_loop().run_in_executor(None, w.join, 30)
        memory["after load"] = rss_mb(pid)
        for c in [context] + ([trainer[0]] if trainer else []):
            await c.close()
        await browser.close()
    await asyncio.sleep(settle)  # Bokeh drops a closed session's document after ~15-17 s
    memory["sessions closed"] = rss_mb(pid)
    if trace:  # every event's time, seconds into the window: what a latency figure hides
        Path(trace).write_text(json.dumps({
            "browser": [(round(t / 1000 - start, 3), round(ms)) for t, ms in lat],
            "clients": [{k: [round(t - start, 3) for t in getattr(w, k)] for k in ("sent", "images", "zooms", "renders")}
                        for w in workers], "cpu": [(round(t - start, 2), c) for t, c in cpu_trace]}))
    quiet, training = lat[lat[:, 0] < half * 1000, 1], lat[lat[:, 0] >= half * 1000, 1]
    client_lat = np.concatenate([w.latencies_ms() for w in workers if not w.error] or [[]])
    return {"clients": clients, "seconds": seconds, "client_nice": nice, "errors": errors,
            "browser_taps": taps, "browser_images": len(lat),
            "browser_tap_p50_ms": _pct(lat[:, 1], 50), "browser_tap_p95_ms": _pct(lat[:, 1], 95),
            "browser_tap_p95_ms_before_training": _pct(quiet, 95),
            "browser_tap_p95_ms_while_training": _pct(training, 95),
            "client_requests": len(client_lat), "client_lost": int(np.isinf(client_lat).sum()),
            "client_p50_ms": _pct(client_lat[np.isfinite(client_lat)], 50),
            "client_p95_ms": _pct(client_lat[np.isfinite(client_lat)], 95),
            "clients_disconnected": sum(not w.connected for w in workers if not w.error),
            "client_zooms": sum(len(w.zooms) for w in workers),
            "client_zoom_renders": sum(len(w.renders) for w in workers),
            "train_requests": len(trains), "server_cpu_cores": round(server_cpu, 2),
            # when the slow taps happened, against the Train ! clicks (seconds into the window)
            "slow_taps_s_ms": [(round(t / 1000 - start, 1), round(ms)) for t, ms in lat if ms > 500],
            "train_clicks_s": [round(t - start, 1) for t in trains],
            "rss_mb": {k: round(v) for k, v in memory.items()}}


def server_errors(log: Path) -> list[str]:
    """The server log's error records (first and last line of each), leaving out a websocket found
    closed while a message to a departing client was being written: that is the client's leaving."""
    records, current = [], []
    for line in log.read_text(errors="replace").splitlines():
        if current and (line[:1].isspace() or not line.strip() or EXCEPTION_LINE.match(line)
                        or line.startswith(("Traceback", "During handling", "future:"))):
            current.append(line)
        else:
            current = [line]
            records.append(current)
    errors = [r for r in records if any(k in "\n".join(r) for k in ("Traceback", "ERROR", "Exception"))
              and not any("WebSocketClosedError" in line or "StreamClosedError" in line for line in r)]
    return [f"{r[0]} ... {r[-1]}" if len(r) > 1 else r[0] for r in errors]


def main():
    # Bokeh's Python client handles each incoming message one stack level deeper than the last
    # (connection._next -> _handle_messages -> _next ...): a busy session overflows the default
    # recursion limit within a minute. Room for the load generator, not a server setting.
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(512 * 1024 * 1024)
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--port", type=int, default=5078)
    p.add_argument("--no-train", action="store_true")
    p.add_argument("--client-nice", type=int, default=0,
                   help="niceness of the websocket clients' threads (0-19): the share of the cores the "
                        "load generator yields to the server and the measuring page")
    p.add_argument("--log", default="load-server.log")
    p.add_argument("--trace", help="write every request's and answer's time (JSON) to this file")
    p.add_argument("--settle", type=float, default=20, help="seconds to wait after the sessions close "
                                                             "before measuring memory")
    args = p.parse_args()
    with open(args.log, "w") as log, serving(args.run, args.port, log) as server:
        result = asyncio.run(run_load(f"http://127.0.0.1:{args.port}/", server.pid, args.clients,
                                      args.seconds, train=not args.no_train, settle=args.settle,
                                      nice=args.client_nice, trace=args.trace))
    result["server_errors"] = server_errors(Path(args.log))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
