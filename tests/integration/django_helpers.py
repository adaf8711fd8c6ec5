"""A real Django project for the Django integration tests
(tests/integration/test_django_*.py), generated in a tmp dir.

    proj = make_project(tmp_path / 'proj')      # files only
    prepare(proj)                               # makemigrations + migrate
                                                # + superuser admin/pw
    srv = start(server_factory, proj, 'mysite.wsgi:application')
    proj.save('shop/views.py', ...)             # then request at once

The project (Django 3.2 from Debian, written against APIs Django 4/5 keep):

    mysite/settings.py   DEBUG from $TEST_DJANGO_DEBUG (default on), the
                         cached template loader in every mode (the Django
                         >= 4.1 default), LOCALE_PATHS and a template dir
                         OUTSIDE the project (../shared_templates,
                         ../shared_locale: watched although not under the
                         working directory), rest_framework, shop
    mysite/urls.py       admin/, shop/ (include), extra routes
    shop/                models Category <- Item (FK), admin, views
                         (function, class-based, TemplateView, forms, DRF
                         serializer, signals, translation), templatetags,
                         templates with inheritance, static file
    shop/counter.py      never edited (so never reloaded): what signal
                         receivers record

Every file is a module-level constant so tests can derive edits from it
(`VIEWS.replace('hello v1', 'hello v2')`).
"""

import os
import struct
import subprocess
import textwrap

from harness import PYTHON, scaled
from reload_helpers import Project

SETTINGS = '''# settings-file-marker: never served
import os
import sys
from pathlib import Path

# PyYAML's C extension, which Django REST framework imports when it is
# installed, leaks the code objects it creates at import (Cython) when the
# interpreter exits: the ASan build of the suite would report it. DRF
# works without it.
sys.modules.setdefault('yaml', None)

BASE_DIR = Path(__file__).resolve().parent.parent
SHARED = BASE_DIR.parent

SECRET_KEY = 'test-only'
DEBUG = os.environ.get('TEST_DJANGO_DEBUG', '1') == '1'
ALLOWED_HOSTS = ['127.0.0.1', 'localhost', 't']  # t: restart_helpers' Host

INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
    'rest_framework',
    'shop',
]

MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
]

ROOT_URLCONF = 'mysite.urls'

TEMPLATES = [{
    'BACKEND': 'django.template.backends.django.DjangoTemplates',
    'DIRS': [BASE_DIR / 'templates', SHARED / 'shared_templates'],
    'OPTIONS': {
        'context_processors': [
            'django.template.context_processors.debug',
            'django.template.context_processors.request',
            'django.contrib.auth.context_processors.auth',
            'django.contrib.messages.context_processors.messages',
        ],
        # The cached loader even with DEBUG on (Django >= 4.1 default):
        # a template edit must reset it.
        'loaders': [('django.template.loaders.cached.Loader', [
            'django.template.loaders.filesystem.Loader',
            'django.template.loaders.app_directories.Loader',
        ])],
    },
}]

WSGI_APPLICATION = 'mysite.wsgi.application'
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3',
                         'NAME': str(BASE_DIR / 'db.sqlite3')}}
AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = 'en-us'
LANGUAGES = [('en', 'English'), ('fr', 'French')]
LOCALE_PATHS = [SHARED / 'shared_locale']
USE_I18N = True
USE_TZ = True
STATIC_URL = '/static/'
DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'
SETTING_MARK = 'settings v1'
'''

WSGI = '''
import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')
application = get_wsgi_application()
'''

MANAGE = '''
import os
import sys
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
'''

ROOT_URLS = '''
from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path


def root_view(request):
    return HttpResponse('root v1')


def setting_view(request):
    return HttpResponse(settings.SETTING_MARK)


urlpatterns = [
    path('admin/', admin.site.urls),
    path('shop/', include('shop.urls')),
    path('root/', root_view),
    path('setting/', setting_view),
]
'''

APPS = '''
from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = 'shop'

    def ready(self):
        from . import signals  # noqa: F401
'''

MODELS = '''
from django.db import models


class Category(models.Model):
    title = models.CharField(max_length=50)

    def __str__(self):
        return self.title


class Item(models.Model):
    name = models.CharField(max_length=50)
    price = models.IntegerField(default=1)
    category = models.ForeignKey(Category, null=True, blank=True,
                                 on_delete=models.SET_NULL)

    def __str__(self):
        return self.name
'''

