"""The compare report: one self-contained HTML file (the chart library and the data inside it,
nothing fetched at view time) with the verdict, the outcomes, and three charts made for
finance (TradingView Lightweight Charts, vendored in bot/web/static/vendor): mark and last with
each mode's liquidation price and the liquidation marked, the equity of each mode, and each
mode's margin ratio."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import orjson

from bot.display import money as _money
from bot.display import percent

VENDOR = Path(__file__).resolve().parent.parent / "web/static/vendor"
LIBRARY = VENDOR / "lightweight-charts.standalone.production.js"

STYLE = """
:root { --bg:#0f1420; --panel:#171d2b; --line:#263043; --text:#d6dde8; --muted:#8b96a8;
  --mark:#f5a623; --last:#4aa3ff; --iso:#ff5c5c; --cross:#b084ff; }
body { margin:0; background:var(--bg); color:var(--text);
  font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
main { max-width:1200px; margin:0 auto; padding:1rem 1.2rem 2rem; }
h1 { font-size:1.3rem; margin:.4rem 0; } h2 { font-size:1rem; margin:1.2rem 0 .4rem; }
.muted { color:var(--muted); } .verdict { font-size:1.02rem; background:var(--panel);
  border:1px solid var(--line); border-radius:.5rem; padding:.8rem 1rem; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th { color:var(--muted); font-weight:normal; text-align:right; font-size:.8rem;
  border-bottom:1px solid var(--line); padding:.25rem .5rem; }
td { text-align:right; padding:.25rem .5rem; } th:first-child, td:first-child { text-align:left; }
.box { background:var(--panel); border:1px solid var(--line); border-radius:.5rem;
  padding:.6rem .8rem; margin-top:.6rem; }
.chart { height:320px; } .legend { display:flex; gap:1rem; font-size:.85rem; }
.sw { display:inline-block; width:.9rem; height:.2rem; vertical-align:middle; margin-right:.3rem; }
.liq { color:var(--iso); font-weight:600; } footer { margin-top:1.5rem; font-size:.8rem; }
"""

SCRIPT = """
"use strict";
const doc = JSON.parse(document.getElementById("data").textContent);
const LC = window.LightweightCharts;
const cols = doc.series.columns, rows = doc.series.rows;
const col = (name) => cols.indexOf(name);
const COLORS = { mark: "#f5a623", last: "#4aa3ff", isolated: "#ff5c5c", cross: "#b084ff" };
function line(chart, name, color, width, style) {
  const series = chart.addSeries(LC.LineSeries, {
    color, lineWidth: width, lineStyle: style ?? LC.LineStyle.Solid, title: name,
    priceLineVisible: false, lastValueVisible: true,
  });
  return series;
}
function data(name) {
  const i = col(name);
  return rows.filter((r) => r[i] !== null).map((r) => ({ time: r[0], value: r[i] }));
}
function make(id) {
  return LC.createChart(document.getElementById(id), {
    autoSize: true,
    layout: { background: { color: "#171d2b" }, textColor: "#d6dde8" },
    grid: { vertLines: { color: "#202a3b" }, horzLines: { color: "#202a3b" } },
    timeScale: { timeVisible: true, secondsVisible: true, borderColor: "#263043" },
    rightPriceScale: { borderColor: "#263043" },
  });
}
const charts = [];
const prices = make("prices");
const mark = line(prices, "mark", COLORS.mark, 2);
mark.setData(data("mark"));
line(prices, "last", COLORS.last, 1).setData(data("last"));
for (const mode of ["isolated", "cross"]) {
  line(prices, `liq ${mode}`, COLORS[mode], 2, LC.LineStyle.Dashed)
    .setData(data(`${mode}_liquidation`));
}
const markers = [];
for (const mode of ["isolated", "cross"]) {
  const at = doc.modes[mode].liquidated_at;
  if (at) {
    markers.push({ time: Math.floor(at.ts_event / 1e9), position: "aboveBar",
      color: COLORS[mode], shape: "arrowDown", text: `${mode} liquidated` });
  }
}
LC.createSeriesMarkers(mark, markers);
const equity = make("equity");
for (const mode of ["isolated", "cross"]) {
  line(equity, `equity ${mode}`, COLORS[mode], 2).setData(data(`${mode}_equity`));
}
const ratio = make("ratio");
for (const mode of ["isolated", "cross"]) {
  line(ratio, `ratio ${mode}`, COLORS[mode], 2).setData(data(`${mode}_margin_ratio`));
}
for (const chart of [prices, equity, ratio]) {
  chart.timeScale().fitContent();
  charts.push(chart);
}
window.report = { ready: true, points: rows.length, markers: markers.length };
"""


def _pct(closest: dict[str, Any] | None) -> str:
    return percent(closest["distance"] if closest else None)


def _row(label: str, mode: dict[str, Any]) -> str:
    at = mode["liquidated_at"]
    if not mode["opened"]:
        state = f"not opened: {html.escape(str(mode['refused']))}"
    elif at:
        state = (
            f'<span class="liq">liquidated</span> at mark {_money(at["mark_price"])} '
            f"(last {_money(at['last_price'])}), {html.escape(at['time'][:19])}Z"
        )
    else:
        state = "survived"
    closest = mode["closest_liquidation_distance"]
    return (
        f"<tr><td>{html.escape(label)}</td><td>{html.escape(mode['leverage'])}x</td>"
        f"<td>{state}</td><td>{_money(mode['initial_margin'])}</td>"
        f"<td>{_money(mode['margin_lost'])}</td><td>{_money(mode['equity_after'])}</td>"
        f"<td>{_pct(closest['by_mark'])}</td><td>{_pct(closest['by_last'])}</td>"
        f"<td>{sum(mode['alert_counts'].values())}</td></tr>"
    )


HEAD = (
    "<tr><th>mode</th><th>leverage</th><th>outcome</th><th>margin</th><th>margin lost</th>"
    "<th>equity after</th><th>closest (mark)</th><th>closest (last)</th><th>alerts</th></tr>"
)


def render(document: dict[str, Any], session: str) -> str:
    """The report of one `compare` result, as a complete HTML document."""
    entry, exit_ = document["entry"], document["exit"]
    title = (
        f"{document['side']} {document['qty']} {document['symbol']}, "
        f"{document['leverage']}x, wallet {_money(document['wallet'])} USDT"
    )
    modes = "".join(_row(name, document["modes"][name]) for name in ("isolated", "cross"))
    grid = "".join(
        _row(name, entry_[name]) for entry_ in document["grid"] for name in ("isolated", "cross")
    )
    data = orjson.dumps(document).decode().replace("</", "<\\/")
    library = LIBRARY.read_text(encoding="utf-8")
    legend = (
        '<div class="legend"><span><span class="sw" style="background:var(--mark)"></span>mark'
        '</span><span><span class="sw" style="background:var(--last)"></span>last</span>'
        '<span><span class="sw" style="background:var(--iso)"></span>isolated</span>'
        '<span><span class="sw" style="background:var(--cross)"></span>cross</span></div>'
    )
    grid_table = (
        f"<h2>By leverage</h2><div class='box'><table>{HEAD}{grid}</table></div>" if grid else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>marginbot compare: {html.escape(title)}</title>
<style>{STYLE}</style>
<script>{library}</script>
</head><body><main>
<h1>Isolated or cross: {html.escape(title)}</h1>
<p class="muted">{html.escape(session)}: opened at {_money(entry["last_price"])}
 ({html.escape(entry["time"][:19])}Z), until {html.escape(exit_["time"][:19])}Z
 (mark {_money(exit_["mark_price"])}). The exchange liquidates on the mark.</p>
<p class="verdict" id="verdict">{html.escape(document["verdict"])}</p>
<div class="box"><table>{HEAD}{modes}</table></div>
<h2>Mark and last, with each mode's liquidation price (dashed)</h2>
<div class="box">{legend}<div class="chart" id="prices"></div></div>
<h2>Equity (margin balance)</h2>
<div class="box">{legend}<div class="chart" id="equity"></div></div>
<h2>Margin ratio (maintenance margin / margin balance; 100 % liquidates)</h2>
<div class="box">{legend}<div class="chart" id="ratio"></div></div>
{grid_table}
<footer class="muted">Made by marginbot compare. Charts: TradingView Lightweight Charts™,
Copyright (c) 2026 TradingView, Inc., https://www.tradingview.com/ (Apache License 2.0).</footer>
</main>
<script type="application/json" id="data">{data}</script>
<script>{SCRIPT}</script>
</body></html>
"""
