"""The lead page's cached lookups (crm.sidebar) and the navigation's unread-replies count:
cached between requests, and dropped by the code that changes what they list (the pages and
services, and the raw-data admin), not by signals."""

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.lifecycle import message_mark_read
from campaigns.models import Campaign
from campaigns.replies import reply_record
from campaigns.services import campaign_create
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


def _admin_form_data(response) -> dict:
    """The values a Django admin change form shows, ready to post back."""
    data = {}
    for fieldset in response.context["adminform"]:
        for line in fieldset:
            for field in line:
                if field.is_readonly:
                    continue
                bound = field.field
                value = bound.value()
                if value is None:
                    continue
                widget = bound.field.widget
                if hasattr(widget, "decompress") and not isinstance(value, list):
                    for i, part in enumerate(widget.decompress(value)):
                        data[f"{bound.html_name}_{i}"] = "" if part is None else part
                else:
                    data[bound.html_name] = value
    return {k: v for k, v in data.items() if v is not False}


def test_new_and_deleted_saved_views_show_at_once(client, sales_user):
    client.force_login(sales_user)
    client.get(LEADS)
    # follow=True: the redirect's page shows (and uses up) the "Saved view …" message.
    saved = client.post(
        "/admin/crm/leads/views/",
        {"name": "Lakeside roofers", "params": "city=Austin"},
        follow=True,
    )
    assert saved.redirect_chain[0][1] == 302
    assert "Lakeside roofers" in client.get(LEADS).content.decode()
    view = SavedView.objects.get(name="Lakeside roofers")
    deleted = client.post(f"/admin/crm/leads/views/{view.pk}/delete/", follow=True)
    assert deleted.redirect_chain[0][1] == 302
    assert "Lakeside roofers" not in client.get(LEADS).content.decode()


def test_saved_views_changed_in_the_raw_admin_show_at_once(admin_client, staff_client):
    staff_client.get(LEADS)
    data = _admin_form_data(admin_client.get("/admin/db/crm/savedview/add/"))
    add = admin_client.post(
        "/admin/db/crm/savedview/add/",
        {**data, "name": "Lakeside roofers", "params": "city=Austin"},
    )
    assert add.status_code == 302
    assert "Lakeside roofers" in staff_client.get(LEADS).content.decode()
    view = SavedView.objects.get(name="Lakeside roofers")
    delete = admin_client.post(f"/admin/db/crm/savedview/{view.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 302
    assert "Lakeside roofers" not in staff_client.get(LEADS).content.decode()


def test_colleagues_join_and_leave_the_menus_at_once(admin_client, admin_user, staff_client):
    """Staff users are managed in the raw-data admin: adding one, then unticking active,
    shows on the lead page's owner menus at the next request."""
    staff_client.get(LEADS)
    added = admin_client.post(
        "/admin/db/auth/user/add/",
        {"username": "newhire", "password1": "pw-new-hire-93", "password2": "pw-new-hire-93"},
    )
    assert added.status_code == 302
    colleague = type(admin_user).objects.get(username="newhire")
    change = f"/admin/db/auth/user/{colleague.pk}/change/"
    data = _admin_form_data(admin_client.get(change))
    assert admin_client.post(change, {**data, "is_staff": "on"}).status_code == 302
    page = staff_client.get(LEADS).content.decode()
    assert f'<option value="{colleague.pk}">newhire</option>' in page
    data = _admin_form_data(admin_client.get(change))
    del data["is_active"]
    assert admin_client.post(change, data).status_code == 302
    assert "newhire" not in staff_client.get(LEADS).content.decode()


def test_campaigns_created_renamed_and_deleted_show_at_once(admin_client, staff_client):
    staff_client.get(LEADS)
    campaign = campaign_create(name="Winter dentists", channel="email")
    assert "Winter dentists" in staff_client.get(LEADS).content.decode()
    change = f"/admin/db/campaigns/campaign/{campaign.pk}/change/"
    data = _admin_form_data(admin_client.get(change))
    assert admin_client.post(change, {**data, "name": "Spring dentists"}).status_code == 302
    page = staff_client.get(LEADS).content.decode()
    assert "Spring dentists" in page and "Winter dentists" not in page
    delete = f"/admin/db/campaigns/campaign/{campaign.pk}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not Campaign.objects.exists()
    assert "Spring dentists" not in staff_client.get(LEADS).content.decode()


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
