import pytest

from crm.services import business_create


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/admin/crm/", "/admin/crm/?period=all", "/admin/crm/leads/", "/admin/crm/pipeline/"],
)
def test_staff_pages_render_for_a_viewer(client, viewer_user, business, url):
    business_create(data={"name": "<script>alert(1)</script>", "city": "Austin"}, source="test")
    client.force_login(viewer_user)
    response = client.get(url)
    assert response.status_code == 200
    assert b"<script>alert(1)</script>" not in response.content


@pytest.mark.django_db
def test_lead_detail_renders(client, sales_user, business):
    client.force_login(sales_user)
    response = client.get(f"/admin/crm/leads/{business.pk}/")
    assert response.status_code == 200
    assert b"Joe&#x27;s Plumbing" in response.content
