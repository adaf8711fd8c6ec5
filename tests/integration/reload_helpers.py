"""Helpers for the reload integration tests (tests/integration/test_reload_*).

A test builds a small project in its own tmp dir with Project, starts
hotserve on it with start() (`--chdir` into the project, inotify or
`--poll`), edits files the way an editor would (Project.save with a save
style) and requests right away: hotserve promises that a change completed
before a request is sent is applied before that request runs, so there is
never a sleep or a retry between the save and the request.

    proj = Project(tmp_path)
    proj.write('views.py', '''
        def view():
            return 'v1'
    ''')
    srv = start(server_factory, proj, 'app:application', mode=mode)
    assert body(srv, '/') == 'v1'
    proj.save('views.py', ..., style='atomic')
    assert body(srv, '/') == 'v2'

`MODES` is the parameter list for tests that run under both watchers.
"""

import http.client as httplib
import json
import os
import py_compile
import re
import subprocess
import textwrap

from harness import scaled

MODES = ['inotify', 'poll']

# Every way an editor or a tool replaces a file's contents.
SAVE_STYLES = ['inplace', 'atomic', 'jetbrains', 'vim', 'sed']

RELOADED_RE = re.compile(
    r'^reloaded (\d+) modules? in (\d+\.\d) ms \(([^()\n]*)\)'
    r'(?:: (.*))?$', re.M)
ARROW = ' \u2192 '

def wsgi_app(imports, routes_expr):
    """Source of a WSGI app module for the tests: `imports` is its import
    block (so the app module is an importer of what it names) and
    routes_expr an expression, evaluated per request, giving a dict
    path -> callable; GET path answers str(callable()). GET /__reclog__
    answers the never-reloaded execution log (RECLOG) as JSON. The module
    logs its own execution like every test module does."""
    return '''
import json
import reclog
%s

def application(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/__reclog__':
        body = json.dumps(reclog.events)
    else:
        fn = (%s).get(path)
        if fn is None:
            start_response('404 Not Found', [('Content-Type', 'text/plain')])
            return [b'no route ' + path.encode()]
        body = str(fn())
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [body.encode()]

reclog.ran(__name__)
''' % (textwrap.dedent(imports), routes_expr)


# A module imported by the others but never edited, so never reloaded: it
# logs module executions across reloads. Modules call reclog.ran(__name__)
# as their LAST statement, so the log is in completion order (dependencies
# first, like hotserve's plan).
RECLOG = '''
events = []

def ran(name):
    events.append(name)
'''


