"""When hotserve restarts instead of reloading in-process: each rule of
bridge/reloader_policy.c, with a client loop running throughout the
restarts it causes (0 refused/reset/errors, nothing stale after the
write), and the cases that must stay in-process.
"""

import json
import os
import signal
import time

import pytest

from harness import scaled
from restart_helpers import (Hammer, one_request, restart_project,
                             settings_py, start, wait_ready)


def boot_of(srv):
    a = one_request(srv.port)
    assert a.kind == 'ok', a
    return a


def trigger_and_check(srv, p, edit, fresh, reason_re):
    """Run edit() with a Hammer going; the first request after it and
    every later one must see `fresh`; the restart's reason is logged."""
    first = boot_of(srv)
    since = srv.mark()
    with Hammer(srv.port) as h:
        edit()
        t_write = time.monotonic()
        now = one_request(srv.port)
        assert now.value == fresh, now
        assert now.boot != first.boot and now.pid == first.pid, (now, first)
        h.wait_for(lambda a: a.value == fresh, since=t_write)
        time.sleep(0.1)
    h.assert_clean(since=t_write, fresh=fresh)
    srv.wait_for_log(r'^restarting: ' + reason_re, since=since)
    wait_ready(srv, since)
    return now


def test_module_refusing_reload(server_factory, tmp_path):
    """A module that sets __hotserve_reload__ = False restarts when it (or
    a module it imports) changes; other modules still reload in-process."""
    p = restart_project(tmp_path)
    p.write('legacy.py', '__hotserve_reload__ = False\nfrom base import B\n'
                         'VALUE = "v1" + B\n')
    p.write('base.py', 'B = ""\n')
    p.write('mysite/settings.py', 'from legacy import VALUE\n')
    p.write('other.py', 'X = 1\n')
    p.write('app.py', p.read('app.py').replace(
        'from mysite import settings', 'from mysite import settings\n'
                                       'import other'))
    srv = start(server_factory, p, 'app:application')
    trigger_and_check(
        srv, p, lambda: p.save('legacy.py', '__hotserve_reload__ = False\n'
                                            'from base import B\n'
                                            'VALUE = "v2" + B\n'),
        'v2', r'legacy\.py changed \(module legacy sets '
              r'__hotserve_reload__ = False\)')
    # A dependency of it: legacy would run again, so restart too.
    trigger_and_check(srv, p, lambda: p.save('base.py', 'B = "b"\n'),
                      'v2b', r'base\.py changed \(module legacy sets')
    # An unrelated module: in-process.
    before = boot_of(srv)
    since = srv.mark()
    p.save('other.py', 'X = 2\n')
    after = boot_of(srv)
    srv.wait_for_log(r'^reloaded \d+ modules? .*other', since=since)
    assert 'restarting' not in srv.stderr()[since:]
    assert after.value == 'v2b' and after.pid == before.pid


def test_threshold_burst(server_factory, tmp_path):
    """More than --restart-threshold changed modules at once (a branch
    switch, made while the server is paused so that one barrier sees them
    all) restarts; as many as the threshold reload in-process."""
    p = restart_project(tmp_path)
    names = ['m%d' % i for i in range(6)]
    for n in names:
        p.write('mods/%s.py' % n, 'X = 1\n')
    p.write('mods/__init__.py', '')
    p.write('mysite/settings.py', 'from mods import %s\nVALUE = "v1"\n'
            % ', '.join(names))
    srv = start(server_factory, p, 'app:application',
                '--restart-threshold', '4')
    before = boot_of(srv)
    since = srv.mark()
    for n in names[:4]:
        p.save('mods/%s.py' % n, 'X = 2\n')
    assert boot_of(srv).pid == before.pid
    srv.wait_for_log(r'^reloaded \d+ modules', since=since)
    assert 'restarting' not in srv.stderr()[since:]

    def switch():
        os.kill(srv.pid, signal.SIGSTOP)
        try:
            for n in names[:5]:
                p.save('mods/%s.py' % n, 'X = 3\n')
            p.save('mysite/settings.py', 'from mods import %s\n'
                   'VALUE = "v2"\n' % ', '.join(names))
        finally:
            os.kill(srv.pid, signal.SIGCONT)

    trigger_and_check(srv, p, switch, 'v2',
                      r'6 modules changed \(more than --restart-threshold '
                      r'4\)')


