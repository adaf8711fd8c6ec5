"""Signal receivers. Edit this file while the server runs: hotserve
replaces the receiver instead of connecting it a second time."""
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.models import Book

from .models import Review


@receiver(post_save, sender=Review)
def count_new_review(sender, instance, created, **kwargs):
    if created:
        Book.objects.filter(pk=instance.book_id).update(
            review_count=F("review_count") + 1)


@receiver(post_delete, sender=Review)
def uncount_review(sender, instance, **kwargs):
    Book.objects.filter(pk=instance.book_id, review_count__gt=0).update(
        review_count=F("review_count") - 1)
