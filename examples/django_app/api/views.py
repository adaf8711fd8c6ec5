from django.db.models import Avg, Count
from django.http import JsonResponse
from rest_framework import viewsets

from catalog.models import Author, Book
from reviews.models import Review

from .serializers import AuthorSerializer, BookSerializer


class BookViewSet(viewsets.ReadOnlyModelViewSet):
    """GET /api/books/ and /api/books/<id>/ (Django REST framework)."""
    queryset = Book.objects.select_related("author")
    serializer_class = BookSerializer


class AuthorViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Author.objects.all()
    serializer_class = AuthorSerializer


def stats(request):
    """GET /api/stats/: a plain JSON endpoint (no DRF)."""
    reviews = Review.objects.aggregate(n=Count("id"), avg=Avg("rating"))
    return JsonResponse({
        "authors": Author.objects.count(),
        "books": Book.objects.count(),
        "reviews": reviews["n"],
        "average_rating": round(reviews["avg"] or 0, 2),
    })
