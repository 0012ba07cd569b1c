"""The API documentation pages render in Chromium under our Content-Security-Policy, loading nothing it forbids."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("path", "ready"), [("/api/redoc/", "h1"), ("/api/docs/", ".swagger-ui .info")])
def test_api_docs_render_without_csp_violations(live_server, path, ready):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems = []
        page.on("console", lambda message: problems.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        outside = []
        page.on("request", lambda request: outside.append(request.url)
                if not request.url.startswith((live_server.url, "data:", "blob:", "https://cdn.redoc.ly/")) else None)
        response = page.goto(live_server.url + path)
        assert response.status == 200
        page.wait_for_selector(ready, timeout=20_000)
        assert "Value Portrait platform API" in page.inner_text("body")
        page.wait_for_timeout(500)  # late requests (fonts, images) after the first render
        browser.close()
    assert problems == [], problems
    assert outside == [], outside
