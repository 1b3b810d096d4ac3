"""axe-core (the engine behind Lighthouse and most accessibility audits) run in Chromium."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest

# what a page must not have: axe's two worst impact levels
BLOCKING = ("serious", "critical")


def axe_script() -> str:
    """axe.min.js as shipped inside the axe-playwright-python wheel (a dev extra)."""
    pytest.importorskip("axe_playwright_python", reason="axe-core comes with the dev extra")
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Any, impacts: tuple[str, ...] = BLOCKING) -> list[str]:
    """Run axe-core on the loaded ``page`` (WCAG 2.x A/AA rules and best practices) and
    return one line per violation of the given impact levels: rule, impact, first targets."""
    # evaluate() runs through the DevTools protocol, so the page's CSP does not block it
    page.evaluate(axe_script())
    result = page.evaluate(
        """async () => await axe.run(document, {
             runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                             "wcag22aa", "best-practice"]},
             resultTypes: ["violations"]})"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in impacts
    ]
