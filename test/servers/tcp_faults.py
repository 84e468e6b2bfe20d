#!/usr/bin/python3
"""tcp_faults.py - TCP-level faults that no protocol test server can show.

Six listeners on 127.0.0.1 (standard library only; run with Debian's
/usr/bin/python3), on the ports test/lib.sh assigns (no defaults):

  BLACKHOLE_PORT         a listener that never accepts, whose accept queue
                         is filled at start: the kernel then drops further
                         SYNs, so a client's connect() neither succeeds nor
                         fails -- a connect timeout on loopback, without a
                         blackhole address.
  SILENT_PORT            accepts, reads whatever comes, never answers.
  GARBAGE_PORT           accepts, answers bytes no protocol expects, closes.
  ECHO_REDIS_PORT        a Redis-compatible server without sorted sets: AUTH
                         (any password), SELECT and PING succeed, any other
                         command gets Redis' own "unknown command" error,
                         which echoes its arguments -- the query's terms.
  SLOW_PORT              a slow link to the remote PostgreSQL cluster
                         (APEX_REMOTE_PGPORT): each chunk is held 50 ms
                         either way, so a log-in takes several round trips
                         of 100 ms.
  SLOW_TLS_PORT          the same to the test Neo4j's https port
                         (NEO4J_TLS_PORT): a TLS handshake of its
                         own round trips.

Node cannot hold a listener without accepting, hence Python.  Prints
`tcp faults ready` on stdout once all of them listen.
"""
import os
import signal
import socket
import sys
import threading
import time

GARBAGE = b"\x00\xff\x13garbage from a fault server\r\n"
SLOW_DELAY_S = 0.05


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


def resp_commands(buf):
    """Complete RESP arrays of bulk strings at the start of buf: (commands, rest)."""
    commands = []
    while True:
        try:
            if not buf.startswith(b"*"):
                return commands, buf
            end = buf.index(b"\r\n")
            count, pos, args = int(buf[1:end]), end + 2, []
            for _ in range(count):
                end = buf.index(b"\r\n", pos)
                size = int(buf[pos + 1:end])
                if len(buf) < end + 2 + size + 2:
                    return commands, buf
                args.append(buf[end + 2:end + 2 + size])
                pos = end + 2 + size + 2
        except ValueError:
            return commands, buf
        commands.append(args)
        buf = buf[pos:]


def unknown_command(args):
    """Redis 7's error for a command it does not know (server.c, processCommand)."""
    quoted = ""
    for arg in args[1:]:
        if len(quoted) >= 128:
            break
        quoted += "'%s' " % arg[:128 - len(quoted)].decode("utf-8", "replace")
    msg = "ERR unknown command '%s', with args beginning with: %s" % (
        args[0][:128].decode("utf-8", "replace"), quoted)
    # Redis replaces newlines in error messages with spaces
    return ("-" + msg.replace("\r", " ").replace("\n", " ") + "\r\n").encode()


def echo_redis(conn):
    buf = b""
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            commands, buf = resp_commands(buf + data)
            for args in commands:
                name = args[0].upper() if args else b""
                reply = b"+PONG\r\n" if name == b"PING" else (
                    b"+OK\r\n" if name in (b"AUTH", b"SELECT") else unknown_command(args))
                conn.sendall(reply)
    except OSError:
        pass
    conn.close()


def pump(src, dst):
    """Copy src to dst, each chunk late; at either end, end both ways."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            time.sleep(SLOW_DELAY_S)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    src.close()


def slow_link(upstream_port):
    def handle(conn):
        try:
            up = socket.create_connection(("127.0.0.1", upstream_port))
        except OSError:
            conn.close()
            return
        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)
    return handle


def main():
    port = lambda name: int(os.environ[name])
    blackhole = listener(port("BLACKHOLE_PORT"), 0)
    # the held connections keep the queue full for the process' lifetime
    held = fill_accept_queue(blackhole.getsockname()[1])  # noqa: F841
    for sock, handle in ((listener(port("SILENT_PORT"), 16), silent),
                         (listener(port("GARBAGE_PORT"), 16), garbage),
                         (listener(port("ECHO_REDIS_PORT"), 16), echo_redis),
                         (listener(port("SLOW_PORT"), 16),
                          slow_link(port("APEX_REMOTE_PGPORT"))),
                         (listener(port("SLOW_TLS_PORT"), 16),
                          slow_link(port("NEO4J_TLS_PORT")))):
        threading.Thread(target=serve, args=(sock, handle), daemon=True).start()
    print("tcp faults ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.pause()


if __name__ == "__main__":
    main()
