"""A few books so the example is not empty on the first run."""
from django.db import migrations

DEMO = [
    ("Ursula K. Le Guin", 1929, [
        ("A Wizard of Earthsea", 1968),
        ("The Dispossessed", 1974),
    ]),
    ("Italo Calvino", 1923, [
        ("Invisible Cities", 1972),
    ]),
    ("Octavia E. Butler", 1947, [
        ("Kindred", 1979),
        ("Parable of the Sower", 1993),
    ]),
]


def add_demo_data(apps, schema_editor):
    Author = apps.get_model("catalog", "Author")
    Book = apps.get_model("catalog", "Book")
    if Author.objects.exists():
        return
    for name, born, books in DEMO:
        author = Author.objects.create(name=name, born=born)
        for title, year in books:
            Book.objects.create(title=title, author=author, year=year)


def remove_demo_data(apps, schema_editor):
    Author = apps.get_model("catalog", "Author")
    Author.objects.filter(name__in=[d[0] for d in DEMO]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(add_demo_data, remove_demo_data),
    ]
