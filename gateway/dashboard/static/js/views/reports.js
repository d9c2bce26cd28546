// Reports: the issued periodic reports with their SHA-256 and their exports; the Region issues
// a new one (an open period only as provisional, a new version only with "supersede").

import { download, getAll, post } from "../api.js";
import { dataTable, errorBox, h, notice, replace } from "../dom.js";
import { formatDate, t } from "../i18n.js";
import { periodOf, previousPeriod } from "../periods.js";

const FORMATS = ["pdf", "xlsx", "csv", "json"];

export async function reportsView({ session }) {
  const list = h("div", {});
  async function refresh() {
    try {
      replace(list, reportsTable(await getAll("/reporting/reports")));
    } catch (error) {
      replace(list, errorBox(error));
    }
  }
  await refresh();
  return h(
    "section",
    { "aria-labelledby": "reports-title" },
    h("div", { class: "view-head" }, h("h1", { id: "reports-title" }, t("reports.title"))),
    session.can("region") ? issueForm(refresh) : null,
    h(
      "section",
      { class: "card wide", "aria-labelledby": "issued-title" },
      h("h2", { id: "issued-title" }, t("reports.issued")),
      list,
    ),
  );
}

function reportsTable(reports) {
  if (!reports.length) return h("p", { class: "empty" }, t("reports.none"));
  const headings = ["number", "period", "version", "generated", "hash", "downloads"];
  return dataTable(
    headings.map((key) => t(`reports.${key}`)),
    reports.map((report) =>
      h(
        "tr",
        { "data-report": report.id, "data-period": report.period },
        h("td", { class: "number" }, report.number),
        h(
          "th",
          { scope: "row" },
          report.period,
          report.provisional ? h("span", { class: "status provisional" }, ` ${t("reports.provisional")}`) : null,
        ),
        h("td", { class: "number" }, report.version),
        h("td", {}, formatDate(report.generated_at)),
        h("td", {}, h("code", { class: "hash", title: report.hash }, report.hash)),
        h(
          "td",
          { class: "downloads" },
          FORMATS.map((format) =>
            h(
              "button",
              {
                type: "button",
                class: "small",
                "data-format": format,
                "aria-label": `${t("reports.downloads")} ${report.period} v${report.version} ${format.toUpperCase()}`,
                onclick: async (event) => {
                  try {
                    await download(`/reporting/reports/${report.id}.${format}`);
                  } catch (error) {
                    event.target.after(errorBox(error));
                  }
                },
              },
              format.toUpperCase(),
            ),
          ),
        ),
      ),
    ),
    { class: "data reports" },
  );
}

function issueForm(refresh) {
  const lastQuarter = previousPeriod(periodOf("quarter", new Date()));
  const period = h("input", {
    id: "report-period",
    name: "period",
    required: true,
    value: lastQuarter,
    pattern: "^[1-9][0-9]{3}(-(0[1-9]|1[0-2])|-Q[1-4])?$",
  });
  const provisional = h("input", { id: "report-provisional", name: "provisional", type: "checkbox" });
  const supersede = h("input", { id: "report-supersede", name: "supersede", type: "checkbox" });
  const outcome = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card wide issue" },
    h("h2", {}, t("reports.issue")),
    h("label", { for: "report-period" }, t("reports.issue.period")),
    period,
    h("label", { class: "choice" }, provisional, ` ${t("reports.issue.provisional")}`),
    h("label", { class: "choice" }, supersede, ` ${t("reports.issue.supersede")}`),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("reports.issue.submit"))),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    outcome.replaceChildren();
    if (!form.reportValidity()) return;
    try {
      const report = await post("/reporting/reports", {
        period: period.value.trim(),
        provisional: provisional.checked,
        supersede: supersede.checked,
      });
      notice(`${t("reports.issue.done")} ${report.period} v${report.version}`);
      await refresh();
    } catch (error) {
      outcome.append(errorBox(error));
    }
  });
  return form;
}
