"""Checked images parked in per-bundle packs between the image stage and the shard writer."""

import threading

import pytest

from pipeline.outputs.image_store import DamagedImage, ImageStore, member_bytes, parse_ref


def test_images_go_to_one_pack_once_each_and_read_back(tmp_path):
    store = ImageStore(str(tmp_path / "_work" / "images"))
    a = store.put(b"\xff\xd8 one picture")
    assert store.put(b"\xff\xd8 one picture") == a  # written once within the pack
    b = store.put(b"\xff\xd8 another picture")
    store.close()
    assert a != b
    assert member_bytes(a) == b"\xff\xd8 one picture"
    assert member_bytes(b) == b"\xff\xd8 another picture"
    assert member_bytes(b"inline bytes") == b"inline bytes"
    packs = list((tmp_path / "_work" / "images").iterdir())
    assert len(packs) == 1 and packs[0].stat().st_size == 2 * len(b"\xff\xd8 one picture") + 4


def test_a_full_pack_is_closed_and_the_next_image_starts_another(tmp_path):
    store = ImageStore(str(tmp_path), pack_bytes=10)
    refs = [store.put(bytes([i]) * 8) for i in range(3)]
    store.close()
    assert len({parse_ref(r)[0] for r in refs}) == 2  # 8 bytes fit, 16 pass the limit
    assert [member_bytes(r) for r in refs] == [bytes([i]) * 8 for i in range(3)]


def test_threads_putting_at_once_get_their_own_bytes_back(tmp_path):
    store = ImageStore(str(tmp_path))
    refs: dict[int, str] = {}

    def put(i: int) -> None:
        refs[i] = store.put(f"picture {i} ".encode() * (i + 1))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert all(member_bytes(refs[i]) == f"picture {i} ".encode() * (i + 1) for i in range(32))


def test_a_damaged_parked_image_is_refused_not_written(tmp_path):
    store = ImageStore(str(tmp_path))
    ref = store.put(b"\xff\xd8 full picture")
    store.close()
    path = parse_ref(ref)[0]
    with open(path, "wb") as fh:  # what a crash before the disk flush can leave
        fh.write(b"\xff\xd8 full")
    with pytest.raises(DamagedImage, match="rerun"):
        member_bytes(ref)


def test_a_string_that_is_not_a_reference_is_refused():
    with pytest.raises(ValueError, match="not a parked-image reference"):
        member_bytes("/some/where/picture.jpg")
