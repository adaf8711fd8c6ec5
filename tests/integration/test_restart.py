"""Full restarts that never refuse a connection: the process re-executes
itself keeping its pid and listening socket; requests that arrive during
the restart wait and are answered by the new process with the new code.

A Hammer (restart_helpers.py) sends requests on fresh connections in a
loop throughout each restart: none may be refused, reset, cut off or
answered by the old code once the change is on disk.
"""

import json
import os
import re
import signal
import threading
import time

import pytest

from harness import scaled, wait_until
from restart_helpers import (Hammer, boots, fd_targets,
                             one_request, restart_project, rss_kb,
                             settings_py, start, wait_ready)

RESTART_ON = ('--restart-on', '*/settings.py')


def test_restart_on_glob_never_refuses(server_factory, tmp_path):
    """Saving a --restart-on file restarts: 0 refused/reset/errors, the
    request sent right after the save is answered by the new process with
    the new value, the pid stays, the log says why and when it was
    ready."""
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application', *RESTART_ON)
    first = one_request(srv.port)
    assert first.value == 'v1', first
    with Hammer(srv.port) as h:
        since = srv.mark()
        p.save('mysite/settings.py', settings_py('v2'), style='atomic')
        t_write = time.monotonic()
        now = one_request(srv.port)
        assert now.value == 'v2', now
        assert now.boot != first.boot and now.pid == srv.pid, (now, first)
        h.wait_for(lambda a: a.value == 'v2', since=t_write)
        time.sleep(0.2)   # keep the loop going after the restart
    h.assert_clean(since=t_write, fresh='v2')
    srv.wait_for_log(r"^restarting: mysite/settings\.py changed "
                     r"\(restart-on rule '\*/settings\.py'\) \u2026$",
                     since=since)
    wait_ready(srv, since)
    assert srv.alive() and srv.pid == now.pid


def test_sighup_restarts(server_factory, tmp_path):
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application')
    first = one_request(srv.port)
    generations = [first.boot]
    with Hammer(srv.port) as h:
        for i in range(3):
            since = srv.mark()
            os.kill(srv.pid, signal.SIGHUP)
            srv.wait_for_log(r'^restarting: SIGHUP received', since=since)
            wait_ready(srv, since)
            # Each SIGHUP gave a new image (its own boot id): ask it, rather
            # than hoping the hammer hit every short-lived generation.
            generations.append(one_request(srv.port).boot)
        time.sleep(0.2)
    answers = h.assert_clean()
    assert len(set(generations)) == 4 and None not in generations, \
        generations
    # Everything the client loop saw came from those images, in order.
    seen = boots(answers)
    assert seen[0] == first.boot, seen
    assert all(b in generations for b in seen), (seen, generations)
    assert [generations.index(b) for b in seen] == sorted(
        generations.index(b) for b in seen), (seen, generations)
    assert {a.pid for a in answers} == {srv.pid}


def test_restart_endpoint(server_factory, tmp_path):
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application')
    first = one_request(srv.port)
    r = srv.get('/__hotserve__/restart')
    assert r.status == 405 and r.header('Allow') == 'POST', r
    since = srv.mark()
    with Hammer(srv.port) as h:
        r = srv.http('POST', '/__hotserve__/restart', body=b'')
        assert r.status == 202 and r.body == b'restarting\n', r
        srv.wait_for_log(r'^restarting: requested by POST '
                         r'/__hotserve__/restart from 127\.0\.0\.1',
                         since=since)
        wait_ready(srv, since)
        h.wait_for(lambda a: a.boot not in (None, first.boot))
    h.assert_clean()


