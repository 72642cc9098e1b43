"""SocketReader / SocketWriter on a real socketpair, for both implementations
(fasthttp:c and fasthttp:pure), compared with what
socket.makefile('rb') / ('wb', 0) give for the same input."""
import array
import io
import socket
import threading
import time

import pytest

from fasthttp.errors import HeadError

TIMEOUT = 5.0


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.settimeout(TIMEOUT)
    b.settimeout(TIMEOUT)
    yield a, b
    a.close()
    b.close()


def _sender(sock, chunks, delay):
    def run():
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                time.sleep(delay)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def run_ops(make_file, chunks, ops, delay=0.0):
    """Send `chunks` (then EOF) into a fresh socketpair and apply each op to a
    file made by make_file(sock); returns the list of results."""
    a, b = socket.socketpair()
    a.settimeout(TIMEOUT)
    b.settimeout(TIMEOUT)
    try:
        t = _sender(b, chunks, delay)
        f = make_file(a)
        out = []
        for op in ops:
            try:
                out.append(op(f))
            except Exception as exc:        # compared as type
                out.append(type(exc).__name__)
        t.join(TIMEOUT)
        return out
    finally:
        a.close()
        b.close()


def makefile(sock):
    return sock.makefile("rb")


def same_as_makefile(impl, chunks, ops, delay=0.0):
    ours = run_ops(impl.SocketReader, chunks, ops, delay)
    ref = run_ops(makefile, chunks, ops, delay)
    assert ours == ref
    return ours


LINES = [b"first line\r\n", b"second\n", b"\n", b"no newline at end"]
BIG = bytes(range(256)) * 200           # 51200 bytes: several recvs


def test_readline_without_limit(impl):
    out = same_as_makefile(impl, LINES, [lambda f: f.readline()] * 6)
    assert out == LINES + [b"", b""]


def test_readline_split_across_recvs(impl):
    chunks = [b"ab", b"c\r", b"\nde", b"f\n", b"gh"]
    out = same_as_makefile(impl, chunks, [lambda f: f.readline()] * 4, delay=0.01)
    assert out == [b"abc\r\n", b"def\n", b"gh", b""]


@pytest.mark.parametrize("limit", [0, 1, 3, 5, 6, 100, -1, None])
def test_readline_with_limit(impl, limit):
    same_as_makefile(impl, [b"hello\nworld\n"], [lambda f: f.readline(limit)] * 5)


def test_readline_long_line(impl):
    line = b"x" * 70000 + b"\n"
    out = same_as_makefile(impl, [line, b"tail"],
                           [lambda f: f.readline(65537), lambda f: f.readline(),
                            lambda f: f.readline()])
    assert out[0] == line[:65537]


def test_read_n_spanning_recvs(impl):
    chunks = [BIG[i:i + 3000] for i in range(0, len(BIG), 3000)]
    out = same_as_makefile(impl, chunks,
                           [lambda f: f.read(10), lambda f: f.read(40000),
                            lambda f: f.read(20000), lambda f: f.read(5)],
                           delay=0.002)
    assert b"".join(out) == BIG


def test_read_to_eof(impl):
    out = same_as_makefile(impl, [BIG[:5000], BIG[5000:]],
                           [lambda f: f.readline(), lambda f: f.read(), lambda f: f.read()],
                           delay=0.01)
    assert out[0] + out[1] == BIG and out[2] == b""


def test_read_none_and_zero(impl):
    same_as_makefile(impl, [b"abcdef"],
                     [lambda f: f.read(0), lambda f: f.read(2), lambda f: f.read(None)])


def test_read1(impl):
    def ops(f):
        first = f.read1(3)
        rest = f.read1()
        return first, rest
    for make in (impl.SocketReader, makefile):
        [(first, rest)] = run_ops(make, [b"abcdefgh"], [ops])
        assert first == b"abc"
        assert b"abcdefgh".startswith(first + rest) and rest
    same_as_makefile(impl, [b"xy"], [lambda f: f.read1(0), lambda f: f.read(),
                                     lambda f: f.read1(), lambda f: f.read1(5)])


