"""The build's work folder (image packs, spool, run files) on rerun and at the end."""

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
    """What a build killed midway leaves: image packs, spool and run files, a temporary
    shard beside a finished one, and the previous run's manifest."""
    out = tmp_path / "out"
    files = {
        "pack": _touch(out / "_work/images/1.pack", b"jpeg"),
        "embedded": _touch(out / "_work/embedded/2.pack", b"jpeg"),
        "spool": _touch(out / "_work/spool/1.spool"),
        "run": _touch(out / "_work/shuffle/Dedup/p003-1.run"),
        "shard": _touch(out / "shards/interleaved/interleaved-00000-000.tar"),
        "shard_tmp": _touch(out / ("shards/interleaved/interleaved-00001-000.tar.tmp-" + "0" * 32)),
    }
    _touch(out / "manifest.json", json.dumps({"config_hash": "h1"}).encode())
    return out, files


def test_a_rerun_clears_the_work_folder_and_temporaries_and_keeps_shards(killed_run):
    out, f = killed_run
    prepare_output(str(out), "h1", overwrite=False)
    # every work file is named at random per bundle: nothing of the killed run is used again
    assert not (out / "_work").exists()
    assert not f["shard_tmp"].exists()
    assert f["shard"].exists() and (out / "manifest.json").exists()


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