def test_restart_endpoint_app_logic_remote_addresses():
    """_internal_app's address check, for addresses a test machine cannot
    produce: the embedded package runs under plain Python as well."""
    import importlib
    import sys
    from harness import SOURCE_DIR
    sys.path.insert(0, os.path.join(SOURCE_DIR, 'bridge', 'python'))
    try:
        hotserve = importlib.import_module('hotserve')
        for addr, local in [('127.0.0.1', True), ('127.9.9.9', True),
                            ('::1', True), ('::ffff:127.0.0.1', True),
                            ('10.0.0.7', False), ('::ffff:10.0.0.7', False),
                            ('2001:db8::1', False), ('', False),
                            ('garbage', False)]:
            assert hotserve._is_loopback(addr) is local, addr
        got = []
        body = hotserve._internal_app(
            {'PATH_INFO': '/__hotserve__/restart', 'REQUEST_METHOD': 'POST',
             'REMOTE_ADDR': '192.168.1.20'},
            lambda status, headers: got.append(status))
        assert got == ['403 Forbidden'] and b'192.168.1.20' in b''.join(body)
    finally:
        sys.path.pop(0)
        sys.modules.pop('hotserve', None)


def test_inflight_slow_request_completes(server_factory, tmp_path):
    """A request running when the restart starts is answered completely by
    the old process; the restart waits for it."""
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application', *RESTART_ON)
    first = one_request(srv.port)
    slow = {}

    def run():
        slow['a'] = one_request(srv.port, '/slow?1.5')

    t = threading.Thread(target=run)
    t.start()
    wait_until(lambda: '"GET /slow' in srv.stderr() or t.is_alive(),
               timeout=5)
    time.sleep(0.3)     # the slow request is inside the app
    since = srv.mark()
    p.save('mysite/settings.py', settings_py('v2'))
    now = one_request(srv.port)
    t.join(scaled(20))
    a = slow['a']
    assert a.kind == 'ok' and a.value == 'v1' and a.boot == first.boot, a
    assert now.value == 'v2' and now.boot != first.boot, now
    # The new process answered `now` only after the slow one was done.
    assert now.t_done >= a.t_done - 0.05
    wait_ready(srv, since)


def test_keepalive_client_across_restarts(server_factory, tmp_path):
    """A client reusing one connection: idle connections are handed to
    the new process (a request waiting for the new code is answered and
    the connection then closed cleanly): never a reset or a cut
    response, and every answer after the save is new."""
    import http.client
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application', *RESTART_ON)
    conn = http.client.HTTPConnection('127.0.0.1', srv.port,
                                      timeout=scaled(10))
    reconnects = 0
    values = []
    t_write = None
    end = time.monotonic() + scaled(20)
    version = 1
    while time.monotonic() < end and len(values) < 20:
        sent = time.monotonic()
        try:
            conn.request('GET', '/')
            r = conn.getresponse()
            body = r.read().decode()
        except (http.client.RemoteDisconnected, BrokenPipeError) as exc:
            # A clean close between requests: allowed, reconnect.
            reconnects += 1
            conn.close()
            assert reconnects < 20, exc
            continue
        assert r.status == 200, body
        value = body.split()[0][2:]
        values.append(value)
        if t_write is not None and sent >= t_write:
            assert value == 'v%d' % version, (value, version, values)
        if r.getheader('Connection', '').lower() == 'close':
            conn.close()
        if len(values) % 5 == 0 and version < 4:
            version += 1
            p.save('mysite/settings.py', settings_py('v%d' % version))
            t_write = time.monotonic()
    conn.close()
    assert version == 4 and len(values) == 20, values
    assert values[-5:] == ['v4'] * 5, values
    # Idle connections move to the new process: no reconnect was needed
    # (a clean close would be allowed, a reset or a cut response not).
    assert reconnects <= 3, reconnects


