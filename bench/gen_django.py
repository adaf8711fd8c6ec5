#!/usr/bin/python3
"""Generate a large, realistic Django project for the reload benchmarks.

    bench/gen_django.py OUT --apps N

writes a project of N apps (plus a shared `core` app) into OUT, which must
not exist or be empty (--force overwrites the generated files of an
earlier run). Every app `appK` has:

    appK/__init__.py, apps.py      AppConfig whose ready() imports signals
    appK/models.py                 Category, Item, Comment; Item has
                                   foreign keys into app(K-1) and app(K//2)
                                   (lower-numbered apps only, so the
                                   migration graph has no cycle) and to
                                   the user model
    appK/migrations/0001_initial   exactly what makemigrations would write
    appK/admin.py                  three registrations, an inline, a
                                   ModelForm from forms.py
    appK/forms.py                  a ModelForm and a plain search Form
    appK/serializers.py            DRF ModelSerializers
    appK/api.py                    DRF ModelViewSets
    appK/views.py                  function views and class-based views
                                   (VIEW_TOKEN is what the benchmark edits)
    appK/utils.py                  helpers, also imported by app(K+1)
    appK/signals.py                a post_save receiver
    appK/urls.py                   app URLs + a DRF router; the root URLconf
                                   includes it by string, include("appK.urls")
    appK/tests.py                  (not imported by the server)
    appK/templates/appK/index.html, item_list.html

Most apps (every app whose number is not 7 modulo 8) import
`core/utils.py` from their views, forms and serializers: editing it re-runs
most of the project. The settings install every app, Django's contrib apps
and rest_framework; `mysite/wsgi.py` and `mysite/asgi.py` are Django's
usual ones; `GET /ping/` answers "pong" (core.views.ping, no database).

At N=200 that is about 3,200 files and 2,600 project modules loaded by a
server (`tests.py` is not imported).

The benchmark imports this file and uses the render_* functions to write
edits; TOKENS names the three edit targets.
"""

import argparse
import os
import sys

# The edit targets of bench/reload_latency: (kind, token prefix).
TOKENS = {"view": "V", "template": "T", "utils": "U"}
CORE_UTILS_EVERY = 8    # apps with k % 8 == 7 do not import core.utils


def app_name(k):
    return "app%d" % k


def uses_core_utils(k):
    return k % CORE_UTILS_EVERY != CORE_UTILS_EVERY - 1


