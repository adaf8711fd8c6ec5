from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("books", views.BookViewSet)
router.register("authors", views.AuthorViewSet)

urlpatterns = [
    path("stats/", views.stats, name="api-stats"),
    path("", include(router.urls)),
]