def test_strategy_restart_every_change(server_factory, tmp_path):
    """--strategy restart: a change to any loaded module restarts (the
    baseline of the benchmark); a change to a file nobody imported does
    not."""
    p = restart_project(tmp_path)
    p.write('helper.py', 'X = 1\n')
    p.write('app.py', p.read('app.py').replace(
        'from mysite import settings',
        'from mysite import settings\nimport helper'))
    srv = start(server_factory, p, 'app:application', '--strategy',
                'restart')
    first = one_request(srv.port)
    since = srv.mark()
    with Hammer(srv.port) as h:
        p.save('mysite/settings.py', settings_py('v2'))
        t_write = time.monotonic()
        assert one_request(srv.port).value == 'v2'
        h.wait_for(lambda a: a.value == 'v2', since=t_write)
    h.assert_clean(since=t_write, fresh='v2')
    srv.wait_for_log(r'^restarting: mysite/settings\.py changed '
                     r'\(--strategy restart\)', since=since)
    since = srv.mark()
    p.save('helper.py', 'X = 2\n')
    second = one_request(srv.port)
    assert second.boot not in (first.boot, None)
    srv.wait_for_log(r'^restarting: helper\.py changed', since=since)
    wait_ready(srv, since)
    since = srv.mark()
    p.write('unused.py', 'Y = 1\n')
    third = one_request(srv.port)
    assert third.boot == second.boot
    assert 'restarting' not in srv.stderr()[since:]


def settled_fds(pid):
    """The kinds of pid's open descriptors (pipe and socket inode numbers
    differ between images), sorted, once they stopped changing (the last
    request's socket may still be closing). Bounded."""
    def kinds():
        return sorted(re.sub(r':\[\d+\]$', '', t) for t in fd_targets(pid))
    last, same = kinds(), 0
    end = time.monotonic() + scaled(5)
    while same < 5 and time.monotonic() < end:
        time.sleep(0.03)
        now = kinds()
        same = same + 1 if now == last else 0
        last = now
    return last


def test_fifty_restarts_leak_nothing(server_factory, tmp_path):
    """50 restarts: same pid, the same open descriptors, RSS flat, and the
    app answers after each one."""
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application')
    pid = srv.pid
    base_fds = None
    base_rss = None
    seen = set()
    for i in range(50):
        since = srv.mark()
        r = srv.http('POST', '/__hotserve__/restart', body=b'')
        assert r.status == 202, r
        wait_ready(srv, since)
        a = one_request(srv.port)
        assert a.kind == 'ok' and a.pid == pid, (i, a)
        assert a.boot not in seen, (i, a)
        seen.add(a.boot)
        if i == 4:
            base_fds = settled_fds(pid)
            base_rss = rss_kb(pid)
    assert srv.alive() and srv.pid == pid
    fds = settled_fds(pid)
    assert fds == base_fds, (base_fds, fds)
    rss = rss_kb(pid)
    # A leak of one buffer per restart would show; noise is a few MB.
    assert rss < base_rss + 8 * 1024, (base_rss, rss)
    # And the server still stops cleanly.
    assert srv.stop() == 0


def test_exec_failure_keeps_serving(server_factory, tmp_path):
    """When execve fails the server keeps serving: requests that waited
    for the restart are answered in-process with the new code, and later
    changes are reloaded in-process."""
    p = restart_project(tmp_path)
    p.write('views.py', 'TEXT = "one"\n')
    srv = start(server_factory, p, 'app:application', *RESTART_ON,
                env={'HOTSERVE_RESTART_EXE': str(tmp_path / 'missing')})
    first = one_request(srv.port)
    since = srv.mark()
    p.save('mysite/settings.py', settings_py('v2'))
    a = one_request(srv.port)
    # The request that waited for the restart ran here, after an
    # in-process reload of the change (app.py imports the settings, so it
    # ran again too: a new BOOT, same pid).
    assert a.kind == 'ok' and a.value == 'v2' and a.pid == first.pid, a
    srv.wait_for_log(r'error: cannot restart: execve .*missing', since=since)
    srv.wait_for_log(r'^reloaded 2 modules .*mysite\.settings', since=since)
    p.save('views.py', 'TEXT = "two"\n')
    p.save('mysite/settings.py', settings_py('v3'))
    assert one_request(srv.port).value == 'v3'
    since = srv.mark()
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_for_log(r'not restarting \(SIGHUP received\)', since=since)
    assert one_request(srv.port).kind == 'ok'
    assert srv.stop() == 0


