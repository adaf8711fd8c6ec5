"""Root URLconf: each app brings its own urls.py (include())."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("reviews/", include("reviews.urls")),
    path("", include("catalog.urls")),
]
