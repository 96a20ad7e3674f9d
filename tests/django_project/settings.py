"""Settings of the test project: Django's mail goes through mailbridge (tests override ``MAILBRIDGE``)."""

SECRET_KEY = "test-only-not-secret"
INSTALLED_APPS: list[str] = []
USE_TZ = True
EMAIL_BACKEND = "mailbridge.django.EmailBackend"
DEFAULT_FROM_EMAIL = "noreply@mail.example.com"
MAILBRIDGE = {"URL": "local://.mailbridge-django-tests", "IGNORE_UNSUPPORTED_FEATURES": False}
