"""The seed's Train!/Sample! diagram: train the model further and watch the loss fall.

    panel serve apps/training.py --warm     # the run in $AEREPORT_RUN, else the embedded MNIST sample
"""
import panel as pn

from aereport.report import app_state
from aereport.views import TrainingView

pn.extension()
TrainingView(state=app_state()).servable(title="aereport — training")
