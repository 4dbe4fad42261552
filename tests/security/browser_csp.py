"""Drive Chromium through pages and report what their Content-Security-Policy blocked.

Run by ``test_csp_in_browser.py`` in a process of its own (Playwright's synchronous API
allows one instance per thread, and the end-to-end tests may hold theirs):

    python -m tests.security.browser_csp BASE_URL EMAIL PASSWORD PATH...

Prints one JSON object: the policy violations the browser reported, whether the API docs
(Swagger UI, started by its inline script) rendered, and the status of each page.
"""

from __future__ import annotations

import json
import sys

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"


def visit(base: str, email: str, password: str, paths: list[str]) -> dict[str, object]:
    violations: list[str] = []
    statuses: dict[str, int] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page()
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.goto(f"{base}/api/v1/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
        docs_rendered = "Centrale API" in page.locator(".swagger-ui .info .title").inner_text()
        page.goto(f"{base}/login")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Mot de passe").fill(password)
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_url(f"{base}/")
        for path in paths:
            response = page.goto(f"{base}{path}")
            page.wait_for_load_state("load")
            statuses[path] = response.status if response else 0
        browser.close()
    return {"violations": violations, "docs_rendered": docs_rendered, "statuses": statuses}


if __name__ == "__main__":
    base, email, password, *paths = sys.argv[1:]
    print(json.dumps(visit(base, email, password, paths)))
