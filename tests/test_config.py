import pytest

from pipeline.cli import main
from pipeline.config import ConfigError, config_hash, load_config


def test_preset_defaults_are_flamingos():
    cfg = load_config()
    assert cfg["preset"] == "m3w"
    assert cfg["images"]["min_side"] == 64 and cfg["images"]["max_aspect"] == 3.0
    assert cfg["images"]["min_per_document"] == 1
    assert cfg["sources"]["interleaved"]["weight"] == 1.0


def test_user_config_overrides_and_is_validated(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("images:\n  min_side: 150\n  max_aspect: 2\nshards:\n  max_samples: 10\n")
    cfg = load_config(str(p))
    assert cfg["images"]["min_side"] == 150 and cfg["images"]["max_aspect"] == 2.0
    assert config_hash(cfg) != config_hash(load_config())
    assert config_hash(cfg) == config_hash(load_config(str(p)))
    for bad, msg in [("nope: 1\n", "unknown config key 'nope'"),
                     ("images:\n  min_side: big\n", "must be int"),
                     ("images: 3\n", "must be a mapping"),
                     ("preset: nosuch\n", "unknown preset"),
                     ("extract:\n  backend: magic\n", "extract.backend")]:
        p.write_text(bad)
        with pytest.raises(ConfigError, match=msg):
            load_config(str(p))


def test_cli_reports_usage_errors_clearly(tmp_path, capsys):
    assert main(["build", "--input", str(tmp_path / "none*.warc.gz"), "--output",
                 str(tmp_path / "o")]) == 2
    assert "no file matches" in capsys.readouterr().err
    assert main(["stats", str(tmp_path)]) == 2
    assert "no stats/funnel.json" in capsys.readouterr().out


def test_repeated_input_and_eval_flags_add_up():
    from pipeline.cli import parser

    args = parser().parse_args([
        "build", "--input", "a.warc.gz", "--input", "b.warc.gz", "c.warc.gz", "--output", "o",
        "--eval-texts", "t1.txt", "--eval-texts", "t2.txt",
        "--eval-images", "i1", "--eval-images", "i2"])
    assert args.input == ["a.warc.gz", "b.warc.gz", "c.warc.gz"]
    assert args.eval_texts == ["t1.txt", "t2.txt"]
    assert args.eval_images == ["i1", "i2"]


def test_a_build_given_56_input_flags_reads_all_56_files(tmp_path, capsys):
    import json

    from tests.warcgen import PROSE, page, warc_bytes

    argv = ["build", "--output", str(tmp_path / "out"), "--no-progress"]
    for i in range(56):
        path = tmp_path / f"part-{i:02d}.warc.gz"
        body = page(f"Page {i}", [f"{PROSE} Number {i}."], [])
        path.write_bytes(warc_bytes([{"url": f"http://example.com/{i}", "body": body}]))
        argv += ["--input", str(path)]
    assert main(argv) == 0
    funnel = json.loads((tmp_path / "out" / "stats" / "funnel.json").read_text())
    assert funnel["totals"]["html_records"] == 56


@pytest.mark.parametrize("bad, key", [
    ("filters:\n  document:\n    gopher_quality: {min_words: -5}\n",
     "filters.document.gopher_quality.min_words"),
    ("filters:\n  document:\n    language: {min_score: 1.5}\n",
     "filters.document.language.min_score"),
    ("images:\n  jpeg_quality: 101\n", "images.jpeg_quality"),
    ("dedup:\n  near: {bands: 0}\n", "dedup.near.bands"),
    ("dedup:\n  images: {max_distance: 65}\n", "dedup.images.max_distance"),
    ("fetch:\n  timeout: 0\n", "fetch.timeout"),
    ("errors:\n  max_error_rate: 2\n", "errors.max_error_rate"),
    ("sources:\n  interleaved: {weight: -1}\n", "sources.interleaved.weight"),
    ("images:\n  max_aspect: .nan\n", "images.max_aspect"),
])
def test_out_of_range_values_are_refused_naming_key_value_and_range(tmp_path, bad, key):
    p = tmp_path / "c.yaml"
    p.write_text(bad)
    with pytest.raises(ConfigError) as err:
        load_config(str(p))
    msg = str(err.value)
    assert repr(key) in msg
    assert "range" in msg or "finite" in msg


def test_both_presets_pass_their_own_range_checks(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("preset: obelics\n")
    assert load_config(str(p))["preset"] == "obelics"
    assert load_config()["preset"] == "m3w"


def test_commands_print_no_notice_about_optional_cloud_libraries():
    import subprocess
    import sys

    code = ("import logging, pipeline.build, pipeline.stages.read\n"
            "logging.warning('a real warning still shows')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "apitools" not in res.stderr
    assert "a real warning still shows" in res.stderr
