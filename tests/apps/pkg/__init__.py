"""Package for the dotted MODULE test (pkg.sub.wsgi)."""