def test_stop_during_restart_drain(server_factory, tmp_path):
    """SIGTERM while a restart waits for a slow request: the server stops
    cleanly (status 0) after answering it."""
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application')
    slow = {}
    t = threading.Thread(target=lambda: slow.update(
        a=one_request(srv.port, '/slow?1.5')))
    t.start()
    time.sleep(0.4)
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_for_log(r'^restarting: SIGHUP')
    time.sleep(0.1)
    assert srv.stop() == 0
    t.join(scaled(10))
    assert slow['a'].kind == 'ok', slow


def test_status_reports_startup_cost(server_factory, tmp_path):
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application')
    st = json.loads(srv.get('/__hotserve__/status').body)
    assert st['startup_ms'] > 0


@pytest.mark.parametrize('first', [b'GET / HT', b'GET / HTTP/1.1\r\nHo'])
def test_request_arriving_in_pieces_across_restart(server_factory, tmp_path,
                                                   first):
    """A client that has sent part of its request (inside the request
    line, or inside the headers) when the restart starts, and the rest a
    moment later: it gets a complete answer, from the new process."""
    from harness import RawConn
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application')
    before = one_request(srv.port)
    with RawConn(srv.port, timeout=10) as c:
        c.send(first)
        time.sleep(0.2)
        since = srv.mark()
        os.kill(srv.pid, signal.SIGHUP)
        srv.wait_for_log(r'^restarting: SIGHUP', since=since)
        time.sleep(0.3)
        c.send(b'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
               [len(first):])
        r = c.read_response()
        assert r is not None and r.status == 200 and r.complete, r
        assert b'boot=' + before.boot.encode() not in r.body, r.body
    wait_ready(srv, since)
    assert srv.pid == before.pid


def test_no_reload_still_restarts_by_hand(server_factory, tmp_path):
    """--no-reload: no automatic restarts (a --restart-on file changes
    nothing), but SIGHUP restarts and serves the new code."""
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application', '--no-reload',
                *RESTART_ON)
    first = one_request(srv.port)
    since = srv.mark()
    p.save('mysite/settings.py', settings_py('v2'))
    assert one_request(srv.port).value == 'v1'
    assert 'restarting' not in srv.stderr()[since:]
    os.kill(srv.pid, signal.SIGHUP)
    wait_ready(srv, since)
    a = one_request(srv.port)
    assert a.value == 'v2' and a.boot != first.boot and a.pid == first.pid


@pytest.mark.parametrize('size', [10, 3 * 1024 * 1024])
def test_waiting_request_with_body_is_handed_over(server_factory, tmp_path,
                                                  size):
    """A POST that waits for the restart keeps its body (in memory, or
    spooled to a temp file past 1 MiB), its headers and its client: the
    new process answers it."""
    import hashlib
    from harness import http
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application', *RESTART_ON)
    first = one_request(srv.port)
    data = os.urandom(size)
    got = {}

    def post():
        got['r'] = http(srv.port, 'POST', '/len', body=data,
                        headers={'X-Test': 'kept'}, timeout=30)

    os.kill(srv.pid, signal.SIGSTOP)
    try:
        p.save('mysite/settings.py', settings_py('v2'))
        t = threading.Thread(target=post)
        t.start()
        time.sleep(0.3)     # the request waits in the backlog
    finally:
        os.kill(srv.pid, signal.SIGCONT)
    t.join(scaled(30))
    r = got['r']
    assert r.status == 200, r
    text = r.text().split()
    assert text[0] == 'len=%d' % size, text
    assert text[1] == 'sha=' + hashlib.sha256(data).hexdigest()
    assert text[2] != 'boot=' + first.boot and text[3] == 'x=kept', text
