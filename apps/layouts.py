"""The seed's layout comparison: every image under the autoencoder, UMAP, t-SNE and PCA layouts.

    panel serve apps/layouts.py --warm      # the run in $AEREPORT_RUN, else the embedded MNIST sample
"""
import panel as pn

from aereport.report import app_state
from aereport.views import EmbeddingsView

pn.extension()
EmbeddingsView(state=app_state()).servable(title="aereport — layouts")
