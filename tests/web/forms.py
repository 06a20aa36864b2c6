"""What a browser would post for a page's form: every field with its current value (checked
radios only, a select's selected option or its first), read from the HTML the server sent, so
a test submits what the page offers, not a dictionary written beside it."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient


class _Form(HTMLParser):
    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.fields: dict[str, str] = {}
        self.select: str | None = None
        self.first: str | None = None
        self.chosen = False
        self.option: dict[str, str | None] | None = None
        self.option_text = ""
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        name = a.get("name") or ""
        if tag == "input" and name and a.get("type") not in ("radio", "checkbox", "submit"):
            self.fields[name] = a.get("value") or ""
        elif tag == "input" and name and "checked" in a:
            self.fields[name] = a.get("value") or "on"
        elif tag == "select":
            self.select, self.first, self.chosen = name, None, False
        elif tag == "option" and self.select is not None:
            self.option = a
            self.option_text = ""
        elif tag == "textarea":
            self.textarea = name
            self.fields[name] = ""

    def handle_data(self, data: str) -> None:
        if self.option is not None:
            self.option_text += data
        elif self.textarea is not None:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "option" and self.option is not None and self.select is not None:
            value = self.option.get("value")
            value = self.option_text if value is None else value
            if self.first is None:
                self.first = value
            if "selected" in self.option:
                self.fields[self.select], self.chosen = value, True
            self.option = None
        elif tag == "select" and self.select is not None:
            if not self.chosen and self.first is not None:
                self.fields[self.select] = self.first
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_fields(html: str, action: str) -> dict[str, str]:
    """The fields the form posting to `action` would send as it stands."""
    parser = _Form(action)
    parser.feed(html)
    assert parser.fields, f"no form posting to {action}"
    return parser.fields


def submit(
    client: TestClient, html: str, action: str, op: str, changes: dict[str, str] | None = None
) -> Any:
    """Post the form of `html` to `action` as a person pressing the button `op` would, after
    typing `changes` (field name → text)."""
    fields = {**form_fields(html, action), **(changes or {})}
    return client.post(action, data={**fields, "op": op}, follow_redirects=False)