ADMIN = '''
from django.contrib import admin

from .models import Item


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ('name',)
'''

COUNTER = '''
events = []
'''

SIGNALS = '''
from django.db.models.signals import post_save
from django.dispatch import receiver

from . import counter
from .models import Item

LABEL = 'v1'


@receiver(post_save, sender=Item)
def plain(sender, instance, **kwargs):
    counter.events.append('plain-' + LABEL)


def strong(sender, instance, **kwargs):
    counter.events.append('strong-' + LABEL)


post_save.connect(strong, sender=Item, weak=False)


@receiver(post_save, sender=Item, dispatch_uid='shop-uid')
def with_uid(sender, instance, **kwargs):
    counter.events.append('uid-' + LABEL)
'''

FORMS = '''
from django import forms

from .models import Item


class ItemForm(forms.ModelForm):
    class Meta:
        model = Item
        fields = ['name']
'''

SERIALIZERS = '''
from rest_framework import serializers

from .models import Item


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ['name']
'''

VIEWS = '''
from django.http import HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext
from django.views import View
from django.views.generic import TemplateView

from . import counter
from .forms import ItemForm
from .models import Item
from .serializers import ItemSerializer


def hello(request):
    return HttpResponse('hello v1')


class About(View):
    def get(self, request):
        return HttpResponse('about v1')


class Page(TemplateView):
    template_name = 'shop/page.html'


class Shared(TemplateView):
    template_name = 'shared.html'


def form_fields(request):
    return HttpResponse(','.join(ItemForm().fields))


def serialized(request):
    return JsonResponse(ItemSerializer(Item(name='pen', price=3)).data)


def make_item(request):
    before = len(counter.events)
    Item.objects.create(name=request.GET.get('name', 'thing'))
    return JsonResponse({'events': counter.events[before:]})


def translated(request):
    with translation.override('fr'):
        return HttpResponse(gettext('Hello'))


def boom(request):
    raise RuntimeError('boom from the view')


def model_fields(request):
    return HttpResponse(','.join(f.name for f in Item._meta.concrete_fields))
'''

APP_URLS = '''
from django.urls import path

from . import views

urlpatterns = [
    path('hello/', views.hello),
    path('about/', views.About.as_view()),
    path('page/', views.Page.as_view()),
    path('shared/', views.Shared.as_view()),
    path('form/', views.form_fields),
    path('serialized/', views.serialized),
    path('make/', views.make_item),
    path('translated/', views.translated),
    path('boom/', views.boom),
    path('fields/', views.model_fields),
]
'''

TAGS = '''
from django import template

register = template.Library()


@register.filter
def shout(value):
    return str(value).upper() + '!'
'''

BASE_HTML = ('<html><body>[base v1]{% block content %}{% endblock %}'
             '</body></html>\n')

PAGE_HTML = '''{% extends "base.html" %}{% load shop_tags %}
{% block content %}[page v1] {{ "hi"|shout }}{% endblock %}
'''

SHARED_HTML = '''[shared v1]
'''

CSS = '''body { color: #111; } /* css v1 */
'''

FILES = {
    'manage.py': MANAGE,
    'mysite/__init__.py': '',
    'mysite/settings.py': SETTINGS,
    'mysite/urls.py': ROOT_URLS,
    'mysite/wsgi.py': WSGI,
    'shop/__init__.py': '',
    'shop/apps.py': APPS,
    'shop/models.py': MODELS,
    'shop/admin.py': ADMIN,
    'shop/counter.py': COUNTER,
    'shop/signals.py': SIGNALS,
    'shop/forms.py': FORMS,
    'shop/serializers.py': SERIALIZERS,
    'shop/views.py': VIEWS,
    'shop/urls.py': APP_URLS,
    'shop/migrations/__init__.py': '',
    'shop/templatetags/__init__.py': '',
    'shop/templatetags/shop_tags.py': TAGS,
    'shop/templates/shop/page.html': PAGE_HTML,
    'templates/base.html': BASE_HTML,
    'shop/static/shop/site.css': CSS,
}


