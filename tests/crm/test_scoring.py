"""crm.scoring: the one formula, its breakdown, website classification; score_leads."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from crm import scoring
from crm.models import Business
from crm.services import business_create


@pytest.mark.parametrize(
    "url,kind",
    [
        ("https://www.facebook.com/joes", "social"),
        ("https://m.facebook.com/joes", "social"),
        ("https://www.yelp.com/biz/joes", "directory"),
        ("https://linktr.ee/joes", "social"),
        ("https://business.google.com/website/joes", "directory"),
        ("https://g.page/joes", "directory"),
        ("https://joes.business.site", "directory"),
        ("https://www.vagaro.com/joes", "booking"),
        ("https://joesplumbing.com", "own"),
        ("joesplumbing.com", "own"),
        ("", "none"),
        ("not a url", "none"),
    ],
)
def test_website_classification(url, kind):
    assert scoring.classify_website(url) == kind


def _score(**overrides):
    args = {
        "website_kind": "none",
        "phone": "",
        "email": "",
        "rating": None,
        "review_count": 0,
        "recent_review_count": None,
        "photo_count": 0,
    }
    args.update(overrides)
    return scoring.score(**args)


def test_score_is_clamped_and_perfect_prospect_scores_100():
    best, breakdown = _score(
        phone="1",
        email="a@b.c",
        rating=Decimal("5.0"),
        review_count=10_000,
        recent_review_count=999,
        photo_count=10_000,
    )
    assert best == 100
    assert all(item["points"] == item["max"] for item in breakdown.values())
    worst, _ = _score(website_kind="own", rating=Decimal("1.0"))
    assert worst == 0


def test_breakdown_explains_each_factor_and_adds_up():
    total, breakdown = _score(
        website_kind="social", phone="512", rating=Decimal("3.75"), review_count=25, photo_count=5
    )
    assert set(breakdown) == set(scoring.WEIGHTS)
    assert breakdown["no_own_website"]["points"] == scoring.WEIGHTS["no_own_website"]
    assert breakdown["has_email"] == {"points": 0, "max": 15, "why": "no email"}
    assert breakdown["reviews"]["why"] == "25 reviews"
    assert total == sum(item["points"] for item in breakdown.values())
    own, _ = _score(
        website_kind="own", phone="512", rating=Decimal("3.75"), review_count=25, photo_count=5
    )
    assert total - own == scoring.WEIGHTS["no_own_website"]


@pytest.mark.django_db
def test_score_leads_recomputes_and_reclassifies(monkeypatch):
    lead = business_create(
        data={"name": "A", "website": "https://joes-own.com", "phone": "512-555-0100"}, source="t"
    )
    other = business_create(data={"name": "B", "email": "b@b.com"}, source="t")
    Business.objects.filter(pk=other.pk).update(qualification_score=0, score_breakdown={})
    before = lead.qualification_score
    monkeypatch.setattr(scoring, "DIRECTORY_HOSTS", scoring.DIRECTORY_HOSTS | {"joes-own.com"})
    out = StringIO()
    call_command("score_leads", "--dry-run", stdout=out)
    assert "2 leads scored, 2 changed" in out.getvalue()
    lead.refresh_from_db()
    assert lead.website_kind == "own" and lead.qualification_score == before
    out = StringIO()
    call_command("score_leads", stdout=out)
    lead.refresh_from_db()
    other.refresh_from_db()
    assert lead.website_kind == "directory" and lead.website_domain == ""
    assert lead.qualification_score == before + scoring.WEIGHTS["no_own_website"]
    assert other.qualification_score == scoring.score_business(other)[0] > 0
    assert "qualified (score >=" in out.getvalue()
    out = StringIO()
    call_command("score_leads", stdout=out)
    assert "2 leads scored, 0 changed" in out.getvalue()