def test_inotify_overflow(server_factory, tmp_path):
    """Lost change events (the kernel's inotify queue overflowed while the
    server was paused) restart: nobody knows what changed."""
    if '--poll' in os.environ.get('HS_TEST_SERVER_ARGS', ''):
        pytest.skip('inotify only: polling has no event queue')
    with open('/proc/sys/fs/inotify/max_queued_events') as f:
        limit = int(f.read())
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application')
    junk = p.path('junk')
    os.makedirs(junk)
    time.sleep(0.2)     # the new directory is watched

    def flood():
        os.kill(srv.pid, signal.SIGSTOP)
        try:
            # create + close + delete: at least 3 events per round.
            for i in range(limit // 3 + 2000):
                path = os.path.join(junk, 'f%d.txt' % i)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
                os.unlink(path)
            p.save('mysite/settings.py', settings_py('v2'))
        finally:
            os.kill(srv.pid, signal.SIGCONT)

    trigger_and_check(srv, p, flood, 'v2',
                      r'change events were lost \(inotify queue overflow\)')


def test_failure_in_library_restarts(server_factory, tmp_path):
    """A reload that fails inside a library (argparse refuses the option
    a second time: its parser lives in an untouched module) restarts, and
    the new process serves the change."""
    p = restart_project(tmp_path)
    p.write('cli.py', 'import argparse\nparser = argparse.ArgumentParser()\n')
    settings = ('import cli\ncli.parser.add_argument("--value", '
                'default=%r)\nVALUE = cli.parser.parse_args([]).value\n')
    p.write('mysite/settings.py', settings % 'v1')
    srv = start(server_factory, p, 'app:application')
    now = trigger_and_check(
        srv, p, lambda: p.save('mysite/settings.py', settings % 'v2'), 'v2',
        r'reload of mysite/settings\.py failed outside the changed code '
        r'\(ArgumentError raised in /usr/lib/python3\.\d+/argparse\.py:'
        r'\d+\)')
    assert now.value == 'v2'


def test_failure_in_project_registry_restarts(server_factory, tmp_path):
    """The same with a registry of the project's own: the function that
    raises is in an untouched module, outside the reload plan."""
    p = restart_project(tmp_path)
    p.write('registry.py', '_seen = set()\n\n'
                           'def register(name):\n'
                           '    if name in _seen:\n'
                           '        raise ValueError("%s is already '
                           'registered" % name)\n'
                           '    _seen.add(name)\n')
    settings = 'import registry\nregistry.register("main")\nVALUE = %r\n'
    p.write('mysite/settings.py', settings % 'v1')
    srv = start(server_factory, p, 'app:application')
    trigger_and_check(
        srv, p, lambda: p.save('mysite/settings.py', settings % 'v2'), 'v2',
        r'reload of mysite/settings\.py failed outside the changed code '
        r'\(ValueError raised in registry\.py:5\)')


def test_error_in_changed_code_stays_in_process(server_factory, tmp_path):
    """Errors of the changed code itself (a NameError at module level, a
    SyntaxError, a missing module, an error in an importer that ran
    again) are shown on the error page; fixing them reloads in-process.
    No restart."""
    p = restart_project(tmp_path)
    p.write('helpers.py', 'def get():\n    return "v1"\n')
    p.write('mysite/settings.py', 'import helpers\nVALUE = helpers.get()\n')
    srv = start(server_factory, p, 'app:application')
    first = boot_of(srv)
    since = srv.mark()
    broken = [
        ('mysite/settings.py', 'VALUE = undefined_name\n', 'NameError'),
        ('mysite/settings.py', 'VALUE = (\n', 'SyntaxError'),
        ('mysite/settings.py', 'import not_there\nVALUE = 1\n',
         'ModuleNotFoundError'),
        ('helpers.py', 'def got():\n    return 1\n', 'AttributeError'),
        ('helpers.py', 'def get():\n    return 1 / 0\n',
         'ZeroDivisionError'),
    ]
    for rel, text, needle in broken:
        p.save(rel, text)
        r = srv.get('/')
        assert r.status == 500 and needle in r.text(), (needle, r.text()[:500])
        # put both back
        p.save('helpers.py', 'def get():\n    return "v1"\n')
        p.save('mysite/settings.py', 'import helpers\nVALUE = helpers.get()\n')
        a = one_request(srv.port)
        assert a.value == 'v1' and a.pid == first.pid, (needle, a)
    assert 'restarting' not in srv.stderr()[since:], srv.stderr()[since:]


def test_predicted_cost_above_restart_cost(server_factory, tmp_path):
    """When the plan's measured cost exceeds what a restart costs here, the
    change restarts: the settings module became slow in its second run
    (it counts its runs in an untouched module); the next change to it
    restarts, and the fresh process is fast again."""
    p = restart_project(tmp_path)
    p.write('counter.py', 'runs = 0\n')
    slow = tmp_path / 'slow_seconds'
    slow.write_text('0.05')
    settings = ('import time\nimport counter\ncounter.runs += 1\n'
                'if counter.runs == 2:\n'
                '    time.sleep(float(open(%r).read()))\n'
                'VALUE = %%r\n' % str(slow))
    p.write('mysite/settings.py', settings % 'v1')
    srv = start(server_factory, p, 'app:application')
    st = json.loads(srv.get('/__hotserve__/status').body)
    restart_ms = st['startup_ms']
    assert restart_ms > 0
    slow.write_text('%.3f' % max(0.6, 3 * restart_ms / 1000.0))
    first = boot_of(srv)
    since = srv.mark()
    # Second run: in-process (predicted from the first, fast run), slow.
    p.save('mysite/settings.py', settings % 'v2')
    a = boot_of(srv)
    assert a.value == 'v2' and a.boot != first.boot
    srv.wait_for_log(r'^reloaded 2 modules', since=since)
    assert 'restarting' not in srv.stderr()[since:]
    # Third: predicted as slow as the second: a restart.
    trigger_and_check(
        srv, p, lambda: p.save('mysite/settings.py', settings % 'v3'), 'v3',
        r'mysite/settings\.py changed: reloading 2 modules would take '
        r'~\d+ ms, a restart ~\d+ ms')


def test_changes_during_restart_are_not_lost(server_factory, tmp_path):
    """Saves made while a restart is under way are served: one while the
    old process drains (the new one imports it), one while the new
    process is importing the app after its watches are in place (it is
    reloaded at the next request)."""
    p = restart_project(tmp_path)
    marker = tmp_path / 'importing'
    p.write('views.py', 'TEXT = "a"\n')
    p.write('slowimport.py', 'import os, time\n'
                             'open(%r, "a").write("x")\n'
                             'time.sleep(1.0 if os.environ.get('
                             '"HS_SLOW_IMPORT") else 0)\n' % str(marker))
    p.write('mysite/settings.py', 'import views\nimport slowimport\n'
                                  'VALUE = views.TEXT\n')
    srv = start(server_factory, p, 'app:application',
                env={'HS_SLOW_IMPORT': '1'})
    assert one_request(srv.port).value == 'a'
    # 1: during the drain (a slow request holds it).
    since = srv.mark()
    import threading
    t = threading.Thread(target=one_request, args=(srv.port, '/slow?1'))
    t.start()
    time.sleep(0.3)
    os.kill(srv.pid, signal.SIGHUP)
    srv.wait_for_log(r'^restarting: SIGHUP', since=since)
    p.save('views.py', 'TEXT = "b"\n')
    t.join(scaled(10))
    # 2: while the new process imports (slowimport sleeps 1 s after
    # writing the marker; views was imported before it).
    n = len(marker.read_text())
    end = time.monotonic() + scaled(10)
    while len(marker.read_text()) == n and time.monotonic() < end:
        time.sleep(0.01)
    assert len(marker.read_text()) > n, 'the new process never imported'
    p.save('views.py', 'TEXT = "c"\n')
    wait_ready(srv, since)
    a = one_request(srv.port)
    assert a.value == 'c', a


def test_startup_failure_of_restart_on_file(server_factory, tmp_path):
    """The server starts while a --restart-on file is broken: every
    request gets the error page naming it; fixing it serves the app."""
    p = restart_project(tmp_path)
    p.write('mysite/settings.py', 'VALUE = "v1"\nbroken(\n')
    srv = start(server_factory, p, 'app:application', '--restart-on',
                '*/settings.py')
    for _ in range(2):
        r = srv.get('/')
        assert r.status == 500, r
        assert 'SyntaxError' in r.text() and 'settings.py' in r.text()
    p.save('mysite/settings.py', settings_py('v2'))
    a = one_request(srv.port)
    assert a.value == 'v2', a
    p.save('mysite/settings.py', settings_py('v3'))
    assert one_request(srv.port).value == 'v3'


def test_app_gone_after_restart_is_an_error_page(server_factory, tmp_path):
    """A restarted process whose app attribute disappeared (renamed in the
    edit that caused the restart) keeps running: the error page names the
    problem until the file is fixed; it never exits."""
    p = restart_project(tmp_path)
    srv = start(server_factory, p, 'app:application', '--restart-on',
                '*/settings.py')
    first = boot_of(srv)
    good = p.read('app.py')
    os.kill(srv.pid, signal.SIGSTOP)
    try:
        p.save('app.py', good.replace('def application(', 'def app('))
        p.save('mysite/settings.py', settings_py('v2'))
    finally:
        os.kill(srv.pid, signal.SIGCONT)
    since = srv.mark()
    r = srv.get('/')
    assert r.status == 500, r
    assert "has no attribute 'application'" in r.text(), r.text()[:2000]
    assert srv.alive() and srv.pid == first.pid
    p.save('app.py', good)
    a = boot_of(srv)
    assert a.value == 'v2' and a.pid == first.pid, a
    assert srv.stderr()[since:].count('ready in') <= 1
