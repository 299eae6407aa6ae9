"""The first-time user's journey in headless Chromium, from a clean store to an alert.

Upload a messy CSV on Home (or load a sample), fix a column with a one-click recipe step,
train with the default budget, publish, predict from the Endpoints page's try-it form,
then simulate drifted traffic on Monitor and see the alert. Clicks are counted from the
first page to the prediction (navigation included; typing names and picking the target
are not): at most 6. Every page visited is screenshotted to ``test-artifacts/`` and
checked for errors (st.error, st.exception, "Traceback", browser console errors). The
same journey runs on the bundled samples for each task type, and an empty store's pages
are walked to check each says what to do next.
"""
from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest

from tests.browser.conftest import shot, start_studio_app
from tests.service_fixtures import ServiceProcess

pytestmark = pytest.mark.browser

MAX_CLICKS = 6
BUDGET_S = "8"
NAV = '[data-testid="stSidebar"]'
XSS = "<img src=x onerror=alert(1)>"
EXPECTED_RED = "open alert(s) for this endpoint"   # Monitor shows open alerts in red
PAGES = ["Home", "Datasets", "Wrangle", "Train", "Experiments", "Models", "Endpoints",
         "Batch predict", "Monitor"]


def messy_csv(rows: int = 240, seed: int = 5) -> bytes:
    """A semicolon export with decimal commas, padded headers, sentinels, day-first dates,
    a saved index, an ID column and a category holding HTML."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    calls = rng.poisson(2, rows)
    plan = rng.choice(["basic", "plus", XSS], rows, p=[0.5, 0.35, 0.15])
    fee = np.round(rng.uniform(10, 90, rows), 2)
    score = 0.9 * calls - 0.03 * age + (plan == "basic") * 1.2 + rng.normal(0, 0.7, rows)
    frame = pd.DataFrame({
        "": range(rows),
        " Customer ID ": [f"C{10_000 + 3 * i}" for i in range(rows)],
        "Age ": [str(a) for a in age],
        "Plan": plan,
        "Monthly fee": [f"{v:.2f}".replace(".", ",") for v in fee],
        "Signup": (pd.Timestamp("2024-01-01") - pd.to_timedelta(rng.integers(0, 900, rows),
                                                                 unit="D")).strftime("%d.%m.%Y"),
        "Support calls": calls,
        "Churned": np.where(score > np.median(score), "yes", "no"),
    })
    for i in rng.choice(rows, 30, replace=False):
        frame.loc[i, "Age "] = ["N/A", "?", "", "-"][i % 4]
    buf = io.StringIO()
    frame.to_csv(buf, sep=";", index=False)
    return buf.getvalue().encode("utf-8")


def live(page):
    """Elements of the current run: while a rerun is under way, Streamlit keeps the last
    run's elements (data-stale="true") until the new ones replace them."""
    return page.locator('[data-testid="stElementContainer"]:not([data-stale="true"])')


class Clicks:
    """Counts a person's clicks (navigation and uploads included); ``free`` ones (picking
    the target in a list) are recorded apart, as the issue allows."""

    def __init__(self):
        self.counted: list[str] = []
        self.free: list[str] = []

    def click(self, locator, what: str) -> None:
        locator.click()
        self.counted.append(what)

    def upload(self, locator, what: str, **files) -> None:
        locator.set_input_files(files=[files])   # the file chooser: one click
        self.counted.append(what)

    def pick(self, page, label: str, option: str) -> None:
        page.get_by_role("combobox", name=label).click()
        page.keyboard.type(option)  # long lists are virtual: filter first
        page.get_by_role("option", name=option, exact=True).click()
        self.free.append(f"pick {option}")


