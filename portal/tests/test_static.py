"""Pages load their assets from our own static files: no CDN, nothing from the internet."""

import re
from http import HTTPStatus

import pytest

ASSET = re.compile(r'(?:src|href)="([^"#]+)"')


def _external(html):
    return [url for url in ASSET.findall(html) if "//" in url]


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/v1/docs"])
def test_public_pages_use_local_assets(client, db, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.OK
    assert _external(response.content.decode()) == []


def test_portal_pages_use_vendored_htmx(client, admin_user):
    client.force_login(admin_user)
    html = client.get("/").content.decode()
    assert _external(html) == []
    assert "/static/js/htmx.min.js" in html
    script = client.get("/static/js/htmx.min.js")
    assert script.status_code == HTTPStatus.OK
    assert b"htmx" in b"".join(script.streaming_content)
