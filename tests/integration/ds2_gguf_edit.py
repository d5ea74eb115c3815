#!/usr/bin/python3
"""ds2_gguf_edit.py — rewrites a GGUF file with edits, to make the bad inputs of
ds2_badinput.sh from a good deepseek2 file (any F32/F16/BF16/Q8_0 file).

Usage: ds2_gguf_edit.py IN.gguf OUT.gguf EDIT...
  set:KEY=INT        set an integer key (keeps its GGUF type; new keys are u32)
  drop:TENSOR        remove a tensor
  drop_key:KEY       remove a metadata key
  reshape:TENSOR=A,B,C  give a tensor new dims (same element count)
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ref"))
from deepseek2_ds2 import Gguf  # noqa: E402

_FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def _str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _val(t, v):
    if t == 8:
        return _str(v)
    if isinstance(t, tuple):
        et = t[1]
        return struct.pack("<IQ", et, len(v)) + b"".join(_val(et, e) for e in v)
    return struct.pack(_FMT[t], v)


def write(path, kv, kv_type, tensors, align=32):
    out = bytearray(struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(kv)))
    for k, v in kv.items():
        t = kv_type[k]
        out += _str(k) + struct.pack("<I", 9 if isinstance(t, tuple) else t) + _val(t, v)
    off = 0
    offs = []
    for name, ne, typ, data in tensors:
        offs.append(off)
        out += _str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", typ, off)
        off += (len(data) + align - 1) // align * align
    out += b"\0" * ((-len(out)) % align)
    for (name, ne, typ, data), o in zip(tensors, offs):
        out += data + b"\0" * ((-len(data)) % align)
    open(path, "wb").write(out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    g = Gguf(sys.argv[1])
    kv, kv_type = dict(g.kv), dict(g.kv_type)
    tensors = [[n, list(ne), typ, g.raw(n)] for n, (ne, typ, _) in g.tensors.items()]
    for edit in sys.argv[3:]:
        op, arg = edit.split(":", 1)
        if op == "set":
            k, v = arg.split("=")
            kv[k] = int(v)
            kv_type.setdefault(k, 4)
        elif op == "drop_key":
            kv.pop(arg, None)
        elif op == "drop":
            tensors = [t for t in tensors if t[0] != arg]
        elif op == "reshape":
            n, dims = arg.split("=")
            for t in tensors:
                if t[0] == n:
                    t[1] = [int(d) for d in dims.split(",")]
        else:
            sys.exit(f"unknown edit {edit}")
    write(sys.argv[2], kv, kv_type, tensors, int(kv.get("general.alignment", 32)))


if __name__ == "__main__":
    main()