def test_readinto(impl):
    def into_bytearray(f):
        buf = bytearray(7)
        n = f.readinto(buf)
        return n, bytes(buf)

    def into_array(f):
        arr = array.array("i", [0, 0])
        n = f.readinto(arr)
        return n, arr.tobytes()

    def into1(f):
        buf = bytearray(100)
        n = f.readinto1(memoryview(buf))
        return bytes(buf[:n])

    out = same_as_makefile(impl, [b"0123456789abcdefXYZ"],
                           [into_bytearray, into_array, into_bytearray])
    assert out == [(7, b"0123456"), (8, b"789abcde"), (4, b"fXYZ\x00\x00\x00")]
    [got] = run_ops(impl.SocketReader, [b"hello"], [into1])
    assert got == b"hello"


def test_peek_does_not_consume(impl):
    for make in (impl.SocketReader, makefile):
        peeked, line, rest = run_ops(make, [b"line1\nline2\n"],
                                     [lambda f: f.peek(), lambda f: f.readline(),
                                      lambda f: f.read()])
        assert peeked and b"line1\nline2\n".startswith(peeked)
        assert line == b"line1\n" and rest == b"line2\n"
    assert run_ops(impl.SocketReader, [], [lambda f: f.peek()]) == [b""]


def test_iteration_and_readlines(impl):
    out = same_as_makefile(impl, LINES, [list])
    assert out == [LINES]
    same_as_makefile(impl, LINES, [lambda f: f.readlines()])
    same_as_makefile(impl, LINES, [lambda f: f.readlines(5), lambda f: f.readlines(0)])


def test_pipelined_requests(impl):
    import http.client
    reqs = [
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
        b"GET /b HTTP/1.1\r\nHost: y\r\nX: 1\r\n\r\n",
        b"PUT /c HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + b"z" * 20000,
        b"GET /d HTTP/1.1\r\n\r\n",
    ]
    data = b"".join(reqs)

    def serve(f, read_head):
        out = []
        while True:
            line = f.readline(65537)
            if not line:
                return out
            head = read_head(f)
            length = int(dict(head).get("Content-Length", 0))
            out.append((line, head, f.read(length)))

    def std_head(f):
        return list(http.client.parse_headers(f).items())

    for chunks in ([data], [data[i:i + 7] for i in range(0, len(data), 7)]):
        [ours] = run_ops(impl.SocketReader, chunks,
                         [lambda f: serve(f, impl.read_headers)])
        [ref] = run_ops(makefile, chunks, [lambda f: serve(f, std_head)])
        assert ours == ref
        assert [r[2] for r in ours] == [b"hello world", b"", b"z" * 20000, b""]


def test_head_parsed_in_buffer_keeps_rest(impl, pair):
    a, b = pair
    r = impl.SocketReader(a)
    b.sendall(b"GET / HTTP/1.1\r\nA: b\r\n\r\nBODYNEXT")
    assert r.readline() == b"GET / HTTP/1.1\r\n"
    assert impl.read_headers(r) == [("A", "b")]
    assert r.buffered() == 8
    assert r.read(4) == b"BODY"
    assert r.buffered() == 4


def test_read_headers_errors_on_socket(impl, pair):
    a, b = pair
    r = impl.SocketReader(a)
    b.sendall(b"A : b\r\n\r\n")
    with pytest.raises(HeadError) as info:
        impl.read_headers(r)
    assert info.value.kind == "malformed"
    assert info.value.reason == "whitespace before colon in header"
    b.sendall(b"A: b\r\n")
    b.shutdown(socket.SHUT_WR)
    r2 = impl.SocketReader(a)
    assert impl.read_headers(r2) == [("A", "b")]     # EOF on a line boundary


def test_closed_file_errors(impl):
    def closed_ops():
        ops = []
        for op in (lambda f: f.read(), lambda f: f.read(3), lambda f: f.readline(),
                   lambda f: f.read1(), lambda f: f.peek(),
                   lambda f: f.readinto(bytearray(3)), lambda f: next(iter(f))):
            ops.append(lambda f, op=op: (f.close(), f.closed, op(f))[1:])
        return ops
    for op in closed_ops():
        ours = run_ops(impl.SocketReader, [], [op])
        ref = run_ops(makefile, [], [op])
        assert ours == ref == ["ValueError"]
    [got] = run_ops(impl.SocketReader, [b"x"], [lambda f: (f.close(), f.closed)[1]])
    assert got is True
    with socket.socket() as sock:
        r = impl.SocketReader(sock)
        r.close()
        with pytest.raises(ValueError):
            impl.read_headers(r)


