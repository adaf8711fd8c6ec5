from django.db.models import Count
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views.generic import CreateView, DetailView, ListView

from reviews.forms import ReviewForm

from .forms import BookForm
from .models import Author, Book


def home(request):
    """A function view: the front page."""
    context = {
        "headline": "Welcome to the hotserve example",
        "authors": Author.objects.annotate(n=Count("books")),
        "latest": Book.objects.select_related("author")[:3],
    }
    return render(request, "catalog/home.html", context)


class BookListView(ListView):
    """A class-based view: every book, newest first."""
    model = Book
    paginate_by = 20

    def get_queryset(self):
        return super().get_queryset().select_related("author")


class BookDetailView(DetailView):
    model = Book

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["reviews"] = self.object.reviews.all()
        context["review_form"] = ReviewForm()
        return context


class BookCreateView(CreateView):
    """A form: add a book."""
    model = Book
    form_class = BookForm
    success_url = reverse_lazy("catalog:book-list")
