"""The seed's last widget: drag across the latent plane of a face autoencoder and watch the face change.

    AEREPORT_FACES=path/to/img_align_celeba panel serve apps/faces.py --warm   # trains once, then serves
"""
import panel as pn

from aereport.report import faces_state
from aereport.views import DecoderView

pn.extension()
DecoderView(state=faces_state(), drag=True, image_width=360).servable(title="aereport — faces")
