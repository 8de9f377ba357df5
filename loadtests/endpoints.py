"""The names under which the load test reports each endpoint and wire format.

The SLO file (slo.toml) sets objectives for exactly these names; the gate fails a run
where any of them got no request, or where a request name has no objective.
"""

from __future__ import annotations

DIGITS_RAW = "digits raw png"
DIGITS_MULTIPART = "digits multipart"
DIGITS_BASE64 = "digits base64 json"
CANCER_ROW = "cancer one row"
CANCER_ROWS = "cancer many rows"
MINILM_PLAIN = "minilm text/plain"
MINILM_JSON = "minilm json inputs"
DESCRIBE = "manage describe"
SCALE = "manage scale"

ALL = (
    DIGITS_RAW,
    DIGITS_MULTIPART,
    DIGITS_BASE64,
    CANCER_ROW,
    CANCER_ROWS,
    MINILM_PLAIN,
    MINILM_JSON,
    DESCRIBE,
    SCALE,
)
