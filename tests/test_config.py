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
