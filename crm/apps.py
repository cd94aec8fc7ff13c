from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm import tallies

        # SQLite's day-tally triggers call crm_tally_day() (days in CRM_TIME_ZONE).
        tallies.connect()
