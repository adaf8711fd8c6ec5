from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from catalog.models import Book


class Review(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE,
                             related_name="reviews")
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)])
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return "%s: %d/5" % (self.book, self.rating)
