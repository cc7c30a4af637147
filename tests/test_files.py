"""Reading and writing safely (aereport.files): only regular files are read, within this machine's
memory; every write is whole or nothing, honours the umask, and never replaces what is not a file."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

from aereport import AEReportError
from aereport.data import read_idx
from aereport.files import (as_path, atomic_path, check_memory, make_folder, read_text, regular_file, write_bytes,
                            write_json)


def device_node(path):
    """A private node of /dev/full's kind (char 1,7: every write fails with ENOSPC), never the
    system's own; needs root (CI runs as root)."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("mknod needs root")
    return path


@pytest.mark.parametrize("value", ["", "   ", None, 5, b"/tmp"])
def test_what_is_not_a_path_is_refused(value):
    with pytest.raises(AEReportError, match=r"run must be a path \(a non-empty str or os.PathLike\). Received: run="):
        as_path(value, "run")


def test_a_named_pipe_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "train-images-idx3-ubyte.gz"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(AEReportError, match=r"train-images-idx3-ubyte.gz: is a named pipe; expected an IDX file"):
        read_idx(fifo)
    assert time.monotonic() - start < 1


def test_devices_folders_and_binary_text_are_refused(tmp_path):
    node = device_node(tmp_path / "full")
    with pytest.raises(AEReportError, match="full: is a device; expected a labels file"):
        regular_file(node, "a labels file")
    with pytest.raises(AEReportError, match="is a folder"):
        regular_file(tmp_path)
    (tmp_path / "labels.txt").write_bytes(b"a.png 1\n\xff\xfe\x00binary")
    with pytest.raises(AEReportError, match=r"labels.txt: not UTF-8 text \(byte 8 is 0xff\)"):
        read_text(tmp_path / "labels.txt")


def test_a_claim_of_more_memory_than_there_is_is_refused():
    with pytest.raises(AEReportError, match=r"huge.npy: needs 4.61e\+18 bytes of memory for an array, more than "
                                            r"this machine has available .*Received: nbytes=4611686018427387904"):
        check_memory(2 ** 62, "huge.npy", "an array")
    check_memory(1024, "small.npy")  # what fits is let through


def test_a_write_never_replaces_a_device_or_a_link(tmp_path):
    node = device_node(tmp_path / "full")
    with pytest.raises(AEReportError, match="full: is a device; refused to replace it with a file"):
        write_bytes(node, b"<html></html>")
    assert stat.S_ISCHR(os.lstat(node).st_mode)  # still the device node
    (tmp_path / "mine.txt").write_text("keep")
    (tmp_path / "link.html").symlink_to(tmp_path / "mine.txt")
    with pytest.raises(AEReportError, match="link.html: is a link; refused to replace it"):
        write_bytes(tmp_path / "link.html", b"x")
    assert (tmp_path / "link.html").is_symlink() and (tmp_path / "mine.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "link.html", "mine.txt"]  # no temporary left


WRITE_UNDER_A_SIZE_LIMIT = """
import resource, signal, sys
from aereport import AEReportError
from aereport.files import write_bytes
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_bytes(sys.argv[1], b"x" * 100_000, "the report")
except AEReportError as exc:
    print(exc)
    sys.exit(2)
"""


def test_a_target_that_cannot_take_every_byte_fails_loudly_and_leaves_the_old_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("the old report")
    out = subprocess.run([sys.executable, "-c", WRITE_UNDER_A_SIZE_LIMIT, str(target)], capture_output=True, text=True)
    assert out.returncode == 2 and "report.html: cannot write the report (File too large); nothing was written" in out.stdout
    assert target.read_text() == "the old report" and os.listdir(tmp_path) == ["report.html"]


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "layouts.parquet"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


MODES = """
import os, sys
os.umask(int(sys.argv[2], 8))
from aereport.files import make_folder, write_json
folder = make_folder(os.path.join(sys.argv[1], "run"))
write_json(folder / "config.json", {})
print(oct(os.stat(folder).st_mode & 0o777), oct(os.stat(folder / "config.json").st_mode & 0o777))
"""


@pytest.mark.parametrize("umask, modes", [("022", "0o755 0o644"), ("077", "0o700 0o600"), ("002", "0o775 0o664")])
def test_files_and_folders_honour_the_umask(tmp_path, umask, modes):
    out = subprocess.run([sys.executable, "-c", MODES, str(tmp_path / umask), umask], capture_output=True, text=True)
    assert out.stdout.split() == modes.split(), out.stderr


def test_a_folder_where_a_file_is(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(AEReportError, match="taken: exists and is not a folder"):
        make_folder(tmp_path / "taken")
    write_json(tmp_path / "ok.json", {"a": 1})
    assert (tmp_path / "ok.json").read_text().startswith("{")
