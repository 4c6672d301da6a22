"""The build's work folder (parked images, spool, run files) on rerun and at the end."""

from __future__ import annotations

import json

import pytest

from pipeline.config import ConfigError
from pipeline.run import prepare_output, remove_work


def _touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def killed_run(tmp_path):
    """What a build killed midway leaves: parked images, spool and run files, a temporary
    shard beside a finished one, and the previous run's manifest."""
    out = tmp_path / "out"
    files = {
        "image": _touch(out / "_work/images/ab/ab12.jpg", b"jpeg"),
        "image_tmp": _touch(out / ("_work/images/cd/cd34.jpg.tmp-" + "1" * 32)),
        "spool": _touch(out / "_work/spool/1.spool"),
        "run": _touch(out / "_work/shuffle/Dedup/p003-1.run"),
        "shard": _touch(out / "shards/interleaved/interleaved-00000-000.tar"),
        "shard_tmp": _touch(out / ("shards/interleaved/interleaved-00001-000.tar.tmp-" + "0" * 32)),
    }
    _touch(out / "manifest.json", json.dumps({"config_hash": "h1"}).encode())
    return out, files


def test_a_rerun_clears_spool_runs_and_temporaries_and_keeps_parked_images(killed_run):
    out, f = killed_run
    prepare_output(str(out), "h1", overwrite=False)
    assert not f["spool"].exists() and not f["run"].exists() and not f["shard_tmp"].exists()
    # parked images are named by content: the rerun finds them instead of checking again
    assert f["image"].read_bytes() == b"jpeg"
    assert f["shard"].exists()


def test_another_config_is_refused_and_overwrite_clears_everything(killed_run):
    out, f = killed_run
    with pytest.raises(ConfigError, match="another config"):
        prepare_output(str(out), "h2", overwrite=False)
    assert f["spool"].exists()  # refused before anything was deleted
    prepare_output(str(out), "h2", overwrite=True)
    assert not (out / "_work").exists()
    assert not f["shard"].exists() and not (out / "manifest.json").exists()


def test_remove_work_removes_the_whole_tree(killed_run):
    out, f = killed_run
    remove_work(str(out))
    assert not (out / "_work").exists()
    assert f["shard"].exists()
    remove_work(str(out))  # nothing left to remove is not an error
