"""The web page (Gradio): an amount, an allocation, a horizon and an as-of date in; the outcome after inflation out.

It calls `Advisor.simulate`, the function behind ``POST /api/v1/simulate``, so the page and the API show
the same numbers. A broken rule is shown under its field, in the API's words. The page opens with the
answer for its default inputs already shown (computed once when the page is built). Elements carry ``elem_id``s
(``amount``, ``alloc-<asset>``, ``run``, ``real-median`` ...) that the browser test drives and reads.
"""

from __future__ import annotations

import html
import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import pandas as pd

from hpcast.errors import InputError
from hpcast.invest.advisor import Advisor

__all__ = ["ASSET_COLUMNS", "asset_table", "build_ui", "summary_html"]

FIELDS = ("amount", "allocation", "horizon_months", "as_of")
HORIZONS = {"3 months": 3, "6 months": 6}
CUSTOM = "custom (1-12 months)"
CSS = """
.field-error p { color: #b91c1c; font-weight: 600; margin: 0; }
#summary table { border-collapse: collapse; margin: 0.4em 0; }
#summary td, #summary th { padding: 0.25em 0.8em; text-align: right; }
#summary td:first-child, #summary th:first-child { text-align: left; }
"""


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _percent(value: float) -> str:
    return f"{value * 100:+.1f}%"


def _span(key: str, value: float, text: str) -> str:
    return f'<span id="{key}" data-value="{value!r}">{html.escape(text)}</span>'


def _widths(answer: dict[str, Any]) -> str:
    """Which model set each asset's width today, in words."""
    parts = [f"{a['asset']}: {a['volatility']['label']} ({a['volatility']['annual_volatility']:.0%} a year "
             f"tomorrow; {a['volatility']['why']})"
             + (f", and over its horizon the {a['source']}'s own sample paths" if a.get("sample_paths") else "")
             for a in answer["assets"] if a.get("volatility")]
    return ("Today's width per asset: " + "; ".join(parts) + ".") if parts else ""


def summary_html(answer: dict[str, Any]) -> str:
    """Headline numbers; each value sits in a span with an id and its exact number in ``data-value``."""
    rows = []
    for kind, label in (("real", f"Real (in {answer['as_of']} money)"), ("nominal", "Nominal")):
        numbers = answer[kind]
        cells = "".join(f"<td>{_span(f'{kind}-{q}', numbers[q], _money(numbers[q]))}</td>"
                        for q in ("median", "p5", "p95"))
        rows.append(f"<tr><td>{label}</td>{cells}</tr>")
    inflation = answer["inflation"]
    loss, expected = answer["probability_real_loss"], answer["expected_real_return"]
    lines = [
        f"<p><b>{_money(answer['amount'])}</b> invested on <b>{answer['as_of']}</b>, value on "
        f"<b>{answer['horizon']['end']}</b> ({answer['horizon']['months']} months):</p>",
        "<table><tr><th></th><th>median</th><th>5%</th><th>95%</th></tr>", *rows, "</table>",
        f"<p>Probability of a real loss: <b>{_span('loss-probability', loss, f'{loss:.0%}')}</b>; "
        f"expected real return: <b>{_span('expected-real-return', expected, _percent(expected))}</b>.</p>",
        *([f'<p id="regime" data-third="{answer["regime"]["third"]}">{html.escape(answer["regime"]["sentence"])} '
           f"{html.escape(_widths(answer))}</p>"] if answer.get("regime") else []),
        f"<p>Inflation projected at {inflation['annual_rate']:.2%} a year ({inflation['series']} year on year "
        f"through {inflation['through'][:7]}).</p>",
    ]
    if answer["cash"]:
        lines.append(f"<p>Cash earns {answer['cash']['annual_rate']:.2%} a year ({answer['cash']['series']} "
                     f"quoted {answer['cash']['quoted']}).</p>")
    return "\n".join(lines)


ASSET_COLUMNS = ("asset", "weight %", "start value", "median value", "return 5-95%", "expected return",
                 "contribution", "forecast from")


def asset_table(answer: dict[str, Any] | None) -> pd.DataFrame:
    """One row per asset; no answer (a broken rule) gives the same headers and no rows."""
    rows = [(a["asset"], round(a["weight"], 2), _money(a["start_value"]), _money(a["median_value"]),
             f"{_percent(a['p5_return'])} to {_percent(a['p95_return'])}", _percent(a["expected_return"]),
             f"{a['contribution'] * 100:+.2f} pp", a["source"]) for a in (answer or {"assets": []})["assets"]]
    return pd.DataFrame(rows, columns=list(ASSET_COLUMNS))


def skill_notes(answer: dict[str, Any]) -> str:
    lines = [f"- **{a['asset']}**: {a['skill']}" for a in answer["assets"]]
    lines += [f"- {note}" for note in answer["notes"] if not any(note == a["skill"] for a in answer["assets"])]
    return "**How far to trust each forecast**\n\n" + "\n".join(lines)


def _errors(found: dict[str, str]) -> list[str]:
    return [f"⚠ {found[name]}" if name in found else "" for name in FIELDS]


