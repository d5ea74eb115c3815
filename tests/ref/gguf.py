"""Independent GGUF reader (numpy memmap), written from the GGUF format spec; shares no
code with r1.

Layout (little-endian): magic "GGUF", u32 version (2 or 3), u64 n_tensors, u64 n_kv;
n_kv key/value pairs (string key, u32 value type, value); n_tensors tensor infos (string
name, u32 n_dims, u64 dims[n_dims] innermost first, u32 ggml type, u64 offset relative to
the data section); the data section starts at the next multiple of general.alignment
(default 32). Strings are u64 length + bytes (no terminator).

Dequantised types: F32 (0), F16 (1), Q8_0 (8: blocks of 32 = f16 scale + 32 int8),
BF16 (30). tensor(name) returns float64 with numpy shape = reversed GGUF dims
(row-major: last axis is the GGUF innermost dimension).
"""
import struct
import numpy as np

_SCALAR = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?',
           10: '<Q', 11: '<q', 12: '<d'}


class GGUFError(Exception):
    pass


class GGUF:
    """Opens path; .kv (dict key -> value), .tensors (dict name -> (type, dims, offset))."""

    def __init__(self, path):
        self.path = path
        self.buf = np.memmap(path, dtype=np.uint8, mode='r')
        self.pos = 0
        if bytes(self.buf[:4]) != b'GGUF':
            raise GGUFError('%s: not a GGUF file (bad magic)' % path)
        self.pos = 4
        version = self._u('<I')
        if version not in (2, 3):
            raise GGUFError('%s: unsupported GGUF version %d' % (path, version))
        n_tensors = self._u('<Q')
        n_kv = self._u('<Q')
        self.kv = {}
        for _ in range(n_kv):
            key = self._str()
            self.kv[key] = self._value(self._u('<I'))
        self.tensors = {}
        for _ in range(n_tensors):
            name = self._str()
            nd = self._u('<I')
            dims = [self._u('<Q') for _ in range(nd)]
            typ = self._u('<I')
            off = self._u('<Q')
            self.tensors[name] = (typ, dims, off)
        align = int(self.kv.get('general.alignment', 32))
        self.data = (self.pos + align - 1) // align * align

    def _u(self, fmt):
        n = struct.calcsize(fmt)
        if self.pos + n > len(self.buf):
            raise GGUFError('%s: truncated header' % self.path)
        v = struct.unpack(fmt, bytes(self.buf[self.pos:self.pos + n]))[0]
        self.pos += n
        return v

    def _str(self):
        n = self._u('<Q')
        if self.pos + n > len(self.buf):
            raise GGUFError('%s: truncated string' % self.path)
        s = bytes(self.buf[self.pos:self.pos + n]).decode('utf-8', 'replace')
        self.pos += n
        return s

    def _value(self, t):
        if t in _SCALAR:
            return self._u(_SCALAR[t])
        if t == 8:
            return self._str()
        if t == 9:
            et = self._u('<I')
            n = self._u('<Q')
            if et in _SCALAR and et != 7:   # fast path for numeric arrays
                dt = np.dtype(_SCALAR[et])
                a = np.frombuffer(bytes(self.buf[self.pos:self.pos + n * dt.itemsize]), dtype=dt)
                self.pos += n * dt.itemsize
                return a
            return [self._value(et) for _ in range(n)]
        raise GGUFError('%s: unknown value type %d' % (self.path, t))

    def has(self, name):
        return name in self.tensors

    def tensor(self, name):
        """Dequantised float64 array, numpy shape = reversed GGUF dims."""
        if name not in self.tensors:
            raise GGUFError('%s: no tensor %s' % (self.path, name))
        typ, dims, off = self.tensors[name]
        n = int(np.prod(dims)) if dims else 1
        start = self.data + off
        shape = tuple(reversed(dims))
        if typ == 0:
            a = np.frombuffer(self.buf, dtype='<f4', count=n, offset=start)
        elif typ == 1:
            a = np.frombuffer(self.buf, dtype='<f2', count=n, offset=start)
        elif typ == 30:
            raw = np.frombuffer(self.buf, dtype='<u2', count=n, offset=start)
            a = (raw.astype(np.uint32) << 16).view(np.float32)
        elif typ == 8:
            if n % 32:
                raise GGUFError('%s: %s: Q8_0 size not a multiple of 32' % (self.path, name))
            blk = np.frombuffer(self.buf, dtype=np.uint8, count=n // 32 * 34, offset=start).reshape(-1, 34)
            d = blk[:, :2].copy().view('<f2').astype(np.float64)
            q = blk[:, 2:].copy().view(np.int8).astype(np.float64)
            a = (q * d).reshape(-1)
        else:
            raise GGUFError('%s: %s: unsupported ggml type %d' % (self.path, name, typ))
        return a.astype(np.float64).reshape(shape)


if __name__ == '__main__':
    import sys
    g = GGUF(sys.argv[1])
    for k, v in g.kv.items():
        s = repr(v)
        print('%s = %s' % (k, s if len(s) < 80 else s[:77] + '...'))
    for name, (t, dims, off) in g.tensors.items():
        print('%-32s type %2d dims %s' % (name, t, dims))
