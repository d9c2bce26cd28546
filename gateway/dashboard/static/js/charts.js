// Charts drawn as SVG by the page itself: lines over time, bars by dimension, the funnel.
// Each comes with its figures as a table for screen readers (and for copying).

import { formatNumber } from "./i18n.js";
import { h, svg } from "./dom.js";

function niceMax(value) {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

function dataTable(caption, header, rows) {
  return h(
    "table",
    { class: "sr-only" },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, header.map((cell) => h("th", { scope: "col" }, cell)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))),
  );
}

/** Several series over the same labels (periods). */
export function lineChart({ title, labels, series, unit }) {
  const width = 560;
  const height = 220;
  const pad = { left: 56, right: 12, top: 12, bottom: 36 };
  const values = series.flatMap((s) => s.data.filter((v) => v !== null));
  const top = niceMax(Math.max(0, ...values));
  const x = (i) =>
    pad.left + (labels.length <= 1 ? 0 : (i * (width - pad.left - pad.right)) / (labels.length - 1));
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    svg(
      "g",
      { class: "grid" },
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(top * f), y2: y(top * f) }),
      svg(
        "text",
        { x: pad.left - 6, y: y(top * f) + 4, "text-anchor": "end" },
        formatNumber(top * f, unit === "EUR" ? "count" : unit),
      ),
    ),
  );
  // Every few labels, counted back from the last (the current period) so that none overlap.
  const every = Math.max(1, Math.ceil(labels.length / 6));
  const ticks = labels.map((label, i) =>
    (labels.length - 1 - i) % every === 0
      ? svg(
          "text",
          { class: "tick", x: x(i), y: height - 12, "text-anchor": i === labels.length - 1 ? "end" : "middle" },
          label,
        )
      : null,
  );
  const lines = series.map((s, index) => {
    const points = s.data.map((v, i) => `${x(i)},${y(v ?? 0)}`).join(" ");
    return svg(
      "g",
      { class: `series series-${index}` },
      svg("polyline", { points, fill: "none" }),
      s.data.map((v, i) =>
        svg("circle", { cx: x(i), cy: y(v ?? 0), r: 3 }, svg("title", {}, `${labels[i]}: ${formatNumber(v, unit)}`)),
      ),
    );
  });
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart" },
    grid,
    ticks,
    lines,
  );
  const legend =
    series.length > 1
      ? h(
          "ul",
          { class: "legend" },
          series.map((s, index) => h("li", { class: `series-${index}` }, s.name)),
        )
      : null;
  const table = dataTable(
    title,
    ["", ...series.map((s) => s.name)],
    labels.map((label, i) => [label, ...series.map((s) => formatNumber(s.data[i], unit))]),
  );
  return h("figure", { class: "chart-figure" }, chart, legend, table);
}

/** One value per label, as horizontal bars, largest first. */
export function barChart({ title, labels, values, unit }) {
  const rows = labels.map((label, i) => ({ label, value: values[i] ?? 0 }));
  rows.sort((a, b) => b.value - a.value);
  const shown = rows.slice(0, 12);
  const rowHeight = 26;
  const width = 560;
  const labelWidth = 190;
  const height = Math.max(1, shown.length) * rowHeight + 8;
  const top = niceMax(Math.max(0, ...shown.map((r) => r.value)));
  const bars = shown.map((row, i) => {
    const length = ((width - labelWidth - 90) * row.value) / top;
    const yPos = 4 + i * rowHeight;
    return svg(
      "g",
      { class: "bar" },
      svg("text", { class: "bar-label", x: labelWidth - 8, y: yPos + 16, "text-anchor": "end" }, shorten(row.label, 26)),
      svg("rect", { x: labelWidth, y: yPos + 3, width: Math.max(length, row.value > 0 ? 2 : 0), height: rowHeight - 8, rx: 3 }),
      svg("text", { class: "bar-value", x: labelWidth + length + 6, y: yPos + 16 }, formatNumber(row.value, unit)),
      svg("title", {}, `${row.label}: ${formatNumber(row.value, unit)}`),
    );
  });
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart bars" },
    bars,
  );
  const table = dataTable(title, ["", title], rows.map((r) => [r.label, formatNumber(r.value, unit)]));
  return h("figure", { class: "chart-figure" }, chart, table);
}

/** Stages from the widest to the narrowest, each with its share of the first. */
export function funnel({ title, stages }) {
  const width = 560;
  const rowHeight = 34;
  const height = stages.length * rowHeight + 4;
  const first = Math.max(1, stages[0]?.value ?? 0);
  const labelWidth = 190;
  const room = width - labelWidth - 110;
  const rows = stages.map((stage, i) => {
    const length = Math.max(2, (room * (stage.value ?? 0)) / first);
    const share = stages[0]?.value ? Math.round((100 * (stage.value ?? 0)) / stages[0].value) : 0;
    const yPos = 2 + i * rowHeight;
    return svg(
      "g",
      { class: `stage stage-${i}` },
      svg("text", { class: "bar-label", x: labelWidth - 8, y: yPos + 21, "text-anchor": "end" }, stage.label),
      svg("rect", { x: labelWidth + (room - length) / 2, y: yPos + 4, width: length, height: rowHeight - 8, rx: 4 }),
      svg(
        "text",
        { class: "bar-value", x: labelWidth + room + 8, y: yPos + 21 },
        `${formatNumber(stage.value ?? 0)}${i > 0 ? ` · ${share}%` : ""}`,
      ),
    );
  });
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, class: "chart funnel" },
    rows,
  );
  const table = dataTable(title, ["", title], stages.map((s) => [s.label, formatNumber(s.value ?? 0)]));
  return h("figure", { class: "chart-figure" }, chart, table);
}

function shorten(text, length) {
  const value = String(text ?? "");
  return value.length > length ? `${value.slice(0, length - 1)}…` : value;
}
