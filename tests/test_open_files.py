"""Read handles kept open between reads of parked values and stored records."""

from pipeline.outputs.open_files import OpenFiles


def test_reads_come_from_the_right_file_and_at_most_keep_stay_open(tmp_path):
    paths = []
    for i in range(5):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(bytes([i]) * 10 + b"tail%d" % i)
        paths.append(str(p))
    with OpenFiles(keep=2) as files:
        for _ in range(2):  # the second pass reopens what was evicted
            for i, p in enumerate(paths):
                assert files.read(p, 10, 5) == b"tail%d" % i
                assert files.read(p, 3, 2) == bytes([i]) * 2
                assert len(files._files) <= 2
        held = list(files._files.values())
    assert not files._files and all(fh.closed for fh in held)  # closed on leaving