def test_closed_with_buffered_data_agrees(impl):
    """Known difference from BufferedReader (which raises ValueError for any
    read after close): readline/read1/peek still hand out buffered bytes.
    Both implementations must do the same."""
    def op(f):
        f.peek()
        f.close()
        return f.readline(), f.read1(), f.closed
    [ours] = run_ops(impl.SocketReader, [b"abc\ndef"], [op])
    assert ours == (b"abc\n", b"def", True)


def test_timeout_then_data_kept(impl, pair):
    a, b = pair
    a.settimeout(0.2)
    r = impl.SocketReader(a)
    with pytest.raises(socket.timeout):  # TimeoutError from 3.10 on
        r.readline()
    b.sendall(b"GET / HT")
    with pytest.raises(socket.timeout):  # TimeoutError from 3.10 on
        r.readline()
    assert r.buffered() == 8
    b.sendall(b"TP/1.1\r\nA: b\r\nC:")
    assert r.readline() == b"GET / HTTP/1.1\r\n"
    with pytest.raises(socket.timeout):  # TimeoutError from 3.10 on
        impl.read_headers(r)             # head incomplete: its bytes stay buffered
    b.sendall(b" d\r\n\r\nrest")
    assert impl.read_headers(r) == [("A", "b"), ("C", "d")]
    assert r.read(4) == b"rest"
    with pytest.raises(socket.timeout):  # TimeoutError from 3.10 on
        r.read(1)
    with pytest.raises(socket.timeout):  # TimeoutError from 3.10 on
        r.peek()
    b.sendall(b"more")
    assert r.read1(10) == b"more"


def test_fake_socket_one_byte_recvs(impl):
    class OneByte:
        def __init__(self, data):
            self.data = data
            self.calls = 0

        def recv_into(self, view):
            self.calls += 1
            n = min(1, len(self.data))
            view[:n] = self.data[:n]
            self.data = self.data[n:]
            return n

    s = OneByte(b"L1\nA: b\r\n\r\nbody")
    r = impl.SocketReader(s)
    assert r.readline() == b"L1\n"
    assert impl.read_headers(r) == [("A", "b")]
    assert r.read() == b"body"


def test_buffer_grows_for_big_head(impl):
    value = b"v" * 30000
    data = b"A: " + value + b"\r\nB: " + value + b"\r\n\r\nX"
    for sizes in (None, 1000):
        chunks = [data] if sizes is None else [data[i:i + sizes]
                                               for i in range(0, len(data), sizes)]
        [out] = run_ops(impl.SocketReader, chunks,
                        [lambda f: (impl.read_headers(f), f.read())])
        assert out == ([("A", value.decode()), ("B", value.decode())], b"X")


def test_reader_io_surface(impl, pair):
    a, b = pair
    r = impl.SocketReader(a)
    assert isinstance(r, io.BufferedIOBase)
    assert r.readable() and not r.writable() and not r.seekable()
    assert r.fileno() == a.fileno()
    assert not r.closed and r.buffered() == 0
    with r as same:
        assert same is r
    assert r.closed
    assert a.fileno() != -1                  # closing the file keeps the socket


def test_writer(impl, pair):
    a, b = pair
    w = impl.SocketWriter(a)
    assert isinstance(w, io.BufferedIOBase)
    assert w.writable() and not w.readable() and not w.seekable()
    assert w.fileno() == a.fileno()
    ref = b.makefile("wb", 0)
    for data in (b"abc", bytearray(b"de"), memoryview(b"fgh"), array.array("i", [1])):
        assert w.write(data) == ref.write(data)
    w.writelines([b"x", b"yz"])
    w.flush()
    expected = b"abcdefgh" + array.array("i", [1]).tobytes() + b"xyz"
    got = b""
    while len(got) < len(expected):
        got += b.recv(100)
    assert got == expected
    with w:
        pass
    assert w.closed
    for op in (lambda: w.write(b"x"), w.flush, lambda: w.writelines([b"x"])):
        with pytest.raises(ValueError):
            op()
    with pytest.raises(TypeError):
        impl.SocketWriter(a).write("text")