def fk_targets(k):
    """Lower-numbered apps whose Item appK.Item points to (no cycles)."""
    out = []
    if k >= 1:
        out.append(k - 1)
    if k >= 2 and k // 2 != k - 1:
        out.append(k // 2)
    return out


def probe_app(n):
    """The app the benchmark edits and requests: in the middle, and one
    that imports core.utils."""
    k = n // 2
    while not uses_core_utils(k):
        k -= 1
    return k


# ------------------------------------------------------------ project files

MANAGE_PY = '''\
#!/usr/bin/env python3
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
'''

SETTINGS_PY = '''\
"""Settings of a generated benchmark project ({n} apps)."""
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "bench-only-not-a-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "core",
{apps}
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"

TEMPLATES = [
    {{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {{
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        }},
    }},
]

WSGI_APPLICATION = "mysite.wsgi.application"
ASGI_APPLICATION = "mysite.asgi.application"

DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }}
}}

AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_L10N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {{
    "DEFAULT_PAGINATION_CLASS":
        "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
}}
'''

ROOT_URLS_PY = '''\
"""Root URLconf: the admin, /ping/ and every app, included by string."""
from django.contrib import admin
from django.urls import include, path

from core import views as core_views

urlpatterns = [
    path("ping/", core_views.ping, name="ping"),
    path("", core_views.home, name="home"),
    path("admin/", admin.site.urls),
{includes}
]
'''

WSGI_PY = '''\
"""WSGI config: exposes the WSGI callable as ``application``."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()
'''

ASGI_PY = '''\
"""ASGI config: exposes the ASGI callable as ``application``."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_asgi_application()
'''

BASE_HTML = '''\
{% load static %}<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{% block title %}Benchmark site{% endblock %}</title>
  <link rel="stylesheet" href="{% static "site.css" %}">
</head>
<body>
  <nav><a href="/">Home</a> · <a href="/admin/">Admin</a></nav>
  <main>{% block content %}{% endblock %}</main>
</body>
</html>
'''

HOME_HTML = '''\
{% extends "base.html" %}
{% block content %}
<h1>{{ apps|length }} apps</h1>
<ul>{% for a in apps %}<li><a href="/{{ a }}/">{{ a }}</a></li>{% endfor %}</ul>
{% endblock %}
'''

SITE_CSS = '''\
body { font-family: sans-serif; margin: 2rem; }
nav a { margin-right: 1rem; }
.tokens { color: #555; }
'''

CORE_APPS_PY = '''\
from django.apps import AppConfig


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Core"
'''

CORE_VIEWS_PY = '''\
"""Project-wide views."""
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render


def ping(request):
    return HttpResponse("pong", content_type="text/plain")


def home(request):
    apps = [a for a in settings.INSTALLED_APPS if a.startswith("app")]
    return render(request, "home.html", {"apps": apps})
'''

CORE_UTILS_PY = '''\
"""Helpers shared by most apps (their views, forms and serializers)."""
import re
from decimal import Decimal, ROUND_HALF_UP

from django.utils.text import slugify

UTILS_TOKEN = "{token}"
_SPACES = re.compile(r"\\s+")


def label(text):
    """A display label: the site's brand and the text."""
    return "%s:%s" % (UTILS_TOKEN, text)


def clean_title(value):
    value = _SPACES.sub(" ", value or "").strip()
    if not value:
        raise ValueError("empty title")
    return value[:1].upper() + value[1:]


def unique_slug(value, taken):
    base = slugify(value) or "item"
    slug, i = base, 2
    while slug in taken:
        slug = "%s-%d" % (base, i)
        i += 1
    return slug


def money(value):
    amount = Decimal(value or 0).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return "$%s" % amount


def paginate_numbers(page, count, window=2):
    lo = max(1, page - window)
    hi = min(count, page + window)
    return list(range(lo, hi + 1))
'''

# ------------------------------------------------------------ app files

APPS_PY = '''\
from django.apps import AppConfig


class {cls}Config(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "{app}"
    verbose_name = "{title}"

    def ready(self):
        from . import signals  # noqa: F401
'''

MODELS_PY = '''\
from django.conf import settings
from django.db import models
from django.urls import reverse


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE,
        related_name="children")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Item(models.Model):
    STATUS_CHOICES = [("draft", "Draft"), ("published", "Published")]

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=STATUS_CHOICES,
                              default="draft")
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    created = models.DateTimeField(auto_now_add=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT,
                                 related_name="items")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True,
        on_delete=models.SET_NULL, related_name="{app}_items")
{cross_fields}
    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("{app}:item-detail", args=[self.pk])


class Comment(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE,
                             related_name="comments")
    author = models.CharField(max_length=100)
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return "%s on %s" % (self.author, self.item)
'''

CROSS_FIELD = '''\
    {field} = models.ForeignKey(
        "{target}.Item", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="{app}_{field}")
'''

MIGRATION_PY = '''\
from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
{deps}
    ]

    operations = [
        migrations.CreateModel(
            name='Category',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('slug', models.SlugField(unique=True)),
                ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='children', to='{app}.category')),
            ],
            options={{
                'verbose_name_plural': 'categories',
                'ordering': ['name'],
            }},
        ),
        migrations.CreateModel(
            name='Item',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(max_length=200)),
                ('body', models.TextField(blank=True)),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('published', 'Published')], default='draft', max_length=20)),
                ('price', models.DecimalField(decimal_places=2, default=0, max_digits=8)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('category', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='items', to='{app}.category')),
                ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='{app}_items', to=settings.AUTH_USER_MODEL)),
{cross_fields}            ],
            options={{
                'ordering': ['-created'],
            }},
        ),
        migrations.CreateModel(
            name='Comment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('author', models.CharField(max_length=100)),
                ('text', models.TextField()),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('item', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='comments', to='{app}.item')),
            ],
        ),
    ]
'''

MIGRATION_CROSS = (
    "                ('{field}', models.ForeignKey(blank=True, null=True, "
    "on_delete=django.db.models.deletion.SET_NULL, "
    "related_name='{app}_{field}', to='{target}.item')),\n")

ADMIN_PY = '''\
from django.contrib import admin

from .forms import ItemAdminForm
from .models import Category, Comment, Item


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent")
    search_fields = ("name",)
    prepopulated_fields = {{"slug": ("name",)}}


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    form = ItemAdminForm
    list_display = ("title", "status", "price", "category", "created")
    list_filter = ("status", "category")
    search_fields = ("title", "body")
    raw_id_fields = ("owner",{raw_ids})
    date_hierarchy = "created"
    inlines = [CommentInline]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("author", "item", "created")
    search_fields = ("author", "text")
'''

FORMS_PY = '''\
from django import forms
{core_import}
from .models import Item


class ItemAdminForm(forms.ModelForm):
    class Meta:
        model = Item
        fields = "__all__"

    def clean_title(self):
        title = self.cleaned_data["title"]
{clean_body}


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    status = forms.ChoiceField(
        required=False, choices=[("", "any")] + Item.STATUS_CHOICES)
    min_price = forms.DecimalField(required=False, min_value=0)

    def clean_q(self):
        return self.cleaned_data["q"].strip()
'''

SERIALIZERS_PY = '''\
from rest_framework import serializers
{core_import}
from .models import Category, Comment, Item


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent"]


class CommentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Comment
        fields = ["id", "item", "author", "text", "created"]
        read_only_fields = ["created"]


class ItemSerializer(serializers.ModelSerializer):
    category = CategorySerializer(read_only=True)
    category_id = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), source="category", write_only=True)
    comments = CommentSerializer(many=True, read_only=True)
    price_label = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = ["id", "title", "body", "status", "price", "price_label",
                  "created", "category", "category_id", "comments"]
        read_only_fields = ["created"]

    def get_price_label(self, obj):
{price_body}
'''

API_PY = '''\
from rest_framework import permissions, viewsets

from .models import Category, Comment, Item
from .serializers import (CategorySerializer, CommentSerializer,
                          ItemSerializer)


class CategoryViewSet(viewsets.ModelViewSet):
    queryset = Category.objects.all()
    serializer_class = CategorySerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]


class ItemViewSet(viewsets.ModelViewSet):
    queryset = Item.objects.select_related("category").prefetch_related(
        "comments")
    serializer_class = ItemSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]

    def get_queryset(self):
        qs = super().get_queryset()
        status = self.request.query_params.get("status")
        return qs.filter(status=status) if status else qs


class CommentViewSet(viewsets.ModelViewSet):
    queryset = Comment.objects.all()
    serializer_class = CommentSerializer
'''

VIEWS_PY = '''\
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.generic import DetailView, ListView, TemplateView
{core_import}{prev_import}
from . import utils
from .forms import SearchForm
from .models import Item

VIEW_TOKEN = "{token}"


def index(request):
    form = SearchForm(request.GET or None)
    context = {{
        "title": "{title}",
        "view_token": VIEW_TOKEN,
        "brand": {brand},
        "form": form,
        "numbers": {numbers},
        "badge": utils.badge("{app}"),
    }}
    return render(request, "{app}/index.html", context)


def stats(request):
    values = [1, 2, 3, 5, 8]
    return JsonResponse({{"app": "{app}", "summary": {summary}}})


def item_detail(request, pk):
    item = get_object_or_404(Item, pk=pk)
    return JsonResponse({{"id": item.pk, "title": item.title,
                         "status": item.status}})


class ItemListView(ListView):
    model = Item
    paginate_by = 20
    template_name = "{app}/item_list.html"

    def get_queryset(self):
        qs = super().get_queryset().select_related("category")
        form = SearchForm(self.request.GET or None)
        if form.is_valid() and form.cleaned_data["q"]:
            qs = qs.filter(title__icontains=form.cleaned_data["q"])
        return qs


class ItemDetailView(DetailView):
    model = Item
    template_name = "{app}/item_list.html"


class AboutView(TemplateView):
    template_name = "{app}/index.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(title="About {title}", view_token=VIEW_TOKEN,
                   form=SearchForm(), numbers=[])
        return ctx
'''

APP_UTILS_PY = '''\
"""Helpers of {app} (also used by the next app's views)."""
from django.utils.html import format_html


def badge(text):
    return format_html('<span class="badge">{{}}</span>', text)


def summarize(values):
    values = list(values)
    if not values:
        return {{"n": 0, "total": 0, "mean": None}}
    total = sum(values)
    return {{"n": len(values), "total": total, "mean": total / len(values)}}
'''

SIGNALS_PY = '''\
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Comment, Item


@receiver(post_save, sender=Item, dispatch_uid="{app}_item_saved")
def item_saved(sender, instance, created, **kwargs):
    if created and not instance.body:
        instance.body = instance.title


@receiver(post_save, sender=Comment)
def comment_saved(sender, instance, created, **kwargs):
    return created
'''

APP_URLS_PY = '''\
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import api, views

app_name = "{app}"

router = DefaultRouter()
router.register("items", api.ItemViewSet)
router.register("categories", api.CategoryViewSet)
router.register("comments", api.CommentViewSet)

urlpatterns = [
    path("", views.index, name="index"),
    path("about/", views.AboutView.as_view(), name="about"),
    path("items/", views.ItemListView.as_view(), name="item-list"),
    path("items/<int:pk>/", views.item_detail, name="item-detail"),
    path("items/<int:pk>/page/", views.ItemDetailView.as_view(),
         name="item-page"),
    path("stats/", views.stats, name="stats"),
    path("api/", include(router.urls)),
]
'''

TESTS_PY = '''\
from django.test import TestCase
from django.urls import reverse


class IndexTests(TestCase):
    def test_index(self):
        response = self.client.get(reverse("{app}:index"))
        self.assertEqual(response.status_code, 200)
'''

INDEX_HTML = '''\
{{% extends "base.html" %}}
{{% block title %}}{{{{ title }}}}{{% endblock %}}
{{% block content %}}
<h1>{{{{ title }}}} {{{{ badge }}}}</h1>
<p class="tokens">view:{{{{ view_token }}}} template:{token} utils:{{{{ brand }}}}</p>
<form method="get">{{% csrf_token %}}{{{{ form.as_p }}}}<button>Search</button></form>
<ul>{{% for n in numbers %}}<li><a href="?page={{{{ n }}}}">{{{{ n }}}}</a></li>{{% endfor %}}</ul>
{{% endblock %}}
'''

ITEM_LIST_HTML = '''\
{{% extends "base.html" %}}
{{% block content %}}
<h1>{title} items</h1>
<ul>
{{% for item in object_list %}}
  <li><a href="{{{{ item.get_absolute_url }}}}">{{{{ item.title }}}}</a> ({{{{ item.get_status_display }}}}, {{{{ item.price }}}})</li>
{{% empty %}}
  <li>No items.</li>
{{% endfor %}}
</ul>
{{% if is_paginated %}}<p>Page {{{{ page_obj.number }}}} of {{{{ paginator.num_pages }}}}</p>{{% endif %}}
{{% endblock %}}
'''


def initial_token(kind):
    return TOKENS[kind] + "00000"


def render_core_utils(token):
    return CORE_UTILS_PY.format(token=token)


def render_views(k, token):
    app = app_name(k)
    core = uses_core_utils(k)
    return VIEWS_PY.format(
        app=app, title="App %d" % k, token=token,
        core_import=("from core.utils import label, paginate_numbers\n"
                     if core else ""),
        prev_import=("from %s.utils import summarize\n" % app_name(k - 1)
                     if k >= 1 else ""),
        brand=('label("%s")' % app) if core else '"%s"' % app,
        numbers="paginate_numbers(1, 5)" if core else "[1, 2, 3]",
        summary=("summarize(values)" if k >= 1
                 else "utils.summarize(values)"))


def render_index_template(k, token):
    return INDEX_HTML.format(token=token)


def app_files(k, n):
    """{relative path: text} of app k."""
    app = app_name(k)
    cls = "App%d" % k
    title = "App %d" % k
    core = uses_core_utils(k)
    targets = fk_targets(k)
    names = ["previous", "parent_item"][:len(targets)]
    cross_fields = "".join(CROSS_FIELD.format(field=f, target=app_name(t),
                                              app=app)
                           for f, t in zip(names, targets))
    mig_cross = "".join(MIGRATION_CROSS.format(field=f, target=app_name(t),
                                               app=app)
                        for f, t in zip(names, targets))
    deps = "".join("        ('%s', '0001_initial'),\n" % app_name(t)
                   for t in targets)
    files = {
        "__init__.py": "",
        "apps.py": APPS_PY.format(cls=cls, app=app, title=title),
        "models.py": MODELS_PY.format(app=app, cross_fields=cross_fields),
        "migrations/__init__.py": "",
        "migrations/0001_initial.py": MIGRATION_PY.format(
            app=app, deps=deps.rstrip("\n"), cross_fields=mig_cross),
        "admin.py": ADMIN_PY.format(raw_ids="".join(' "%s",' % f
                                                     for f in names)),
        "forms.py": FORMS_PY.format(
            core_import="\nfrom core.utils import clean_title\n"
            if core else "",
            clean_body="        try:\n"
                       "            return clean_title(title)\n"
                       "        except ValueError:\n"
                       "            raise forms.ValidationError("
                       "\"A title is required.\")"
            if core else "        return title.strip()"),
        "serializers.py": SERIALIZERS_PY.format(
            core_import="\nfrom core.utils import money\n" if core else "",
            price_body="        return money(obj.price)" if core
            else "        return \"$%s\" % obj.price"),
        "api.py": API_PY,
        "views.py": render_views(k, initial_token("view")),
        "utils.py": APP_UTILS_PY.format(app=app),
        "signals.py": SIGNALS_PY.format(app=app),
        "urls.py": APP_URLS_PY.format(app=app),
        "tests.py": TESTS_PY.format(app=app),
        "templates/%s/index.html" % app: render_index_template(
            k, initial_token("template")),
        "templates/%s/item_list.html" % app: ITEM_LIST_HTML.format(
            title=title),
    }
    if not deps:
        files["migrations/0001_initial.py"] = files[
            "migrations/0001_initial.py"].replace(
                "AUTH_USER_MODEL),\n\n", "AUTH_USER_MODEL),\n")
    return {os.path.join(app, rel): text for rel, text in files.items()}


def project_files(n):
    """{relative path: text} of the whole project of n apps."""
    apps = [app_name(k) for k in range(n)]
    files = {
        "manage.py": MANAGE_PY,
        "mysite/__init__.py": "",
        "mysite/settings.py": SETTINGS_PY.format(
            n=n, apps="\n".join('    "%s",' % a for a in apps)),
        "mysite/urls.py": ROOT_URLS_PY.format(includes="\n".join(
            '    path("%s/", include("%s.urls")),' % (a, a) for a in apps)),
        "mysite/wsgi.py": WSGI_PY,
        "mysite/asgi.py": ASGI_PY,
        "core/__init__.py": "",
        "core/apps.py": CORE_APPS_PY,
        "core/views.py": CORE_VIEWS_PY,
        "core/utils.py": render_core_utils(initial_token("utils")),
        "templates/base.html": BASE_HTML,
        "templates/home.html": HOME_HTML,
        "static/site.css": SITE_CSS,
    }
    for k in range(n):
        files.update(app_files(k, n))
    return files


def write_text(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def generate(out, n, force=False):
    """Write the project of n apps into out. Returns the number of files.
    Raises ValueError for bad arguments (n < 1, out not empty)."""
    if n < 1:
        raise ValueError("--apps must be at least 1")
    if os.path.exists(out):
        if not os.path.isdir(out):
            raise ValueError("%s exists and is not a directory" % out)
        if os.listdir(out) and not force:
            raise ValueError("%s is not empty (use --force to overwrite)"
                             % out)
    files = project_files(n)
    for rel, text in files.items():
        write_text(os.path.join(out, rel), text)
    os.chmod(os.path.join(out, "manage.py"), 0o755)
    return len(files)


def main(argv):
    ap = argparse.ArgumentParser(
        prog="bench/gen_django.py",
        description="Generate a large Django project (N apps with models, "
                    "admin, views, forms, DRF serializers, templates) for "
                    "the reload benchmarks.")
    ap.add_argument("out", metavar="OUT",
                    help="directory to create (must be empty)")
    ap.add_argument("--apps", type=int, required=True, metavar="N",
                    help="number of apps (e.g. 10, 50, 200)")
    ap.add_argument("--force", action="store_true",
                    help="write into a non-empty directory")
    opts = ap.parse_args(argv)
    try:
        count = generate(opts.out, opts.apps, opts.force)
    except (ValueError, OSError) as e:
        ap.error(str(e))
    print("%s: %d apps, %d files; probe app %s (GET /%s/), GET /ping/"
          % (opts.out, opts.apps, count, app_name(probe_app(opts.apps)),
             app_name(probe_app(opts.apps))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
