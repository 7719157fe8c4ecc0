#!/usr/bin/env python3
"""Pack boot modules into a newc cpio archive with page-aligned file data.

    mkinitrd.py OUT.cpio NAME=PATH [NAME=PATH ...]

newc pads file data only to 4 bytes; minnow wants every module's data to
start on a 4 KiB page so that the kernel can give init one Frame capability
per module. Before each module this writes, when needed, a padding entry
(a regular file named ".pad-<n>") whose size moves the next module's data to
a page boundary. Any cpio reader sees the modules unchanged. The output is
reproducible: inode numbers count up from 1, times are 0.
"""
import sys

PAGE = 4096
MAGIC = b"070701"


def align(n, to):
    return (n + to - 1) // to * to


def header_len(name):
    return align(110 + len(name) + 1, 4)


def entry(ino, name, data, mode=0o100644):
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    head = MAGIC + b"".join(b"%08X" % f for f in fields) + name + b"\0"
    head += b"\0" * (header_len(name) - len(head))
    return head + data + b"\0" * (align(len(data), 4) - len(data))


def padding_for(offset, pad_name, next_name):
    """Data size of a pad entry at `offset` after which next_name's data is page aligned."""
    return (-(offset + header_len(pad_name) + header_len(next_name))) % PAGE


def pack(modules):
    out, ino = bytearray(), 1
    for n, (name, data) in enumerate(modules):
        if (len(out) + header_len(name)) % PAGE != 0:
            pad_name = b".pad-%d" % n
            out += entry(ino, pad_name, b"\0" * padding_for(len(out), pad_name, name))
            ino += 1
        assert (len(out) + header_len(name)) % PAGE == 0
        out += entry(ino, name, data, 0o100755)
        ino += 1
    out += entry(ino, b"TRAILER!!!", b"", 0)
    return bytes(out)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    modules = []
    for spec in argv[1:]:
        name, _, path = spec.partition("=")
        with open(path, "rb") as f:
            modules.append((name.encode(), f.read()))
    with open(argv[0], "wb") as f:
        f.write(pack(modules))


if __name__ == "__main__":
    main(sys.argv[1:])
