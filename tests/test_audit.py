"""The pipeline as a whole, on images built in the test."""

import json

from auditor.audit import audit_image
from auditor.filetree import squash_layers
from auditor.model.result import Report
from auditor.reports.json import report_json
from tests.layerkit import F, image_of

TOKEN = "ghp_" + "a1B2c3D4e5" * 3 + "x9Y8z7"


def test_no_report_shows_a_secret_that_the_history_recorded():
    img = image_of([F("/app/run", "x")], [F("/app/more", "y")],
                   history=[f"|1 TOKEN={TOKEN} /bin/sh -c make", "/bin/sh -c echo ok"])
    result = audit_image(img, squash_layers(img.layers))
    text = json.dumps(report_json(Report(result)))
    assert TOKEN not in text
    assert "ghp_" in text  # the masked value is still there for a person to find
    assert any(f.rule_id == "AUD-SECRET-HISTORY" for f in result.findings)


def test_a_detector_that_raises_is_recorded_and_the_scan_goes_on(monkeypatch):
    from auditor.detectors import DETECTORS, load_detectors

    load_detectors()
    name, det = next(iter(DETECTORS.items()))

    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(DETECTORS, name, type(det)(det.name, det.rules, det.wants, broken,
                                                   det.doc))
    img = image_of([F("/etc/passwd", "root:x:0:0::/root:/bin/sh\n")])
    result = audit_image(img, squash_layers(img.layers))
    assert any(s.where == f"detector {name}" and "boom" in s.reason for s in result.skipped)
    assert result.findings  # the other detectors still ran
