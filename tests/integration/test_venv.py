"""Virtualenvs: with VIRTUAL_ENV set (an activated venv), with --python
VENV/bin/python and with HOTSERVE_PYTHON, the embedded interpreter uses the
venv's prefix and site-packages. The venv is made by Debian's python3 with
--without-pip and holds one tiny package, hs_venv_probe."""

import glob
import json
import os
import subprocess

import pytest

from harness import PYTHON, server_env


@pytest.fixture(scope='module')
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp('venv') / 'env'
    subprocess.run([PYTHON, '-m', 'venv', '--without-pip', str(root)],
                   check=True, timeout=120, env=server_env(),
                   capture_output=True)
    sites = glob.glob(str(root / 'lib' / 'python3*' / 'site-packages'))
    assert len(sites) == 1, sites
    pkg = os.path.join(sites[0], 'hs_venv_probe')
    os.mkdir(pkg)
    with open(os.path.join(pkg, '__init__.py'), 'w') as f:
        f.write("VALUE = 'probe-from-venv'\n")
    return str(root)


def probe(srv):
    r = srv.get('/')
    assert r.status == 200, '%r\n%s' % (r, srv.describe())
    return json.loads(r.body)


def same_path(a, b):
    return os.path.realpath(a) == os.path.realpath(b)


def test_without_venv_the_package_is_missing(server_factory):
    # control: the probe package exists only inside the venv
    out = probe(server_factory('venv_app'))
    assert out['probe'] is None, out


def check_in_venv(srv, venv):
    out = probe(srv)
    assert out['probe'] == 'probe-from-venv', out
    assert same_path(out['prefix'], venv), out
    assert out['probe_file'].startswith(os.path.realpath(venv)) or \
        out['probe_file'].startswith(venv), out
    assert not same_path(out['base_prefix'], venv), out
    # the banner names the venv's prefix
    assert venv in srv.stdout() or os.path.realpath(venv) in srv.stdout(), \
        srv.stdout()


def test_virtual_env_variable(server_factory, venv):
    srv = server_factory('venv_app', env={'VIRTUAL_ENV': venv})
    check_in_venv(srv, venv)


def test_python_option(server_factory, venv):
    srv = server_factory('venv_app', '--python',
                         os.path.join(venv, 'bin', 'python'))
    check_in_venv(srv, venv)


def test_python_option_beats_virtual_env(server_factory, venv, tmp_path):
    other = tmp_path / 'not-a-venv'
    other.mkdir()
    srv = server_factory('venv_app', '--python',
                         os.path.join(venv, 'bin', 'python'),
                         env={'VIRTUAL_ENV': str(other)})
    check_in_venv(srv, venv)


def test_hotserve_python_variable(server_factory, venv):
    srv = server_factory('venv_app', env={
        'HOTSERVE_PYTHON': os.path.join(venv, 'bin', 'python')})
    check_in_venv(srv, venv)
