"""Security defaults: hotserve listens on loopback unless told otherwise,
and the /__hotserve__/ endpoints that change state (POST
/__hotserve__/restart) refuse clients that are not on this machine.

Every server here listens on 127.0.0.1 only. A non-loopback client is
made honestly: a socket bound to one of this machine's own non-loopback
addresses (eth0's, found in /proc/net/fib_trie) may connect to
127.0.0.1, and the server then sees that address as REMOTE_ADDR. Without
such an address the test is skipped.

Static files (issue 5): Django's staticfiles served like runserver;
test_static_file_traversal adds encodings, separators and target forms to
test_django_reload.py's traversal list (skipped when the binary does not
serve static files).
"""

import os
import re
import socket
import subprocess

import pytest

from harness import RawConn, find_binary, raw_request, scaled


def local_nonloopback_ipv4():
    """This machine's own IPv4 addresses outside 127.0.0.0/8."""
    try:
        with open('/proc/net/fib_trie') as f:
            text = f.read()
    except OSError:
        return []
    found = re.findall(r'\|-- (\d+\.\d+\.\d+\.\d+)\n\s+/32 host LOCAL', text)
    return sorted({a for a in found if not a.startswith('127.')})


def port_free(host, port):
    s = socket.socket()
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def listening_addresses(pid):
    """(ip, port) of the listening TCP sockets the process owns, from
    /proc/PID/fd and /proc/net/tcp{,6}."""
    inodes = set()
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            link = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        m = re.match(r'socket:\[(\d+)\]', link)
        if m:
            inodes.add(m.group(1))
    out = []
    for table, v6 in (('/proc/net/tcp', False), ('/proc/net/tcp6', True)):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != '0A' or inode not in inodes:      # 0A: LISTEN
                continue
            addr, port = local.split(':')
            if v6:
                raw = bytes.fromhex(addr)
                raw = b''.join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                ip = socket.inet_ntop(socket.AF_INET6, raw)
            else:
                ip = socket.inet_ntop(socket.AF_INET,
                                      bytes.fromhex(addr)[::-1])
            out.append((ip, int(port, 16)))
    return out


def test_help_documents_the_loopback_default():
    out = subprocess.run([find_binary(), '--help'], capture_output=True,
                         text=True, timeout=scaled(10)).stdout
    block = out[out.index('--bind'):][:300]
    assert '[default: 127.0.0.1:8000]' in block, block


def test_default_bind_is_loopback_port_8000(server_factory):
    """Started without --bind (and without HOTSERVE_BIND, which the
    harness strips), hotserve listens on 127.0.0.1:8000 and nowhere
    else."""
    if not port_free('127.0.0.1', 8000):
        pytest.skip('127.0.0.1:8000 is in use on this machine: the '
                    'default cannot be started (the --help default is '
                    'checked by test_help_documents_the_loopback_default)')
    srv = server_factory('wsgi_suite', bind=None, start=False)
    try:
        srv.start('wsgi_suite', bind=None)
    except AssertionError:
        if 'address already in use' in srv.stderr().lower():
            pytest.skip('127.0.0.1:8000 was taken meanwhile')
        raise
    assert (srv.host, srv.port) == ('127.0.0.1', 8000), srv.describe()
    assert listening_addresses(srv.pid) == [('127.0.0.1', 8000)]
    srv.assert_healthy()
    for addr in local_nonloopback_ipv4():
        with pytest.raises(OSError):
            socket.create_connection((addr, 8000), timeout=2).close()


