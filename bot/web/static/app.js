// The live page: one server-sent event stream (/api/stream) gives a snapshot, then updates.
// Everything is drawn with textContent (never HTML from data), and the chart keeps one point
// per exchange second, as the daemon sends them.
"use strict";

const LC = window.LightweightCharts;
const MAX_ALERTS = 200;
const FIT_UNTIL = 600;  // points; past them the chart keeps the user's zoom
const state = {
  charts: new Map(),  // "venue:SYMBOL" → {chart, mark, last, lines, liquidations, markers}
  updates: 0,
  seq: 0,
};
// For tests and the curious: what the page has drawn.
window.marginbot = {
  get updates() { return state.updates; },
  points(key) { const c = state.charts.get(key); return c ? c.mark.data().length : 0; },
  liquidationLines(key) {
    const c = state.charts.get(key);
    return c ? c.lines.filter((l) => l.kind === "liq").map((l) => l.options) : [];
  },
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(child ?? "-"));
  }
  return node;
}

function nearClass(value) {
  if (value === null || value === undefined) return "";
  if (value < 0) return "past";
  return value < 0.05 ? "near" : "";
}

function renderAccounts(accounts) {
  const section = document.getElementById("accounts");
  if (!accounts.length) {
    section.replaceChildren(el("p", { class: "muted" }, "no accounts in this configuration"));
    return;
  }
  section.replaceChildren(...accounts.map((a) => {
    const figures = el("div", { class: "figures" },
      ...[["wallet", a.wallet], ["equity", a.equity], ["margin ratio", a.margin_ratio],
        ["available", a.available]].map(([name, value]) =>
        el("div", { "data-figure": name }, el("span", {}, name), el("span", {}, value))));
    let body;
    if (!a.positions.length) {
      body = el("p", { class: "muted" }, "no open position");
    } else {
      const head = el("tr", {}, ...["position", "entry", "mark", "last", "liquidation",
        "to liq. (mark)", "to liq. (last)", "ratio", "unrealized"]
        .map((h) => el("th", {}, h)));
      const rows = a.positions.map((p) => el("tr", {
        class: "position", "data-account": a.name, "data-symbol": p.symbol,
      },
      el("td", {},
        el("span", { class: p.side }, p.side), ` ${p.size} ${p.symbol}`,
        el("div", { class: "muted small" }, `${p.margin_mode} ${p.leverage}x`)),
      el("td", {}, p.entry),
      el("td", {}, p.mark),
      el("td", {}, p.last),
      el("td", { class: "liq", "data-field": "liquidation" }, p.liquidation),
      el("td", { class: nearClass(p.distance_by_mark_value) }, p.distance_by_mark),
      el("td", { class: nearClass(p.distance_by_last_value) }, p.distance_by_last),
      el("td", {}, p.margin_ratio),
      el("td", {}, p.unrealized_pnl)));
      body = el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows));
    }
    return el("article", { class: "account", "data-account": a.name },
      el("h2", {}, a.name, el("span", { class: "muted" }, `${a.venue}, ${a.margin_mode}`)),
      figures, body);
  }));
}

function renderFeeds(document_) {
  const feeds = document.getElementById("feeds");
  feeds.replaceChildren(...document_.feeds.map((f) => el("span", {
    class: `badge ${f.healthy ? "ok" : "bad"}`, title: f.problem || `${f.frames} frames`,
  }, f.healthy ? f.name : `${f.name}: ${f.problem}`)));
  if (document_.storage_error) {
    feeds.append(el("span", { class: "badge bad" }, `journal: ${document_.storage_error}`));
  }
  document.getElementById("version").textContent = `marginbot ${document_.version}`;
}

function chartFor(key) {
  let entry = state.charts.get(key);
  if (entry) return entry;
  const box = el("div", { class: "chart-box", "data-key": key });
  const legend = el("div", { class: "legend" },
    el("b", {}, key),
    el("span", {}, el("span", { class: "swatch", style: "background: var(--mark)" }), "mark"),
    el("span", {}, el("span", { class: "swatch", style: "background: var(--last)" }), "last"),
    el("span", {}, el("span", { class: "swatch", style: "background: var(--danger)" }),
      "liquidation price (dashed)"));
  const holder = el("div", { class: "chart" });
  box.append(legend, holder);
  document.getElementById("charts").append(box);
  const chart = LC.createChart(holder, {
    autoSize: true,
    layout: { background: { color: "#171d2b" }, textColor: "#d6dde8", attributionLogo: true },
    grid: { vertLines: { color: "#202a3b" }, horzLines: { color: "#202a3b" } },
    timeScale: {
      timeVisible: true, secondsVisible: true, borderColor: "#263043", rightOffset: 8,
    },
    rightPriceScale: { borderColor: "#263043" },
  });
  entry = { chart, lines: [], liquidations: [], markers: [], key };
  // The liquidation prices are part of the picture: keep them inside the price scale.
  const withLiquidations = (original) => {
    const range = original();
    if (range === null) return null;
    let { minValue, maxValue } = range.priceRange;
    for (const price of entry.liquidations) {
      minValue = Math.min(minValue, price);
      maxValue = Math.max(maxValue, price);
    }
    return { priceRange: { minValue, maxValue }, margins: range.margins };
  };
  entry.mark = chart.addSeries(LC.LineSeries, {
    color: "#f5a623", lineWidth: 2, title: "mark", autoscaleInfoProvider: withLiquidations,
  });
  entry.last = chart.addSeries(LC.LineSeries, {
    color: "#4aa3ff", lineWidth: 1, title: "last", priceLineVisible: false,
  });
  entry.markerLayer = LC.createSeriesMarkers(entry.mark, []);
  state.charts.set(key, entry);
  return entry;
}

