from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from catalog.models import Book

from .forms import ReviewForm


@require_POST
def add_review(request, book_id):
    book = get_object_or_404(Book, pk=book_id)
    form = ReviewForm(request.POST)
    if form.is_valid():
        review = form.save(commit=False)
        review.book = book
        review.save()
        return redirect(book)
    return render(request, "reviews/review_form.html",
                  {"book": book, "form": form}, status=400)
