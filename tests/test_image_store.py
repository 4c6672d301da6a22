"""Checked images parked by content hash between the image stage and the shard writer."""

import pytest

from pipeline.outputs.image_store import DamagedImage, ImageStore, member_bytes


def test_same_bytes_park_once_and_read_back(tmp_path):
    store = ImageStore(str(tmp_path / "_work" / "images"))
    a = store.put(b"\xff\xd8 one picture")
    assert store.put(b"\xff\xd8 one picture") == a
    b = store.put(b"\xff\xd8 another picture")
    assert a != b
    assert member_bytes(a) == b"\xff\xd8 one picture"
    assert member_bytes(b"inline bytes") == b"inline bytes"
    assert len(list((tmp_path / "_work" / "images").rglob("*.jpg"))) == 2


def test_a_damaged_parked_image_is_refused_not_written(tmp_path):
    store = ImageStore(str(tmp_path))
    path = store.put(b"\xff\xd8 full picture")
    with open(path, "wb") as fh:  # what a crash before the disk flush can leave
        fh.write(b"\xff\xd8 full")
    with pytest.raises(DamagedImage, match="rerun"):
        member_bytes(path)
