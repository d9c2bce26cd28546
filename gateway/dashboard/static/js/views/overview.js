// Overview: KPI tiles of a period against the one before, the last 12 months, breakdowns by a
// dimension and the matching funnel. Every figure comes from the reporting API as it is.

import { get } from "../api.js";
import { barChart, funnel, lineChart } from "../charts.js";
import { errorBox, h, replace } from "../dom.js";
import { formatNumber, language, t } from "../i18n.js";
import { periodOf, periodsUntil, previousPeriod } from "../periods.js";

// Italian titles of the KPIs shown here (the API's definitions are in English).
const TITLES_IT = {
  catalogue_size: "Voci del catalogo",
  labs_published: "Laboratori",
  equipment_shareable: "Attrezzature prenotabili",
  members_active: "Aderenti attivi",
  demands_received: "Domande ricevute",
  smes_served: "PMI servite",
  match_rate: "Tasso di abbinamento",
  demands_matched: "Domande abbinate",
  introductions_accepted: "Presentazioni accettate",
  introductions_requested: "Presentazioni richieste",
  introduction_acceptance_rate: "Tasso di accettazione",
  engagements_opened: "Collaborazioni avviate",
  engagements_closed: "Collaborazioni concluse",
  engagement_value_eur: "Valore delle collaborazioni",
  duplicates_found: "Duplicati trovati",
  duplicates_resolved: "Duplicati risolti",
  initiatives_registered: "Iniziative registrate",
  joint_actions_registered: "Azioni congiunte",
  initiative_public_funding_eur: "Finanziamento pubblico delle iniziative",
  training_hours: "Ore di formazione",
  training_participants: "Partecipanti alla formazione",
  dissemination_events_held: "Eventi di disseminazione",
  challenges_published: "Sfide pubblicate",
  challenge_value_awarded_eur: "Valore delle sfide aggiudicate",
  enterprises_cooperating_with_research: "Imprese che collaborano con la ricerca",
};

const TILES = [
  "catalogue_size",
  "labs_published",
  "members_active",
  "demands_received",
  "smes_served",
  "match_rate",
  "engagements_opened",
  "engagement_value_eur",
  "initiatives_registered",
  "initiative_public_funding_eur",
  "training_participants",
  "duplicates_found",
];
const FUNNEL = [
  "demands_received",
  "demands_matched",
  "introductions_requested",
  "introductions_accepted",
  "engagements_opened",
  "engagements_closed",
];
const TRENDS = [
  ["catalogue_size", "labs_published"],
  ["demands_received", "introductions_requested", "engagements_opened"],
  ["initiatives_registered", "dissemination_events_held", "duplicates_found"],
];
const BREAKDOWN_KPIS = [
  "catalogue_size",
  "labs_published",
  "demands_received",
  "smes_served",
  "engagements_opened",
  "engagement_value_eur",
  "initiatives_registered",
  "training_participants",
  "enterprises_cooperating_with_research",
];
const DIMENSIONS = ["centre", "province", "sector", "size_class", "s3"];

let definitions = null;

async function kpiDefinitions() {
  if (!definitions) {
    const found = await get("/reporting/kpis/definitions");
    definitions = new Map(found.items.map((d) => [d.kpi, d]));
  }
  return definitions;
}

function title(kpi) {
  if (language() === "it" && TITLES_IT[kpi]) return TITLES_IT[kpi];
  return definitions?.get(kpi)?.title ?? kpi;
}

function unit(kpi) {
  return definitions?.get(kpi)?.unit ?? "count";
}

const state = { granularity: "quarter", period: null };

export async function overviewView({ session }) {
  await kpiDefinitions();
  if (!state.period) state.period = periodOf(state.granularity, new Date());
  const body = h("div", { class: "overview-body" });
  const view = h(
    "section",
    { "aria-labelledby": "overview-title" },
    h("div", { class: "view-head" }, h("h1", { id: "overview-title" }, t("overview.title")), periodPicker(() => draw())),
    body,
  );
  async function draw() {
    replace(body, h("p", { class: "loading" }, t("app.loading")));
    try {
      replace(body, ...(await content(session)));
    } catch (error) {
      replace(body, errorBox(error));
    }
  }
  await draw();
  return view;
}

function periodPicker(onChange) {
  const granularity = h(
    "select",
    { id: "granularity", name: "granularity" },
    ["month", "quarter", "year"].map((g) =>
      h("option", { value: g, selected: g === state.granularity }, t(`overview.${g}`)),
    ),
  );
  const period = h("select", { id: "period", name: "period" });
  function fillPeriods() {
    const latest = periodOf(state.granularity, new Date());
    const choices = periodsUntil(latest, state.granularity === "year" ? 5 : 8).reverse();
    if (!choices.includes(state.period)) state.period = latest;
    replace(period, choices.map((p) => h("option", { value: p, selected: p === state.period }, p)));
  }
  fillPeriods();
  granularity.addEventListener("change", () => {
    state.granularity = granularity.value;
    state.period = periodOf(state.granularity, new Date());
    fillPeriods();
    onChange();
  });
  period.addEventListener("change", () => {
    state.period = period.value;
    onChange();
  });
  return h(
    "div",
    { class: "controls" },
    h("label", { for: "granularity" }, t("overview.granularity")),
    granularity,
    h("label", { for: "period" }, t("overview.period")),
    period,
  );
}

