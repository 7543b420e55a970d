"""What a person reads for the analytics' codes: metrics and action states, zh-CN and en."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from callbacks.models import TASK_KINDS
from reports.suggestions import DIMENSION_NAMES, TASK_NAMES

METRIC_LABELS = {
    "csat": _l("CSAT (share satisfied)"),
    "satisfaction_index": _l("satisfaction index"),
    "nps": _l("NPS"),
    "resolution_rate": _l("resolution rate"),
    **{f"dimension:{key}": name for key, name in DIMENSION_NAMES.items()},
    **{f"sla:{kind}": TASK_NAMES[kind] for kind in TASK_KINDS},
}
STATE_LABELS = {"open": _l("Open"), "done": _l("Done"), "dropped": _l("Dropped")}
