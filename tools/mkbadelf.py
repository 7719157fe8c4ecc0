#!/usr/bin/env python3
"""Write malformed copies of a good ELF executable, for the bad-input tests.

    mkbadelf.py GOOD.elf OUTDIR

Each output is GOOD.elf with one defect: bad-truncated (cut inside its
program headers), bad-machine (e_machine x86-64), bad-overlap (its second
PT_LOAD moved onto its first), bad-huge (its last PT_LOAD's memory size
1 GiB) and bad-entry (entry point 0x10, in no segment). Standard library
only.
"""
import struct
import sys

PT_LOAD = 1


def loads(elf):
    """Offsets of the PT_LOAD program headers."""
    phoff, = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    offs = [phoff + i * phentsize for i in range(phnum)]
    return [o for o in offs if struct.unpack_from("<I", elf, o)[0] == PT_LOAD]


def variants(good):
    ph = loads(good)
    phoff, = struct.unpack_from("<Q", good, 32)
    out = {"bad-truncated": bytes(good[:phoff + 20])}
    e = bytearray(good)
    struct.pack_into("<H", e, 18, 62)
    out["bad-machine"] = bytes(e)
    e = bytearray(good)
    first_vaddr, = struct.unpack_from("<Q", good, ph[0] + 16)
    struct.pack_into("<Q", e, ph[1] + 16, first_vaddr)
    out["bad-overlap"] = bytes(e)
    e = bytearray(good)
    struct.pack_into("<Q", e, ph[-1] + 40, 1 << 30)
    out["bad-huge"] = bytes(e)
    e = bytearray(good)
    struct.pack_into("<Q", e, 24, 0x10)
    out["bad-entry"] = bytes(e)
    return out


def main():
    good = open(sys.argv[1], "rb").read()
    for name, data in variants(good).items():
        with open(f"{sys.argv[2]}/{name}", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