async function content(session) {
  const current = state.period;
  const previous = previousPeriod(current);
  const names = [...new Set([...TILES, ...FUNNEL])];
  const figures = await get("/reporting/kpis", {
    period: state.granularity,
    from: previous,
    to: current,
    kpi: names.join(","),
  });
  const value = (kpi, period) =>
    numeric(figures.items.find((i) => i.kpi === kpi && i.period === period && i.dimension === null)?.value);
  const tiles = h(
    "ul",
    { class: "tiles", "aria-label": t("overview.title") },
    TILES.map((kpi) => tile(kpi, value(kpi, current), value(kpi, previous), previous)),
  );
  const stages = FUNNEL.map((kpi) => ({ label: title(kpi), value: value(kpi, current) ?? 0 }));
  const funnelCard = h(
    "section",
    { class: "card", "aria-labelledby": "funnel-title" },
    h("h2", { id: "funnel-title" }, `${t("overview.funnel")} · ${current}`),
    funnel({ title: t("overview.funnel"), stages }),
  );
  const trends = await trendCharts(current);
  const breakdowns = h(
    "section",
    { class: "card wide", "aria-labelledby": "breakdowns-title" },
    h("h2", { id: "breakdowns-title" }, `${t("overview.breakdowns")} · ${current}`),
    h(
      "div",
      { class: "grid two" },
      await breakdownPanel(session, "b1", "catalogue_size", "centre", current),
      await breakdownPanel(
        session,
        "b2",
        "initiatives_registered",
        session.can("region") ? "province" : "centre",
        current,
      ),
    ),
  );
  return [
    tiles,
    h("div", { class: "grid two" }, funnelCard, trends),
    breakdowns,
  ];
}

/** The API's figures: counts as integers, money and rates as decimal strings, null when
 * undefined (a rate of nothing). */
function numeric(value) {
  return value === null || value === undefined ? null : Number(value);
}

function tile(kpi, now, before, previous) {
  const change = now !== null && before !== null ? now - before : null;
  let trend = t("overview.no_change");
  let direction = "flat";
  if (change) {
    direction = change > 0 ? "up" : "down";
    const sign = change > 0 ? "+" : "−";
    const relative = before ? ` (${sign}${formatNumber(Math.abs((100 * change) / before), "count")}%)` : "";
    trend = `${sign}${formatNumber(Math.abs(change), unit(kpi))}${relative}`;
  }
  return h(
    "li",
    { class: "tile", "data-kpi": kpi, "data-value": now ?? "", title: definitions?.get(kpi)?.definition ?? "" },
    h("span", { class: "tile-title" }, title(kpi)),
    h("span", { class: "tile-value" }, formatNumber(now, unit(kpi))),
    h("span", { class: `tile-change ${direction}` }, `${trend} ${t("overview.previous")} ${previous}`),
  );
}

async function trendCharts(current) {
  const today = new Date();
  const end = periodEnd(current);
  const months = periodsUntil(periodOf("month", end > today ? today : end), 12);
  const charts = [];
  for (const group of TRENDS) {
    const series = await Promise.all(
      group.map((kpi) =>
        get("/reporting/timeseries", { kpi, granularity: "month", from: months[0], to: months.at(-1) }),
      ),
    );
    charts.push(
      lineChart({
        title: group.map(title).join(", "),
        labels: series[0].labels,
        series: series.map((s) => ({ name: title(s.kpi), data: s.series[0].data.map(numeric) })),
        unit: unit(group[0]),
      }),
    );
  }
  return h(
    "section",
    { class: "card", "aria-labelledby": "trends-title" },
    h("h2", { id: "trends-title" }, t("overview.trends")),
    charts,
  );
}

/** The last day of a period, as a date (for the months that lead up to it). */
function periodEnd(label) {
  const quarter = /^(\d{4})-Q([1-4])$/.exec(label);
  if (quarter) return new Date(Date.UTC(Number(quarter[1]), Number(quarter[2]) * 3 - 1, 15));
  const month = /^(\d{4})-(\d{2})$/.exec(label);
  if (month) return new Date(Date.UTC(Number(month[1]), Number(month[2]) - 1, 15));
  const now = new Date();
  const year = Number(label);
  return year === now.getUTCFullYear() ? now : new Date(Date.UTC(year, 11, 15));
}

async function breakdownPanel(session, id, kpi, dimension, period) {
  const dimensions = session.can("region") ? DIMENSIONS : ["centre"];
  const kpiSelect = h(
    "select",
    { id: `${id}-kpi`, name: `${id}-kpi` },
    BREAKDOWN_KPIS.map((k) => h("option", { value: k, selected: k === kpi }, title(k))),
  );
  const bySelect = h(
    "select",
    { id: `${id}-by`, name: `${id}-by` },
    dimensions.map((d) => h("option", { value: d, selected: d === dimension }, t(`dim.${d}`))),
  );
  const chart = h("div", { class: "breakdown-chart", "aria-live": "polite" });
  async function draw() {
    try {
      const found = await get("/reporting/breakdown", { kpi: kpiSelect.value, by: bySelect.value, period });
      const names = bySelect.value === "centre" ? await session.centreNames() : new Map();
      const labels = found.labels.map((key) => names.get(key) ?? key);
      replace(
        chart,
        found.labels.length
          ? barChart({ title: `${title(found.kpi)} ${t("overview.by")} ${t(`dim.${found.dimension}`)}`, labels, values: found.values.map(numeric), unit: found.unit })
          : h("p", { class: "empty" }, t("app.empty")),
        h("p", { class: "note" }, `${t("overview.total")}: ${formatNumber(numeric(found.total), found.unit)}`),
      );
    } catch (error) {
      replace(chart, errorBox(error));
    }
  }
  kpiSelect.addEventListener("change", draw);
  bySelect.addEventListener("change", draw);
  await draw();
  return h(
    "div",
    { class: "breakdown" },
    h(
      "div",
      { class: "controls" },
      h("label", { for: `${id}-kpi` }, t("overview.kpi")),
      kpiSelect,
      h("label", { for: `${id}-by` }, t("overview.by")),
      bySelect,
    ),
    chart,
  );
}