class Walk:
    """Screenshots and error checks for every page the journey shows."""

    def __init__(self, page, case: str, console_errors: list[str]):
        self.page, self.case, self.console = page, case, console_errors
        self.shots: list[str] = []

    def settle(self, seconds: float = 0.6) -> None:
        deadline = time.time() + 20
        running = self.page.locator('[data-testid="stStatusWidget"]')
        while time.time() < deadline and running.count() and running.first.is_visible():
            time.sleep(0.2)
        time.sleep(seconds)

    def check(self, name: str) -> None:
        from playwright.sync_api import expect

        self.settle()
        self.shots.append(str(shot(self.page, f"journey-{self.case}-{name}")))
        expect(self.page.locator('[data-testid="stException"]')).to_have_count(0)
        errors = [t for t in self.page.locator('[data-testid="stAlertContentError"]')
                  .all_inner_texts() if EXPECTED_RED not in t]
        assert not errors, f"{name}: error shown: {errors}"
        assert "Traceback" not in self.page.locator("body").inner_text(), name
        assert not self.console, f"{name}: browser console errors: {self.console}"

    def nav(self, label: str, clicks: Clicks | None = None) -> None:
        link = self.page.locator(NAV).get_by_role("link", name=label, exact=True)
        clicks.click(link, f"nav {label}") if clicks else link.click()
        from playwright.sync_api import expect

        expect(self.page.get_by_role("heading", name=label if label != "Home" else "Studio",
                                     exact=True).first).to_be_visible()


@pytest.fixture(autouse=True)
def _patient_expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=45_000)  # a loaded 2-core machine; never a timed assertion
    yield
    expect.set_options(timeout=5_000)


def _start(tmp_path, samples: list[str]):
    """The service and the UI on a clean store (with ``samples`` loaded, as `make run`
    loads them: the upload must still be in reach)."""
    from studio.samples import load_sample

    svc = ServiceProcess.start(tmp_path / "home")
    for name in samples:
        load_sample(svc.store, name)
    app = start_studio_app(svc.home, env={"STUDIO_SERVICE_PORT": str(svc.port),
                                          "STUDIO_TRAIN_BUDGET_S": BUDGET_S})
    return svc, app


