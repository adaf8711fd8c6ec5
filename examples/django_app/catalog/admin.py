from django.contrib import admin

from .models import Author, Book


class BookInline(admin.TabularInline):
    model = Book
    extra = 0


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ("name", "born")
    inlines = [BookInline]


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    # Try it: add "review_count" here, save, reload the admin page.
    list_display = ("title", "author", "year")
    list_filter = ("author",)
    search_fields = ("title", "author__name")