def build_ui(advisor: Advisor) -> gr.Blocks:
    """The page for the assets ``advisor``'s market holds (one percentage field per asset)."""
    names = advisor.market.names()
    defaults = {"sp500": 60.0, "gold": 40.0} if {"sp500", "gold"} <= set(names) else {names[0]: 100.0}

    def as_of_help(*weights: float | None) -> str:
        chosen = [n for n, w in zip(names, weights, strict=True) if w]
        if not chosen:
            return "Choose at least one asset to see the possible as-of dates."
        window = advisor.market.as_of_range(chosen)
        if window.empty:
            return f"⚠ {window.why}"
        return f"Possible as-of dates: **{window.first.date()}** to **{window.last.date()}**. {window.why}."

    def run(amount: float | None, *rest: Any) -> list[Any]:
        *weights, choice, custom, as_of = rest
        allocation = {n: w for n, w in zip(names, weights, strict=True) if w not in (None, 0)}
        months = HORIZONS.get(choice, custom)
        try:
            answer = advisor.simulate(amount, allocation, months, (as_of or "").strip() or None).to_dict()
        except InputError as error:
            found: dict[str, str] = {}
            for name, message in error.errors:
                found[name] = f"{found[name]}; {message}" if name in found else message
            return [*_errors(found), as_of_help(*weights), "", None, asset_table(None), ""]
        from hpcast.viz.invest import portfolio_fan

        return [*_errors({}), as_of_help(*weights), summary_html(answer), portfolio_fan(answer), asset_table(answer),
                skill_notes(answer)]

    def calibration() -> tuple[str, Any]:
        found = advisor.calibration()
        if found is None:
            return ("No calibration yet: `hpcast invest calibrate` checks the bands against realised outcomes.",
                    gr.update(value=None, visible=False))
        from PIL import Image

        regimes = f" {found['regime_headline']}." if found.get("regime_headline") else ""
        with Image.open(found["figure"]) as image:
            return (f"**Calibration of the simulator**: {found['headline']}.{regimes}",
                    gr.update(value=image.copy(), visible=True))

    # The answer for the default inputs, computed once: a new visitor sees a filled chart and table at once,
    # with no request that could land after their own first Simulate.
    (amount_note, allocation_note, horizon_note, as_of_note, as_of_text, summary_text, fan_figure, table_frame,
     skill_text) = run(10000, *(defaults.get(n, 0) for n in names), "6 months", 6, "")
    with gr.Blocks(title="hpcast: what may my investment be worth?") as page:
        gr.Markdown("# What may my investment be worth, after inflation?\n"
                    "Enter an amount, split it over the assets and pick a horizon. The answer is a range of "
                    "outcomes, not a promise: it comes from each asset's forecast (its registered model, or "
                    "its historical average), from how the assets moved together in the past five years, and "
                    "from how volatile each one is today (a volatility model rescales those moves).")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                amount = gr.Number(label="Amount invested today", value=10000, elem_id="amount")
                amount_error = gr.Markdown(amount_note, elem_id="error-amount", elem_classes="field-error")
                gr.Markdown("**Allocation in percent** (must sum to 100)")
                weights = [gr.Number(label=f"{n}: {advisor.market.descriptions.get(n, 'cash at the Treasury rate')}",
                                     value=defaults.get(n, 0), elem_id=f"alloc-{n}") for n in names]
                allocation_error = gr.Markdown(allocation_note, elem_id="error-allocation", elem_classes="field-error")
                horizon = gr.Radio([*HORIZONS, CUSTOM], value="6 months", label="Horizon", elem_id="horizon")
                custom = gr.Slider(1, 12, step=1, value=6, label="Custom horizon (months)", visible=False,
                                   elem_id="custom-months")
                horizon_error = gr.Markdown(horizon_note, elem_id="error-horizon_months", elem_classes="field-error")
                as_of = gr.Textbox(label="As-of date (YYYY-MM-DD)", elem_id="as-of",
                                   placeholder="blank: the latest date every chosen asset has data for")
                as_of_info = gr.Markdown(as_of_text, elem_id="as-of-range")
                as_of_error = gr.Markdown(as_of_note, elem_id="error-as_of", elem_classes="field-error")
                button = gr.Button("Simulate", variant="primary", elem_id="run")
            with gr.Column(scale=2):
                summary = gr.HTML(summary_text, elem_id="summary")
                fan = gr.Plot(fan_figure, label="Portfolio value over the horizon", show_label=False, elem_id="fan")
                table = gr.Dataframe(table_frame, headers=list(ASSET_COLUMNS), label="Per asset",
                                     elem_id="assets-table", interactive=False)
                skills = gr.Markdown(skill_text, elem_id="skills")
                calibration_text = gr.Markdown(elem_id="calibration")
                calibration_figure = gr.Image(label="Calibration", elem_id="calibration-figure", interactive=False)

        horizon.change(lambda c: gr.update(visible=c == CUSTOM), horizon, custom)
        for field in weights:  # one queue, one at a time: the answer for the latest weights lands last
            field.change(as_of_help, weights, as_of_info, concurrency_limit=1, concurrency_id="as-of-help",
                         api_visibility="private")
        outputs = [amount_error, allocation_error, horizon_error, as_of_error, as_of_info, summary, fan, table, skills]
        button.click(run, [amount, *weights, horizon, custom, as_of], outputs, api_visibility="private")
        page.load(calibration, None, [calibration_text, calibration_figure])
    page.queue(default_concurrency_limit=4)
    return page