function point(row, index) {
  const [time, mark, last] = row;
  return index === 1 ? (mark === null ? { time } : { time, value: mark })
    : (last === null ? { time } : { time, value: last });
}

function addPoints(points, reset) {
  for (const [key, rows] of Object.entries(points)) {
    const entry = chartFor(key);
    if (reset) {
      entry.mark.setData(rows.map((r) => point(r, 1)));
      entry.last.setData(rows.map((r) => point(r, 2)));
      entry.chart.timeScale().fitContent();
      continue;
    }
    const newest = entry.mark.data().at(-1)?.time ?? -Infinity;
    for (const row of rows) {
      if (row[0] < newest) continue;  // the daemon only ever changes its newest point
      entry.mark.update(point(row, 1));
      entry.last.update(point(row, 2));
    }
    // A young chart shows all it has; an older one scrolls with time, as zoomed by the user.
    if (entry.mark.data().length < FIT_UNTIL) entry.chart.timeScale().fitContent();
  }
}

function drawLiquidations(accounts) {
  const wanted = new Map();  // key → [{title, price, kind}]
  for (const a of accounts) {
    for (const p of a.positions) {
      const lines = wanted.get(p.key) ?? [];
      if (p.liquidation_price !== null) {
        lines.push({ kind: "liq", price: p.liquidation_price, title: `liq ${a.name}` });
      }
      lines.push({ kind: "entry", price: p.entry_price, title: `entry ${a.name}` });
      wanted.set(p.key, lines);
    }
  }
  for (const entry of state.charts.values()) {
    const lines = wanted.get(entry.key) ?? [];
    const same = lines.length === entry.lines.length && lines.every((l, i) =>
      l.title === entry.lines[i].options.title && l.price === entry.lines[i].options.price);
    if (same) continue;
    for (const line of entry.lines) entry.mark.removePriceLine(line.handle);
    entry.lines = lines.map((l) => {
      const options = {
        price: l.price, title: l.title, axisLabelVisible: true,
        color: l.kind === "liq" ? "#ff5c5c" : "#8b96a8",
        lineWidth: l.kind === "liq" ? 2 : 1,
        lineStyle: l.kind === "liq" ? LC.LineStyle.Dashed : LC.LineStyle.Dotted,
      };
      return { kind: l.kind, options, handle: entry.mark.createPriceLine(options) };
    });
    entry.liquidations = lines.filter((l) => l.kind === "liq").map((l) => l.price);
  }
}

function addAlerts(alerts, reset) {
  const list = document.getElementById("alerts");
  if (reset) list.replaceChildren();
  for (const a of alerts) {
    const when = a.time ? `${a.time.slice(0, 19).replace("T", " ")}Z` : "";
    list.prepend(el("li", { class: `alert severity-${a.severity}`, "data-kind": a.kind },
      el("span", { class: "muted", title: a.time ?? "" }, when),
      el("span", { class: "sev" }, a.severity),
      el("span", {}, [a.kind, a.account].filter(Boolean).join(" · ")),
      el("span", {}, a.message)));
    if (a.kind === "liquidated" && a.symbol && a.second) {
      for (const entry of state.charts.values()) {
        if (!entry.key.endsWith(`:${a.symbol}`)) continue;
        entry.markers.push({
          time: a.second, position: "aboveBar", color: "#ff5c5c", shape: "arrowDown",
          text: `liquidated ${a.account ?? ""}`.trim(),
        });
        entry.markerLayer.setMarkers(entry.markers);
      }
    }
  }
  while (list.children.length > MAX_ALERTS) list.lastChild.remove();
}

function apply(document_, reset) {
  if (reset) {
    for (const entry of state.charts.values()) entry.markers = [];
  }
  renderFeeds(document_);
  renderAccounts(document_.accounts);
  addPoints(document_.points, reset);
  drawLiquidations(document_.accounts);
  addAlerts(document_.alerts, reset);
  state.seq = document_.seq;
  state.updates += 1;
}

function connect() {
  const badge = document.getElementById("connection");
  const source = new EventSource("/api/stream");
  source.addEventListener("snapshot", (e) => {
    badge.textContent = "live";
    badge.className = "badge ok";
    apply(JSON.parse(e.data), true);
  });
  source.addEventListener("update", (e) => apply(JSON.parse(e.data), false));
  source.onerror = () => {
    // EventSource reconnects by itself; the next snapshot replaces everything.
    badge.textContent = "reconnecting…";
    badge.className = "badge bad";
  };
}

connect();
