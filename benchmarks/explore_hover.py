"""What hovering costs the page in the served Explore tab: its panes' repaint time per hover.

    python benchmarks/explore_hover.py --run runs/mnist70k [--moves 60]

The pointer crosses the autoencoder's pane in ``--moves`` steps. Every repaint of an Explore pane
(Bokeh's ``PlotView._actual_paint``) is timed, and the hovers that took are counted by the hover
card's title. $AEREPORT_EXE measures another version's server (see ``_chromium.serving``).
"""
from __future__ import annotations

import argparse

# The names of the Explore panes' rasters (one per layout shown).
PANES = """() => [...Bokeh.documents[0].all_models].filter((m) => m.type == 'GlyphRenderer' && m.name
  && /^explore-[a-z]+$/.test(m.name)).map((m) => m.name)"""
CARD = """() => { for (const m of Bokeh.documents[0].all_models)
  if (m.type == 'Figure' && m.renderers.some((r) => r.name == 'hover-image')) return m.title.text; }"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--moves", type=int, default=60)
    p.add_argument("--port", type=int, default=5078)
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from _chromium import DRAWN, FRAME_OF, TIME_PAINTS, launch, open_page, serving

    with serving(args.run, args.port):
        with sync_playwright() as pw:
            b = launch(pw)
            page = open_page(b, f"http://127.0.0.1:{args.port}/")
            page.get_by_text("Explore", exact=True).first.click()
            page.wait_for_function(DRAWN, arg="explore-ae", timeout=120000)
            page.wait_for_timeout(3000)  # the tab's first paints
            panes = page.evaluate(PANES)
            page.evaluate(TIME_PAINTS, panes)
            x, y, w, h = page.evaluate(FRAME_OF, "explore-ae")
            hovers, last = 0, page.evaluate(CARD)
            for k in range(args.moves):
                page.mouse.move(x + w * (0.3 + 0.4 * k / args.moves), y + h * (0.4 + 0.2 * (k % 5) / 5))
                page.wait_for_timeout(150)
                now = page.evaluate(CARD)
                hovers, last = hovers + (now != last), now
            page.wait_for_timeout(500)
            paints = page.evaluate("() => window.__paints")
            b.close()
    print(f"{len(panes)} panes; {hovers} hovers shown of {args.moves} moves; {paints['n']} pane repaints, "
          f"{paints['ms']:.1f} ms in them ({paints['ms'] / max(hovers, 1):.2f} ms per hover)")


if __name__ == "__main__":
    main()
