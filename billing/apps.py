from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing import webhooks
        from crm import inbox

        inbox.register(webhooks.PROVIDER, webhooks.event_apply)
