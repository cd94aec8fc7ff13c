from django.apps import AppConfig


class WebmagicConfig(AppConfig):
    """The composition root, installed as an app for commands that span every app."""

    name = "webmagic"
    verbose_name = "WebMagic"
