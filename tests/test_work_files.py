"""Work files: appended per bundle, read back through kept-open handles."""

from pipeline.outputs.work_files import Appender, OpenFiles


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


def test_appends_land_in_one_file_until_closed_then_another(tmp_path):
    out = Appender(str(tmp_path), ".pack")
    a = out.append(b"first")
    b = out.append(b"second")
    out.close()
    c = out.append(b"third")
    out.close()
    assert a[0] == b[0] != c[0] and (a[1], b[1], c[1]) == (0, 5, 0)
    with OpenFiles() as files:
        assert files.read(b[0], b[1], 6) == b"second" and files.read(c[0], 0, 5) == b"third"
