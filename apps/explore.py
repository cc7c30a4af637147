"""Every layout side by side, linked: select, filter by label, hover, nearest neighbours.

    panel serve apps/explore.py --warm      # the run in $AEREPORT_RUN, else the embedded MNIST sample
"""
import panel as pn

from aereport.report import app_state
from aereport.views import ExploreView

pn.extension()
ExploreView(state=app_state()).servable(title="aereport — explore")
