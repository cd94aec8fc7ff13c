"""The lead page's cached lookups (crm.sidebar) and the navigation's unread-replies count:
cached between requests, and dropped as soon as what they list changes."""

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.lifecycle import message_mark_read
from campaigns.models import Campaign
from campaigns.replies import reply_record
from crm.models import SavedView
from crm.services import business_create

pytestmark = pytest.mark.django_db
LEADS = "/admin/crm/leads/"


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_a_warm_full_page_reads_no_list_the_sidebar_shows(
    staff_client, django_assert_max_num_queries
):
    business_create(data={"name": "Lead", "city": "Austin"}, source="test")
    staff_client.get(LEADS)  # fills the cache
    # session, user, the user's permissions and its groups' (the role), (on PostgreSQL the
    # count's plan and the rows' plan), rows (the count rides on them): the lists come from
    # the cache.
    with django_assert_max_num_queries(5 + 2 * (connection.vendor == "postgresql")) as captured:
        response = staff_client.get(LEADS)
    assert response.status_code == 200
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert "campaigns_campaign" not in sql and "crm_savedview" not in sql
    assert "campaigns_message" not in sql


def test_new_and_deleted_saved_views_show_at_once(staff_client, staff_user):
    staff_client.get(LEADS)
    view = SavedView.objects.create(name="Lakeside roofers", params="city=Austin")
    assert "Lakeside roofers" in staff_client.get(LEADS).content.decode()
    view.delete()
    assert "Lakeside roofers" not in staff_client.get(LEADS).content.decode()


def test_colleagues_and_campaigns_join_the_menus_at_once(staff_client, django_user_model):
    staff_client.get(LEADS)
    colleague = django_user_model.objects.create_user("newhire", is_staff=True)
    Campaign.objects.create(name="Winter dentists", channel="email")
    page = staff_client.get(LEADS).content.decode()
    assert f'<option value="{colleague.pk}">newhire</option>' in page
    assert "Winter dentists" in page
    colleague.is_active = False
    colleague.save()
    assert "newhire" not in staff_client.get(LEADS).content.decode()


def test_unread_replies_count_follows_replies_recorded_and_read(staff_client):
    lead = business_create(data={"name": "Lead", "email": "a@lead.example"}, source="test")
    assert 'aria-label="1 unread"' not in staff_client.get(LEADS).content.decode()
    reply = reply_record(
        business=lead,
        channel="email",
        body="Interested!",
        at=timezone.now(),
        provider_message_id="<reply-1@lead.example>",
        from_address="a@lead.example",
    )
    assert 'aria-label="1 unread"' in staff_client.get(LEADS).content.decode()
    assert message_mark_read(message=reply)
    assert 'aria-label="1 unread"' not in staff_client.get(LEADS).content.decode()
