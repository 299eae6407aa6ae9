"""Take the README's screenshots: a fresh store, the first-model journey, every main page.

    .venv/bin/python docs/screenshots.py [--budget 20] [--out docs/screenshots]

Starts the prediction service and the UI on free loopback ports over a temporary store,
walks the quick start on the messy churn sample in headless Chromium (load, fix, train,
publish, predict, simulate drift), then saves one PNG per page (1280×1000 viewport,
reduced to 256 colours so the files stay small).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, start_studio_app  # noqa: E402
from tests.browser.test_journey import live  # noqa: E402
from tests.service_fixtures import ServiceProcess  # noqa: E402

PAGES = {"datasets": "Datasets", "wrangle": "Wrangle", "train": "Train",
         "experiments": "Experiments", "models": "Models", "endpoints": "Endpoints",
         "batch-predict": "Batch predict", "monitor": "Monitor", "home": "Home"}


def save(page, out: Path, name: str) -> None:
    from PIL import Image

    time.sleep(1.0)  # let charts finish drawing
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    image = Image.open(path).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    shown = path.resolve()
    shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
    print(f"{shown}  {path.stat().st_size / 1024:.0f} KB")


def nav(page, label: str) -> None:
    from playwright.sync_api import expect

    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=label, exact=True).click()
    expect(page.get_by_role("heading", name="Studio" if label == "Home" else label,
                            exact=True).first).to_be_visible()
    time.sleep(2.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="20", help="training budget in seconds")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    with tempfile.TemporaryDirectory() as tmp:
        svc = ServiceProcess.start(Path(tmp) / "home")
        app = start_studio_app(svc.home, env={"STUDIO_SERVICE_PORT": str(svc.port),
                                              "STUDIO_TRAIN_BUDGET_S": args.budget})
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(app.url(), wait_until="networkidle")
                expect(page.get_by_text("Your first live model")).to_be_visible()
                save(page, out, "home-start")

                page.get_by_role("button", name="Customer churn, messy export").click()
                expect(page.get_by_text("Loaded customers_messy:1")).to_be_visible()
                row = page.locator('[data-testid="stHorizontalBlock"]').filter(
                    has_text="of 'Age' with the median").filter(
                    has=page.get_by_role("button", name="Apply")).last
                page.get_by_role("combobox", name="Column to predict").click()
                page.keyboard.type("Churned")
                page.get_by_role("option", name="Churned", exact=True).click()
                expect(live(page).get_by_role("button", name="Train (")).to_be_enabled()
                save(page, out, "home-quick-start")
                row.get_by_role("button", name="Apply").click()
                expect(page.get_by_text("Saved customers_messy:2")).to_be_visible()
                page.get_by_role("combobox", name="Column to predict").click()
                page.keyboard.type("Churned")
                page.get_by_role("option", name="Churned", exact=True).click()
                live(page).get_by_role("button", name="Train (").click()
                time.sleep(float(args.budget) / 2)
                save(page, out, "home-training")
                publish = live(page).get_by_role("button", name="Publish")
                expect(publish).to_be_visible(timeout=float(args.budget) * 1000 + 120_000)
                publish.click()
                expect(page.get_by_text(" now serves ")).to_be_visible()
                svc.wait_ready("customers_messy", timeout=30)
                page.get_by_role("link", name="Try it: a prediction from a form").click()
                expect(page.get_by_text("Prediction service is up")).to_be_visible()
                live(page).get_by_role("button", name="Predict").click()
                expect(page.get_by_text("request id")).to_be_visible()
                page.get_by_text("Prediction", exact=True).first.scroll_into_view_if_needed()
                save(page, out, "endpoints-try-it")

                nav(page, "Monitor")
                page.get_by_role("button", name="Simulate traffic").click()
                page.get_by_label("Rows").fill("600")
                page.get_by_label("Rows").press("Enter")
                page.get_by_role("combobox", name="Shift one column").click()
                page.keyboard.type("Tenure")
                page.get_by_role("option", name="Tenure (months)").click()
                page.get_by_role("button", name="Send").click()
                expect(page.get_by_text("open alert(s) for this endpoint")).to_be_visible(
                    timeout=180_000)
                page.keyboard.press("Escape")
                for name, label in PAGES.items():
                    nav(page, label)
                    if name == "datasets":
                        page.get_by_role("tab", name="Columns").click()
                    save(page, out, name)
                browser.close()
        finally:
            app.stop()
            svc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
