#!/usr/bin/python3
"""tcp_faults.py - TCP-level faults that no protocol test server can show.

Three listeners on 127.0.0.1 (standard library only; run with Debian's
/usr/bin/python3):

  BLACKHOLE_PORT [7901]  a listener that never accepts, whose accept queue
                         is filled at start: the kernel then drops further
                         SYNs, so a client's connect() neither succeeds nor
                         fails -- a connect timeout on loopback, without a
                         blackhole address.
  SILENT_PORT    [7902]  accepts, reads whatever comes, never answers.
  GARBAGE_PORT   [7903]  accepts, answers bytes no protocol expects, closes.

Node cannot hold a listener without accepting, hence Python.  Prints
`tcp faults ready` on stdout once all three listen.
"""
import os
import signal
import socket
import sys
import threading

GARBAGE = b"\x00\xff\x13garbage from a fault server\r\n"


def listener(port, backlog):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def fill_accept_queue(port):
    """Connect until a connect() no longer completes: the queue is full."""
    held = []
    for _ in range(16):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(0.2)
        try:
            c.connect(("127.0.0.1", port))
        except (socket.timeout, BlockingIOError):
            c.close()
            return held
        held.append(c)
    sys.exit("tcp_faults: the accept queue of port %d never filled" % port)


def serve(sock, handle):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def silent(conn):
    try:
        while conn.recv(65536):
            pass
    finally:
        conn.close()


def garbage(conn):
    try:
        conn.recv(65536)
        conn.sendall(GARBAGE)
    except OSError:
        pass
    conn.close()


def main():
    port = lambda name, default: int(os.environ.get(name) or default)
    blackhole = listener(port("BLACKHOLE_PORT", 7901), 0)
    # the held connections keep the queue full for the process' lifetime
    held = fill_accept_queue(blackhole.getsockname()[1])  # noqa: F841
    for sock, handle in ((listener(port("SILENT_PORT", 7902), 16), silent),
                         (listener(port("GARBAGE_PORT", 7903), 16), garbage)):
        threading.Thread(target=serve, args=(sock, handle), daemon=True).start()
    print("tcp faults ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    main()