class Project:
    """A directory of Python files under test. Paths are relative to it."""

    def __init__(self, root):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, text, dedent=True):
        """Create or overwrite rel (parents created) with a plain
        open/write/close. For setting up before the server starts."""
        full = self.path(rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        data = textwrap.dedent(text) if dedent else text
        with open(full, 'w') as f:
            f.write(data)
        return full

    def read(self, rel):
        with open(self.path(rel)) as f:
            return f.read()

    def delete(self, rel):
        os.unlink(self.path(rel))

    def save(self, rel, text, style='inplace', dedent=True):
        """Replace rel's contents the way an editor does. Returns when the
        save is complete (every file closed, every rename done).

        inplace    open(O_WRONLY|O_TRUNC), write, close (VS Code, nano,
                   `echo > file`)
        atomic     write a temp file in the same directory, rename it over
                   the file (editors' "atomic save", most libraries)
        jetbrains  JetBrains "safe write": write F___jb_tmp___, rename F to
                   F___jb_old___, rename the temp to F, delete the old one
        vim        vim with backupcopy=no: probe-create/delete "4913",
                   rename F to F~, create F, write, close, delete F~
        sed        `sed -i`: the new text is produced by running sed with
                   a script that replaces the whole file (sed writes
                   sedXXXXXX and renames it over F)
        """
        full = self.path(rel)
        data = textwrap.dedent(text) if dedent else text
        d = os.path.dirname(full)
        base = os.path.basename(full)
        if style == 'inplace':
            fd = os.open(full, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
            try:
                _write_all(fd, data.encode())
            finally:
                os.close(fd)
        elif style == 'atomic':
            tmp = os.path.join(d, '.%s.%d.tmp' % (base, os.getpid()))
            with open(tmp, 'w') as f:
                f.write(data)
            os.replace(tmp, full)
        elif style == 'jetbrains':
            tmp = full + '___jb_tmp___'
            old = full + '___jb_old___'
            with open(tmp, 'w') as f:
                f.write(data)
            os.rename(full, old)
            os.rename(tmp, full)
            os.unlink(old)
        elif style == 'vim':
            probe = os.path.join(d, '4913')
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            os.unlink(probe)
            backup = full + '~'
            os.rename(full, backup)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _write_all(fd, data.encode())
            finally:
                os.close(fd)
            os.unlink(backup)
        elif style == 'sed':
            sed_replace_all(full, data)
        else:
            raise ValueError('unknown save style %r' % style)
        return full


def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def sed_replace_all(path, text):
    """Run `sed -i` so that it rewrites path to text (GNU sed: `1i\\`
    inserts the new lines before line 1, `d` deletes every old line)."""
    lines = text.split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    escaped = '\\\n'.join(l.replace('\\', '\\\\') for l in lines)
    script = '1i\\\n' + escaped + '\nd'
    subprocess.run(['sed', '-i', '-e', script, path], check=True,
                   timeout=scaled(10))
    with open(path) as f:
        got = f.read()
    assert got == text, 'sed produced %r, wanted %r' % (got, text)


def start(server_factory, project, app_spec, *args, mode='inotify',
          env=None, **kw):
    """Start hotserve on project (`--chdir` into it) and return the
    Server. mode 'poll' adds --poll."""
    argv = ['--chdir', project.root]
    if mode == 'poll':
        argv.append('--poll')
    elif mode != 'inotify':
        raise ValueError(mode)
    env = dict(env or {})
    # cwd is the project's parent: only --chdir puts the server in it.
    return server_factory(app_spec, *(argv + [str(a) for a in args]),
                          cwd=os.path.dirname(project.root), env=env, **kw)


def precompile(project, rel):
    """Write rel's __pycache__ entry the way a plain `python` run would
    (timestamp-checked .pyc: source mtime in seconds + size), so a test
    can check that hotserve never runs a stale one. Returns its path."""
    return py_compile.compile(
        project.path(rel), doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)


def get(srv, path='/', timeout=10):
    """(status, body text) of GET path on a fresh connection."""
    r = srv.get(path, timeout=timeout)
    return r.status, r.text()


def body(srv, path='/'):
    """The body of a GET that must answer 200."""
    r = srv.get(path, timeout=10)
    assert r.status == 200, ('GET %s: %s %s\n%s' % (
        path, r.status, r.text()[:3000], srv.describe()))
    return r.text()


def status(srv):
    """GET /__hotserve__/status as a dict (must be 200 JSON)."""
    r = srv.get('/__hotserve__/status', timeout=10)
    assert r.status == 200, ('status endpoint: %s %s\n%s'
                             % (r.status, r.text()[:3000], srv.describe()))
    assert (r.header('Content-Type') or '').startswith('application/json')
    return json.loads(r.body)


def reclog(srv):
    """The never-reloaded import log (list of module names)."""
    return json.loads(body(srv, '/__reclog__'))


def last_modules(st):
    return [m['name'] for m in st['last']['modules']]


def reload_lines(srv, since=0):
    """The `reloaded N modules ...` log lines after offset since, as
    match objects."""
    return list(RELOADED_RE.finditer(srv.stderr(), since))


class KeepAlive:
    """One persistent HTTP/1.1 connection for request loops."""

    def __init__(self, srv, timeout=10):
        self.conn = httplib.HTTPConnection(srv.host, srv.port,
                                           timeout=scaled(timeout))

    def get(self, path):
        self.conn.request('GET', path)
        r = self.conn.getresponse()
        data = r.read()
        if r.getheader('Connection', '').lower() == 'close':
            self.conn.close()
        return r.status, data.decode('utf-8', 'replace')

    def close(self):
        self.conn.close()


# ---- the reclog-instrumented two-module project (errors and saves tests) --

END = '\nreclog.ran(__name__)\n'


def mod(text):
    """A module that records each run of its body in reclog."""
    return 'import reclog\n' + text.strip('\n') + '\n' + END


def views(token):
    return mod('def view():\n    return "%s"' % token)


def two_module_project(tmp_path, token):
    """urls.py imports views.view (returning token); app.py serves it."""
    p = Project(tmp_path / 'proj')
    p.write('reclog.py', RECLOG)
    p.write('views.py', views(token))
    p.write('urls.py', mod('from views import view\nROUTES = {"/": view}'))
    p.write('app.py', wsgi_app('import urls', 'urls.ROUTES'))
    return p
