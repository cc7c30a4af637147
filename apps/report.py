"""The whole report: `panel serve apps/report.py --warm` (the run in $AEREPORT_RUN, else the embedded sample)."""
import panel as pn

from aereport.report import Report

pn.extension()
Report.open().servable(title="aereport")
