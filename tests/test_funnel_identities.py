"""The funnel's identities are checks that can fail: each side is counted on its own, a
broken one is reported as FAILED by `m3w stats`, and a real build satisfies all of them."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main
from pipeline.funnel import build_funnel, identity_checks, in_label, out_label
from tests.imagegen import image_bytes
from tests.warcgen import NO_TEXT_CURATION_YAML, PROSE, page, warc_bytes

SITE = "http://funnel.test"


def _counts(read_in: int | None, image_in: int | None) -> list:
    counts = [
        (("read", "out", "html"), 5), (("read", "out", "image"), 3),
        (("read", "reject", "read/v1", "warc_type"), 1),
        (out_label("extract"), 5), (out_label("image"), 6),
        (("image", "reject", "image_check/v1", "too_small"), 2),
        (out_label("document"), 4), (out_label("shard"), 4),
        (("document", "reject", "min_images/v1", "too_few_images"), 1),
    ]
    if read_in is not None:
        counts.append((in_label("read"), read_in))
    if image_in is not None:
        counts.append((in_label("image"), image_in))
    return counts


def _check(funnel: dict, name: str) -> dict:
    return next(c for c in funnel["checks"] if c["identity"] == name)


def test_identities_hold_when_independent_counts_agree():
    funnel = build_funnel(_counts(9, 8))
    assert funnel["totals"]["records_read"] == 9
    assert funnel["totals"]["image_requests"] == 8
    assert all(c["checked"] and c["ok"] for c in funnel["checks"])


@pytest.mark.parametrize(("read_in", "image_in", "broken"), [(10, 8, "records"),
                                                              (9, 9, "images")])
def test_a_lost_element_breaks_its_identity(read_in, image_in, broken):
    funnel = build_funnel(_counts(read_in, image_in))
    check = _check(funnel, broken)
    assert check["checked"] and not check["ok"]
    assert check["values"][0] - check["values"][1] == 1
    assert [c["identity"] for c in funnel["checks"] if not c["ok"]] == [broken]


def test_without_reader_counts_records_read_is_not_claimed_checked():
    funnel = build_funnel(_counts(None, None))
    assert funnel["totals"]["records_read"] == 9  # the sum of the kinds: true by construction
    assert not _check(funnel, "records")["checked"]
    assert "image_requests" not in funnel["totals"]
    assert _check(funnel, "documents")["checked"]  # html 5 == documents 4 + rejected 1


def test_old_funnels_are_checked_from_their_totals():
    totals = {"records_read": 4, "html_records": 2, "image_records": 1, "skipped_records": 0,
              "documents": 2, "rejected_documents": 0}
    checks = {c["identity"]: c for c in identity_checks(totals)}
    assert not checks["records"]["ok"] and checks["documents"]["ok"]


def test_stats_prints_failed_and_exits_nonzero(tmp_path, capsys):
    (tmp_path / "stats").mkdir()
    funnel = build_funnel(_counts(12, 8))
    (tmp_path / "stats" / "funnel.json").write_text(json.dumps(funnel))
    capsys.readouterr()
    assert main(["stats", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAILED identity records: records_read 12 != " in out
    assert "off by +3" in out
    funnel = build_funnel(_counts(9, 8))
    (tmp_path / "stats" / "funnel.json").write_text(json.dumps(funnel))
    assert main(["stats", str(tmp_path)]) == 0
    assert "FAILED" not in capsys.readouterr().out


def test_a_real_build_measures_and_satisfies_every_identity(tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    good = [f"{SITE}/a0.jpg", f"{SITE}/a1.jpg"]
    # b: one good image and one too small; with two required per page the page is dropped,
    # and its stored image comes back as an image reject (document_dropped).
    weak = [f"{SITE}/b0.jpg", f"{SITE}/b1.jpg"]
    records = [
        {"url": f"{SITE}/a", "body": page("A", [PROSE] * 3, good)},
        {"url": f"{SITE}/b", "body": page("B", [PROSE] * 3, weak)},
        {"url": good[0], "body": image_bytes(300, 200, "JPEG", 1), "ctype": "image/jpeg"},
        {"url": good[1], "body": image_bytes(300, 220, "JPEG", 2), "ctype": "image/jpeg"},
        {"url": weak[0], "body": image_bytes(300, 240, "JPEG", 3), "ctype": "image/jpeg"},
        {"url": weak[1], "body": image_bytes(20, 20, "JPEG", 4), "ctype": "image/jpeg"},
        {"type": "warcinfo"},
    ]
    (d / "a.warc.gz").write_bytes(warc_bytes(records))
    cut = warc_bytes([{"url": f"{SITE}/t{i}", "body": page("T", [PROSE], [])}
                      for i in range(3)])
    (d / "b.warc.gz").write_bytes(cut[:-50])
    cfg = d / "cfg.yaml"
    cfg.write_text(NO_TEXT_CURATION_YAML + "images:\n  min_per_document: 2\n")
    out = tmp_path / "out"
    assert main(["build", str(cfg), "--input", str(d / "*.warc.gz"), "--output", str(out),
                 "--no-progress"]) == 0
    funnel = json.loads((out / "stats" / "funnel.json").read_text())
    assert {c["identity"]: (c["checked"], c["ok"]) for c in funnel["checks"]} == {
        "records": (True, True), "documents": (True, True), "images": (True, True)}
    t = funnel["totals"]
    assert t["image_requests"] == 4 and t["images_stored"] == 2 and t["images_rejected"] == 2
    image = next(s for s in funnel["stages"] if s["stage"] == "image")
    assert image["rejected_by_reason"]["min_images/v1:document_dropped"] == 1
    inputs = json.loads((out / "stats" / "inputs.json").read_text())
    assert inputs["records_read"] == t["records_read"]
    assert [p.rsplit("/", 1)[-1] for p in inputs["truncated"]] == ["b.warc.gz"]
    capsys.readouterr()
    assert main(["stats", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "identity images: image_requests == images_stored + images_rejected  ok (4)" in printed
    assert "1 of 2 files ended early: " in printed


def test_a_build_whose_identity_breaks_fails_loudly():
    from pipeline.run import BuildFailed, check_identities

    check_identities(build_funnel(_counts(9, 8)))  # holds: no error
    with pytest.raises(BuildFailed, match=r"records \(records_read != .*10 != 9"):
        check_identities(build_funnel(_counts(10, 8)))