def mo_bytes(catalog):
    """A GNU gettext .mo file for {msgid: msgstr} (UTF-8)."""
    entries = dict(catalog)
    entries.setdefault('', 'Content-Type: text/plain; charset=UTF-8\n')
    keys = sorted(entries)
    ids = [k.encode() for k in keys]
    strs = [entries[k].encode() for k in keys]
    n = len(keys)
    header = 7 * 4
    ids_off = header
    strs_off = ids_off + n * 8
    data_off = strs_off + n * 8
    blob = b''
    id_table = []
    for s in ids:
        id_table.append((len(s), data_off + len(blob)))
        blob += s + b'\0'
    str_table = []
    for s in strs:
        str_table.append((len(s), data_off + len(blob)))
        blob += s + b'\0'
    out = struct.pack('<7I', 0x950412de, 0, n, ids_off, strs_off, 0, 0)
    for length, off in id_table + str_table:
        out += struct.pack('<2I', length, off)
    return out + blob


def write_mo(path, catalog):
    """Write a .mo file atomically (rename), like msgfmt -o does not: a
    rename is what most tools that regenerate files do."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(mo_bytes(catalog))
    os.replace(tmp, path)


class DjangoProject(Project):
    """The generated project; `shared` is its parent directory (outside
    the working directory hotserve watches)."""

    @property
    def shared(self):
        return os.path.dirname(self.root)

    def mo_path(self):
        return os.path.join(self.shared, 'shared_locale', 'fr',
                            'LC_MESSAGES', 'django.mo')

    def shared_template(self):
        return os.path.join(self.shared, 'shared_templates', 'shared.html')


def make_project(root, overrides=None):
    """Write the project under root (a directory that must not exist or be
    empty), the shared template and .mo file next to it. overrides maps
    relative paths to other contents (None removes the file)."""
    proj = DjangoProject(root)
    files = dict(FILES)
    files.update(overrides or {})
    for rel, text in files.items():
        if text is not None:
            proj.write(rel, text)
    os.makedirs(os.path.dirname(proj.shared_template()), exist_ok=True)
    with open(proj.shared_template(), 'w') as f:
        f.write(SHARED_HTML)
    write_mo(proj.mo_path(), {'Hello': 'Bonjour v1'})
    return proj


SETUP_SCRIPT = '''
import os, sys
sys.path.insert(0, os.getcwd())
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')
import django
django.setup()
from django.core.management import call_command
call_command('makemigrations', 'shop', verbosity=0)
if '--migrate' in sys.argv:
    call_command('migrate', verbosity=0)
    from django.contrib.auth.models import User
    User.objects.create_superuser('admin', 'admin@example.com', 'pw')
'''


def prepare(proj, migrate=True):
    """makemigrations for shop (always) and, with migrate, the database
    with a superuser admin/pw. Runs the interpreter hotserve uses."""
    args = [PYTHON, '-c', SETUP_SCRIPT]
    if migrate:
        args.append('--migrate')
    env = dict(os.environ)
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    r = subprocess.run(args, cwd=proj.root, env=env, capture_output=True,
                       text=True, timeout=scaled(120))
    assert r.returncode == 0, 'project setup failed:\n%s\n%s' % (r.stdout,
                                                                 r.stderr)


def dedent(text):
    return textwrap.dedent(text)


# -- requests ----------------------------------------------------------------

import http.cookiejar  # noqa: E402
import re  # noqa: E402
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402


class Browser:
    """A cookie-keeping client for the admin: login(), get(), post()."""

    def __init__(self, srv):
        self.base = 'http://%s:%d' % (srv.host, srv.port)
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar))

    def _open(self, req):
        try:
            with self.opener.open(req, timeout=scaled(20)) as r:
                return r.status, r.read().decode('utf-8', 'replace')
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode('utf-8', 'replace')

    def get(self, path):
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path, fields):
        data = urllib.parse.urlencode(fields).encode()
        return self._open(urllib.request.Request(self.base + path,
                                                 data=data))

    def csrf(self, html):
        m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert m, html[:2000]
        return m.group(1)

    def login(self, user='admin', password='pw'):
        code, html = self.get('/admin/login/')
        assert code == 200, html[:2000]
        code, html = self.post('/admin/login/?next=/admin/', {
            'csrfmiddlewaretoken': self.csrf(html), 'username': user,
            'password': password, 'next': '/admin/'})
        assert code == 200 and 'Site administration' in html, (code,
                                                               html[:3000])


def edit(proj, rel, old, new, count=1, style='inplace'):
    """Replace old by new in proj's file rel (which must contain it) and
    save it the way an editor does."""
    text = proj.read(rel)
    assert text.count(old) == count, (rel, old, text)
    proj.save(rel, text.replace(old, new), style=style, dedent=False)
