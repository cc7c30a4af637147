"""The seed's click-to-decode figure: tap the latent plane, the decoder draws that position.

    panel serve apps/decoder.py --warm      # the run in $AEREPORT_RUN, else the embedded MNIST sample
"""
import panel as pn

from aereport.report import app_state
from aereport.views import DecoderView

pn.extension()
DecoderView(state=app_state()).servable(title="aereport — decoder")
