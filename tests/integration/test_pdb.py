"""breakpoint() in a view stops in the terminal hotserve runs in: run it on
a pseudo-terminal, request the view, talk to (Pdb), and the request then
completes normally."""

import os
import re
import select
import signal
import subprocess
import threading
import time

from harness import APPS_DIR, BANNER_RE, find_binary, http, scaled, \
    server_env


class PtyServer:
    """hotserve with stdin/stdout/stderr on the slave side of a pty; a
    thread collects everything written to the terminal."""

    def __init__(self, *args):
        self.master, slave = os.openpty()
        self.argv = [find_binary()] + \
            os.environ.get('HS_TEST_SERVER_ARGS', '').split() + list(args)
        self.proc = subprocess.Popen(
            self.argv, cwd=APPS_DIR, env=server_env({'TERM': 'dumb'}),
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.buf = b''
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if not ready:
                    if self.proc.poll() is not None:
                        return
                    continue
                data = os.read(self.master, 65536)
            except OSError:         # EIO once the slave side is gone
                return
            if not data:
                return
            with self.lock:
                self.buf += data

    def text(self):
        with self.lock:
            return self.buf.decode('utf-8', 'replace')

    def wait_for(self, pattern, since=0, timeout=10):
        pat = re.compile(pattern, re.M)
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            m = pat.search(self.text(), since)
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError('no %r on the terminal (status %s)\n%s'
                             % (pattern, self.proc.poll(), self.text()))

    def type(self, line):
        os.write(self.master, line.encode() + b'\n')

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.reader.join(5)
        os.close(self.master)


def test_breakpoint_in_view_uses_the_terminal():
    srv = PtyServer('--bind', '127.0.0.1:0', 'pdb_app')
    try:
        m = srv.wait_for(BANNER_RE.pattern, timeout=15)
        port = int(m.group(2))
        result = {}

        def request():
            try:
                result['r'] = http(port, 'GET', '/debug-me', timeout=30)
            except Exception as exc:
                result['error'] = exc
        t = threading.Thread(target=request, daemon=True)
        t.start()
        m = srv.wait_for(r'\(Pdb\) ', since=m.end(), timeout=10)
        # the debugger sees the view's frame
        srv.type('p value')
        m = srv.wait_for(r"'after-breakpoint'", since=m.end())
        srv.type('p 1+1')
        m = srv.wait_for(r'(?<![\d+])2\r?\n', since=m.end())
        srv.wait_for(r'\(Pdb\) ', since=m.end())
        assert t.is_alive(), 'request finished while stopped in pdb'
        srv.type('c')
        t.join(scaled(10))
        assert not t.is_alive(), 'request still blocked after `c`'
        assert 'error' not in result, result
        r = result['r']
        assert r.status == 200 and r.body == b'after-breakpoint', r
        # still serving afterwards, then a clean exit
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(scaled(10)) == 0, srv.text()
    finally:
        srv.close()
