// Duplicates and gaps: the open near-duplicate pairs across centres, which the Region resolves
// (`distinct` or `shared`), and the needs of open demands that no member lab covers.

import { get, getAll, post } from "../api.js";
import { errorBox, h, notice, replace } from "../dom.js";
import { formatDate, formatNumber, pick, t } from "../i18n.js";

const ENTRY_PATHS = { lab: "labs", competence: "competences", equipment: "equipment", service: "services" };

async function entry(ref) {
  try {
    const found = await get(`/catalog/${ENTRY_PATHS[ref.entity]}/${encodeURIComponent(ref.id)}`);
    return pick(found.title ?? found.name);
  } catch {
    return ref.id;
  }
}

export async function duplicatesView({ session }) {
  const names = await session.centreNames();
  const pairs = await getAll("/catalog/duplicates", { status: "open" });
  const titles = await Promise.all(pairs.map(async (p) => [await entry(p.a), await entry(p.b)]));
  const canResolve = session.can("region");
  const rows = pairs.map((pair, index) => pairRow(pair, titles[index], names, canResolve));
  const list = h("ul", { class: "pairs" }, rows);
  const duplicates = h(
    "section",
    { class: "card wide", "aria-labelledby": "pairs-title" },
    h("h2", { id: "pairs-title" }, `${t("duplicates.pairs")} (${pairs.length})`),
    pairs.length ? list : h("p", { class: "empty" }, t("duplicates.none")),
  );
  return h(
    "section",
    { "aria-labelledby": "duplicates-title" },
    h("div", { class: "view-head" }, h("h1", { id: "duplicates-title" }, t("duplicates.title"))),
    duplicates,
    session.can("region") ? await gaps(names) : null,
  );
}

function side(ref, title, names) {
  return h(
    "div",
    { class: "pair-side" },
    h("span", { class: `badge ${ref.entity}` }, t(`entity.${ref.entity}`)),
    " ",
    h("a", { href: `#/labs/${ref.lab_id}` }, title),
    h("p", { class: "meta" }, names.get(ref.centre_id) ?? ref.centre_id),
  );
}

function pairRow(pair, [titleA, titleB], names, canResolve) {
  const row = h(
    "li",
    { class: "card pair", "data-pair": pair.id },
    h("div", { class: "pair-sides" }, side(pair.a, titleA, names), h("span", { class: "versus", "aria-hidden": "true" }, "≈"), side(pair.b, titleB, names)),
    h("p", { class: "meta" }, `${t("duplicates.similarity")} ${formatNumber(Math.round(pair.similarity * 100))}% · ${pair.reason} · ${formatDate(pair.created_at)}`),
  );
  if (canResolve) {
    const actions = h("div", { class: "actions" });
    for (const resolution of ["distinct", "shared"]) {
      actions.append(
        h(
          "button",
          {
            type: "button",
            class: resolution === "shared" ? "primary" : "",
            "data-resolution": resolution,
            onclick: async (event) => {
              for (const button of actions.querySelectorAll("button")) button.disabled = true;
              try {
                const resolved = await post(`/catalog/duplicates/${pair.id}/resolution`, { resolution });
                notice(`${t("duplicates.resolved")} ${titleA} / ${titleB}: ${t(`duplicates.${resolved.status}`)}`);
                row.remove();
              } catch (error) {
                row.append(errorBox(error));
                for (const button of actions.querySelectorAll("button")) button.disabled = false;
                event.target.focus();
              }
            },
          },
          t(`duplicates.${resolution}`),
        ),
      );
    }
    row.append(actions);
  }
  return row;
}

async function gaps(names) {
  const body = h("div", {});
  const section = h(
    "section",
    { class: "card wide", "aria-labelledby": "gaps-title" },
    h("h2", { id: "gaps-title" }, t("gaps.title")),
    h("p", { class: "note" }, t("gaps.intro")),
    body,
  );
  try {
    const found = await get("/matching/gaps", { limit: 200 });
    if (!found.items.length) {
      replace(body, h("p", { class: "empty" }, t("gaps.none")));
      return section;
    }
    replace(
      body,
      h(
        "table",
        { class: "data" },
        h(
          "thead",
          {},
          h("tr", {}, [t("gaps.need"), t("gaps.firm"), t("gaps.best")].map((c) => h("th", { scope: "col" }, c))),
        ),
        h(
          "tbody",
          {},
          found.items.map((gap) =>
            h(
              "tr",
              {},
              h("td", {}, gap.text),
              h("td", {}, [gap.firm_name, gap.firm_province].filter(Boolean).join(" · ")),
              h(
                "td",
                { class: "number" },
                `${formatNumber(gap.best_score)}${gap.best_centre_id ? ` (${names.get(gap.best_centre_id) ?? ""})` : ""}`,
              ),
            ),
          ),
        ),
      ),
    );
  } catch (error) {
    replace(body, errorBox(error));
  }
  return section;
}
