"""The lead page's Python-built template helpers: the same links as Django's tags, every
value escaped."""

import pytest
from django.http import QueryDict
from django.urls import NoReverseMatch, reverse

from crm.templatetags.crm_tags import hidden_inputs, options, path, url_or_none


def test_path_is_reverse_remembered_and_fails_like_url():
    assert path("crm:lead-list") == reverse("crm:lead-list") == path("crm:lead-list")
    assert path("crm:saved-view-delete", 7) == reverse("crm:saved-view-delete", args=[7])
    with pytest.raises(NoReverseMatch):
        path("crm:no-such-page")
    assert url_or_none("crm:no-such-page") is None


def test_hidden_inputs_and_options_escape_what_they_are_given():
    params = QueryDict(mutable=True)
    params.setlist("q", ['"><script>alert(1)</script>', "b&c"])
    html = hidden_inputs(params, "bulk")
    assert "<script>" not in html
    assert html.count('<input type="hidden" form="bulk" name="q"') == 2
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert 'value="b&amp;c"' in html
    assert options([("1", "<b>Ann</b>")]) == '<option value="1">&lt;b&gt;Ann&lt;/b&gt;</option>'
