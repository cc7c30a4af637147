"""Debian's Chromium for the benchmarks, with the flags this closed network needs, and a served run."""
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def launch(playwright):
    """A headless Chromium browser from Playwright's sync API."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def open_page(browser, url: str, width: int = 1400, height: int = 950):
    """A new page of ``browser`` at ``url``, returned once BokehJS holds its document."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url, timeout=120000)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=120000)
    return page


@contextlib.contextmanager
def serving(run: str, port: int, log=subprocess.DEVNULL):
    """`aereport serve --run RUN` on ``port`` while the block runs; yields the server process,
    with ``ready_s``: the seconds from its start until it listened."""
    # $AEREPORT_EXE: another version's command (another checkout's), to measure two side by side
    exe = os.environ.get("AEREPORT_EXE") or Path(sys.executable).with_name("aereport")
    start = time.perf_counter()
    server = subprocess.Popen([str(exe), "serve", "--run", run, "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT if log is not subprocess.DEVNULL else log,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"aereport serve --run {run} exited with {server.returncode}")
                time.sleep(0.2)
        server.ready_s = time.perf_counter() - start
        yield server
    finally:
        server.terminate()
        server.wait()


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The frame of the plot holding the named renderer or annotation: [left, top, width, height].
FRAME_OF = """(name) => {
  const models = [...Bokeh.documents[0].all_models];
  const fig = models.find((m) => m.type == 'Figure' && [...m.renderers, ...m.center].some((r) => r.name == name));
  const v = Bokeh.index.find_one(fig), rect = v.el.getBoundingClientRect(), f = v.frame.bbox;
  return [rect.left + f.x0, rect.top + f.y0, f.width, f.height]; }"""

# Whether the plot holding the named renderer or annotation is on the page (a tab's plots are made
# when it is first opened).
DRAWN = """(name) => [...Bokeh.documents[0].all_models].some((m) => m.type == 'Figure'
  && [...m.renderers, ...m.center].some((r) => r.name == name) && Bokeh.index.find_one(m))"""

# Whether the named raster's image has its plot frame's size in pixels: a plane's first render is
# at the size the plane last reported in the server (Datashader's 400 × 400 in a new server), and
# drawn again at this page's size once the page reports it.
AT_FRAME_SIZE = """(name) => {
  const r = [...Bokeh.documents[0].all_models].find((m) => m.type == 'GlyphRenderer' && m.name == name);
  const fig = [...Bokeh.documents[0].all_models].find((m) => m.type == 'Figure' && m.renderers.includes(r));
  const view = fig && Bokeh.index.find_one(fig), shape = r && r.data_source.data.image?.[0]?.shape;
  const frame = view && view.frame.bbox;
  return !!(frame && shape && shape[0] == Math.round(frame.height) && shape[1] == Math.round(frame.width)); }"""

# Times every repaint (Bokeh's PlotView._actual_paint) of the plots holding any of the named
# renderers or annotations, into window.__paints = {n, ms}.
TIME_PAINTS = """(names) => {
  window.__paints = {n: 0, ms: 0};
  for (const fig of [...Bokeh.documents[0].all_models].filter((m) => m.type == 'Figure'
       && [...m.renderers, ...m.center].some((r) => names.includes(r.name)))) {
    const view = Bokeh.index.find_one(fig), paint = view._actual_paint.bind(view);
    view._actual_paint = () => {
      const t = performance.now(); paint(); window.__paints.n++; window.__paints.ms += performance.now() - t; };
  } }"""
