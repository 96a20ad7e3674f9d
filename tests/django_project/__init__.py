"""A minimal Django project whose settings the Django backend tests run under."""