def from_address(srv, source, data, timeout=10):
    """Send data from a socket bound to `source`; the whole reply."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(scaled(timeout))
    try:
        s.bind((source, 0))
        s.connect(('127.0.0.1', srv.port))
        c = RawConn(srv.port, connect=False, timeout=timeout)
        c.sock = s
        c.send(data)
        r = c.read_response()
        return r
    finally:
        s.close()


@pytest.fixture
def remote_source():
    addrs = local_nonloopback_ipv4()
    if not addrs:
        pytest.skip('no non-loopback IPv4 address on this machine to '
                    'act as a remote client')
    return addrs[0]


def test_restart_endpoint_refuses_non_loopback_clients(server_factory,
                                                      remote_source):
    srv = server_factory('wsgi_suite')
    pid = srv.pid
    # The trick works: the app sees the non-loopback address.
    r = from_address(srv, remote_source,
                     b'GET /environ HTTP/1.1\r\nHost: h\r\n\r\n')
    assert r.status == 200, r
    assert r.json()['str']['REMOTE_ADDR'] == remote_source
    # Even with headers claiming a local client.
    r = from_address(srv, remote_source,
                     b'POST /__hotserve__/restart HTTP/1.1\r\nHost: '
                     b'127.0.0.1\r\nX-Forwarded-For: 127.0.0.1\r\n'
                     b'X-Real-IP: 127.0.0.1\r\nContent-Length: 0\r\n\r\n')
    if r.status == 404:
        pytest.skip('POST /__hotserve__/restart is not built in this '
                    'binary (the restart work)')
    assert r.status == 403, r
    # ... and nothing restarted.
    srv.assert_healthy()
    assert srv.pid == pid
    assert srv.stdout().count('Starting development server') == 1, \
        srv.describe()


def test_status_endpoint_answers_remote_clients_read_only(server_factory,
                                                          remote_source):
    """GET /__hotserve__/status changes nothing; other methods on it do
    not do anything either."""
    srv = server_factory('wsgi_suite')
    r = from_address(srv, remote_source,
                     b'DELETE /__hotserve__/status HTTP/1.1\r\nHost: h'
                     b'\r\n\r\n')
    assert r.status in (403, 404, 405), r
    srv.assert_healthy()


# -- static files (Django's staticfiles, served like runserver) -------------

@pytest.fixture(scope='module')
def django_srv(module_server_factory, tmp_path_factory):
    import django_helpers as dj
    from reload_helpers import start
    proj = dj.make_project(tmp_path_factory.mktemp('rel_django') / 'proj')
    dj.prepare(proj, migrate=False)
    srv = start(module_server_factory, proj, 'mysite.wsgi:application')
    if srv.get('/static/shop/site.css').status != 200:
        pytest.skip('this binary does not serve static files (issue 5)')
    srv.proj = proj
    return srv


SECRET = b'settings-file-marker'      # in mysite/settings.py


@pytest.mark.parametrize('target', [
    # beyond test_django_reload.py's list: encodings, separators and
    # request-target forms a server may normalize differently
    '/static/%252e%252e/%252e%252e/mysite/settings.py',   # double-encoded
    '/static/shop/.%2e/.%2e/.%2e/mysite/settings.py',
    '/static/shop/%2E%2E/%2E%2E/%2E%2E/mysite/settings.py',
    '/static/shop/..%5c..%5c..%5cmysite%5csettings.py',   # backslashes
    '/static/%c0%ae%c0%ae/%c0%ae%c0%ae/mysite/settings.py',  # overlong UTF-8
    '/static/shop/site.css%00/../../../mysite/settings.py',
    '/static/%2Fetc%2Fpasswd',
    '/static/shop/%2F..%2F..%2F..%2Fmysite%2Fsettings.py',
    '/static/./../mysite/settings.py',
    '/static/shop/....//....//mysite/settings.py',
    'http://127.0.0.1/static/../../mysite/settings.py',   # absolute-form
])
def test_static_file_traversal(django_srv, target):
    raw = raw_request(django_srv.port,
                      ('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: '
                       'close\r\n\r\n' % target).encode(), timeout=10)
    status = raw.split(b'\r\n', 1)[0].split()[1:2]
    assert status and status[0] in (b'400', b'404'), (target, raw[:300])
    assert SECRET not in raw and b'root:x:' not in raw, target


def test_static_still_served_after_traversal_attempts(django_srv):
    r = django_srv.get('/static/shop/site.css')
    assert r.status == 200 and SECRET not in r.body
