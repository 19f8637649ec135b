"""Client of weft's pack feed: framed little-endian int32 arrays over a unix socket, TCP, or a file.

Handshake (worker -> feed): int32 [MAGIC, rank, world_size, stream (0 train, 1 validation)].
Frame (feed -> worker):     int32 header [MAGIC, kind, L, C, epoch, index], then for kind PACK
                            input_ids[L], labels[L], cumulative_len[C], position_ids[L].
kind END closes the stream (the sampler ran out: total steps or epochs reached).
"""
import queue
import socket
import struct
import threading
import time

import numpy as np

MAGIC = 0x54464557  # b'WEFT' read as a little-endian int32
PACK, END = 1, 2
HEADER = struct.Struct('<6i')


class Pack:
    __slots__ = ('input_ids', 'labels', 'cumulative_len', 'position_ids', 'epoch', 'index')

    def __init__(self, input_ids, labels, cumulative_len, position_ids, epoch, index):
        self.input_ids, self.labels = input_ids, labels
        self.cumulative_len, self.position_ids = cumulative_len, position_ids
        self.epoch, self.index = epoch, index


def _read_exact(f, n, where):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = f.readinto(view[got:])
        if not k:
            if got == 0 and n == HEADER.size:
                return None
            raise EOFError(f'{where}: feed closed mid-frame ({got} of {n} bytes)')
        got += k
    return buf


def read_frames(f, where='feed'):
    """Yield `Pack`s from a binary stream until END (or a clean EOF between frames)."""
    while True:
        hb = _read_exact(f, HEADER.size, where)
        if hb is None:
            return
        magic, kind, length, ncum, epoch, index = HEADER.unpack(hb)
        if magic != MAGIC:
            raise ValueError(f'{where}: bad frame magic {magic:#x} (not a weft feed?)')
        if kind == END:
            return
        if kind != PACK or length < 0 or ncum < 2:
            raise ValueError(f'{where}: bad frame header kind={kind} L={length} C={ncum}')
        body = _read_exact(f, 4 * (3 * length + ncum), where)
        a = np.frombuffer(body, dtype='<i4')
        yield Pack(a[:length], a[length:2 * length], a[2 * length:2 * length + ncum],
                   a[2 * length + ncum:], epoch, index)


def encode_frame(p_input_ids, labels, cumulative_len, position_ids, epoch=0, index=0):
    """One PACK frame as bytes (used by the benchmark replay and tests)."""
    arrs = [np.asarray(x, dtype='<i4') for x in (p_input_ids, labels, cumulative_len, position_ids)]
    head = HEADER.pack(MAGIC, PACK, len(arrs[0]), len(arrs[2]), epoch, index)
    return head + b''.join(a.tobytes() for a in arrs)


def end_frame():
    return HEADER.pack(MAGIC, END, 0, 0, 0, 0)


def open_feed(address, rank, world, stream=0):
    """Connect to `unix:/path`, `tcp:host:port` or `file:/path` (a recorded stream, for replay)."""
    if address.startswith('file:'):  # `{rank}` in the path picks a per-rank recording
        return open(address[5:].replace('{rank}', str(rank)), 'rb')
    if address.startswith('unix:'):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(address[5:])
    elif address.startswith('tcp:'):
        host, port = address[4:].rsplit(':', 1)
        s = socket.create_connection((host, int(port)))
    else:
        raise ValueError(f'feed address {address!r}: expected unix:PATH, tcp:HOST:PORT or file:PATH')
    s.sendall(struct.pack('<4i', MAGIC, rank, world, stream))
    return s.makefile('rb', buffering=1 << 20)


class Prefetcher:
    """Reads frames on a background thread into a bounded queue, so a step rarely waits on data."""

    def __init__(self, stream, depth, where='feed'):
        self.q = queue.Queue(maxsize=max(1, depth))
        self.where = where
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        try:
            for p in read_frames(stream, self.where):
                self.q.put(p)
            self.q.put(None)
        except BaseException as e:  # surfaced to the training loop on its next get()
            self.q.put(e)

    def take(self, n):
        """The next n packs (fewer at the end of the stream) and the seconds spent waiting."""
        out, t0 = [], time.perf_counter()
        while len(out) < n:
            item = self.q.get()
            if item is None:
                self.q.put(None)
                break
            if isinstance(item, BaseException):
                raise RuntimeError(f'{self.where}: {item}') from item
            out.append(item)
        return out, time.perf_counter() - t0
