"""A survey link answered in Debian's chromium by someone with no Headway token: the page is
accessible (axe), asks for nothing outside the server, keeps the answer, and thanks the same
browser instead of asking again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from headway.interpret import pulse_links
from tests.web.test_browser import Site, _accessible, page, site

__all__ = ["page", "site"]  # the fixtures, shared with the app's other browser tests

pytestmark = pytest.mark.browser


def test_a_survey_link_is_answered_once_in_a_browser(page: Any, site: Site) -> None:
    store = site.app.state.store
    path = pulse_links.create(store, "core", 14, actor="test", now=datetime.now(UTC))["path"]
    page.goto(site.url + path)
    assert page.locator("h1").inner_text() == "Developer confidence pulse · core"
    _accessible(page)
    # Pick 4, 2 and 5 by their labels, as a person does
    for question, score in [(0, "4"), (1, "2"), (2, "5 agree")]:
        page.locator("fieldset").nth(question).get_by_label(score, exact=True).check()
    page.get_by_role("button", name="Send my answer").click()
    page.wait_for_url(site.url + path)
    assert page.get_by_role("status").inner_text().startswith("Your answer for team core is in")
    _accessible(page)
    [row] = store.query_dicts(
        "SELECT ship_safely, recover_quickly, release_process FROM pulse_answers"
    )
    assert row == {"ship_safely": 4, "recover_quickly": 2, "release_process": 5}
    # Opening the link again thanks the browser rather than asking again
    page.goto(site.url + path)
    assert page.locator("h1").inner_text() == "Thank you"
    assert page.locator("form.pulse").count() == 0