CASES = {
    # case: (how the data comes in, target, a fix to apply, column to drift when the model
    # has no feature importance)
    "messy-upload": ("upload", "Churned", "'Age' with the median", "Support calls"),
    "binary-sample": ("Breast cancer (binary)", "diagnosis", None, "worst radius"),
    "multiclass-sample": ("Wine cultivars (multiclass)", "cultivar", None, "proline"),
    "regression-sample": ("Diabetes progression (regression)", "progression", None, "bmi"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_first_model_journey(case, tmp_path, page, console_errors, dialogs):
    from playwright.sync_api import expect

    source, target, fix, drift = CASES[case]
    svc, app = _start(tmp_path, samples=["wine"] if source == "upload" else [])
    walk, clicks = Walk(page, case, console_errors), Clicks()
    try:
        page.goto(app.url(), wait_until="networkidle")
        expect(page.get_by_text("Your first live model")).to_be_visible()
        walk.check("home-start")

        # 1. data: an upload is imported at once; a sample is one click
        if source == "upload":
            page.get_by_role("textbox", name="Dataset name (optional)").fill("churn")
            page.get_by_role("textbox", name="Dataset name (optional)").press("Enter")
            clicks.upload(page.locator('[data-testid="stFileUploaderDropzoneInput"]'),
                          "upload churn.csv", name="churn.csv", mimeType="text/csv",
                          buffer=messy_csv())
            expect(page.get_by_text("Imported churn.csv as churn:1")).to_be_visible()
        else:
            clicks.click(page.get_by_role("button", name=source), f"sample {source}")
            expect(page.get_by_text("Loaded ")).to_be_visible()
        walk.check("home-data")

        # 2. fix a column with a recipe step (one click), when the data needs one
        if fix:
            row = page.locator('[data-testid="stHorizontalBlock"]').filter(
                has_text=fix).filter(has=page.get_by_role("button", name="Apply")).last
            clicks.click(row.get_by_role("button", name="Apply"), f"fix {fix}")
            expect(page.get_by_text("Saved churn:2")).to_be_visible()
            walk.check("home-fixed")

        # 3. train with the default budget
        clicks.pick(page, "Column to predict", target)
        walk.settle()
        train = live(page).get_by_role("button", name=f"Train ({BUDGET_S} s budget)")
        expect(train).to_be_enabled(timeout=90_000)  # the target check runs first
        clicks.click(train, "train")
        expect(page.get_by_role("link", name="Watch the leaderboard on Train")).to_be_visible()
        walk.check("home-training")

        # 4. publish the registered model
        publish = live(page).get_by_role("button", name="Publish")
        expect(publish).to_be_visible(timeout=240_000)
        walk.check("home-trained")
        clicks.click(publish, "publish")
        expect(page.get_by_text(" now serves ")).to_be_visible()
        endpoint = _endpoint(svc)
        svc.wait_ready(endpoint, timeout=30)
        walk.check("home-published")

        # 5. predict from the try-it form
        clicks.click(page.get_by_role("link", name="Try it: a prediction from a form"),
                     "link to try it")
        expect(page.get_by_text("Prediction service is up")).to_be_visible()
        clicks.click(live(page).get_by_role("button", name="Predict"), "predict")
        expect(page.get_by_text("request id")).to_be_visible()
        walk.check("endpoints-try-it")
        assert len(clicks.counted) <= MAX_CLICKS, clicks.counted
        print(f"\n{case}: {len(clicks.counted)} clicks {clicks.counted}, free: {clicks.free}")

        # 6. drifted traffic on Monitor raises an alert
        walk.nav("Monitor")
        page.get_by_role("button", name="Simulate traffic").click()
        page.get_by_label("Rows").fill("300")
        page.get_by_label("Rows").press("Enter")
        clicks.pick(page, "Shift one column", _watched_column(svc, endpoint, drift))
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_text("open alert(s) for this endpoint")).to_be_visible(
            timeout=240_000)
        page.keyboard.press("Escape")
        walk.check("monitor-alert")

        # every page, now with data (once: the samples' pages look the same)
        for label in PAGES if case == "messy-upload" else []:
            walk.nav(label)
            walk.check(f"page-{label.lower().replace(' ', '-')}")
        assert dialogs == []  # the HTML in the data never ran
    except Exception:
        shot(page, f"journey-{case}-failure")
        raise
    finally:
        app.stop()
        svc.stop()


def _watched_column(svc, endpoint: str, default: str) -> str:
    """A column the drift rule watches: it alerts on the model's most important features
    (all of them when the card has no importance), so shift the most important one."""
    from studio.endpoints import get_endpoint
    from studio.model_cards import get_version
    from studio.monitor.importance import feature_importance

    card = get_version(svc.store, get_endpoint(svc.store, endpoint).model_version_id).card
    columns = [c["name"] for c in card.get("input_schema") or [] if c.get("used", True)]
    ranked = feature_importance(card, columns)
    return max(ranked, key=ranked.get) if ranked else default


def _endpoint(svc) -> str:
    from studio.endpoints import list_endpoints

    live = [e.name for e in list_endpoints(svc.store) if e.model]
    assert live, "nothing was published"
    return live[0]


def test_every_page_of_an_empty_studio_says_what_to_do(studio_app, page, console_errors):
    from playwright.sync_api import expect

    walk = Walk(page, "empty", console_errors)
    page.goto(studio_app.url(), wait_until="networkidle")
    for label in PAGES:
        walk.nav(label)
        if label == "Home":
            expect(page.get_by_text("Your first live model")).to_be_visible()
        else:
            info = page.locator('[data-testid="stAlertContentInfo"]').first
            expect(info).to_be_visible()
            assert any(w in info.inner_text() for w in ("Import", "Train", "Publish", "load")), \
                f"{label}: {info.inner_text()}"
        walk.check(f"page-{label.lower().replace(' ', '-')}")
