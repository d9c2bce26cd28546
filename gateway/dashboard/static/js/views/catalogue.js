// Catalogue explorer: the catalogue's bilingual search with its facets, result cards, and a
// lab's page (its competences, equipment and services, its centre).

import { get, getAll } from "../api.js";
import { errorBox, h, replace } from "../dom.js";
import { formatNumber, language, pick, t } from "../i18n.js";

const FACETS = ["entity", "province", "centre", "kind", "s3", "ket"];
const LABELLED = { s3: "s3", ket: "ket", province: "provinces" };

// The search the user left, so that "back" from a lab finds it again.
const search = { q: "", filters: {}, lang: null };
const taxonomyLabels = new Map();

async function labelsOf(taxonomy) {
  if (!taxonomyLabels.has(taxonomy)) {
    const terms = await getAll(`/catalog/taxonomies/${taxonomy}`);
    taxonomyLabels.set(taxonomy, new Map(terms.map((term) => [term.code, term.label])));
  }
  return taxonomyLabels.get(taxonomy);
}

async function facetLabel(session, facet, value) {
  if (facet === "centre") return (await session.centreNames()).get(value) ?? value;
  if (facet === "entity") return t(`entity.${value}`);
  if (LABELLED[facet]) {
    const label = (await labelsOf(LABELLED[facet])).get(value);
    return label ? `${pick(label)}${facet === "province" ? ` (${value})` : ""}` : value;
  }
  return value.replaceAll("_", " ");
}

export async function catalogueView({ session }) {
  if (!search.lang) search.lang = language();
  const query = h("input", {
    id: "q",
    name: "q",
    type: "search",
    value: search.q,
    placeholder: t("catalogue.placeholder"),
  });
  const lang = h(
    "select",
    { id: "search-lang", name: "lang" },
    ["it", "en"].map((l) => h("option", { value: l, selected: l === search.lang }, l === "it" ? "Italiano" : "English")),
  );
  const facets = h("aside", { class: "facets", "aria-label": t("catalogue.filters") });
  const results = h("div", { class: "results", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "search-form", role: "search" },
    h("label", { for: "q" }, t("catalogue.query")),
    query,
    h("label", { for: "search-lang" }, t("catalogue.lang")),
    lang,
    h("button", { type: "submit", class: "primary" }, t("catalogue.search")),
  );
  async function run() {
    search.q = query.value.trim();
    search.lang = lang.value;
    replace(results, h("p", { class: "loading" }, t("app.loading")));
    try {
      const page = await get("/catalog/search", { q: search.q, lang: search.lang, limit: 20, ...search.filters });
      await drawFacets(session, facets, page.facets, run);
      replace(results, h("p", { class: "count" }, `${formatNumber(page.total)} ${t("catalogue.results")}`));
      await appendPage(session, results, page);
    } catch (error) {
      replace(results, errorBox(error));
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  await run();
  return h(
    "section",
    { "aria-labelledby": "catalogue-title" },
    h("div", { class: "view-head" }, h("h1", { id: "catalogue-title" }, t("catalogue.title"))),
    form,
    h("div", { class: "explorer" }, facets, results),
  );
}

async function appendPage(session, results, page) {
  const names = await session.centreNames();
  results.querySelector(".more")?.remove();
  results.append(h("ul", { class: "cards" }, page.items.map((item) => card(item, names))));
  if (page.next_cursor) {
    const more = h("button", { type: "button", class: "more" }, t("app.more"));
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const next = await get("/catalog/search", {
          q: search.q,
          lang: search.lang,
          limit: 20,
          cursor: page.next_cursor,
          ...search.filters,
        });
        await appendPage(session, results, next);
      } catch (error) {
        results.append(errorBox(error));
      }
    });
    results.append(more);
  }
}

function card(item, names) {
  const centre = names.get(item.centre_id) ?? item.centre_id;
  const link = item.lab_id ? `#/labs/${item.lab_id}` : null;
  return h(
    "li",
    { class: "card result", "data-entity": item.entity },
    h("span", { class: `badge ${item.entity}` }, t(`entity.${item.entity}`)),
    h("h2", {}, link ? h("a", { href: link }, item.title) : item.title),
    h("p", { class: "snippet" }, item.snippet),
    h(
      "p",
      { class: "meta" },
      `${centre} · ${item.province}${item.kind ? ` · ${item.kind.replaceAll("_", " ")}` : ""}`,
    ),
  );
}

async function drawFacets(session, aside, counts, run) {
  const groups = [];
  for (const facet of FACETS) {
    const values = Object.entries(counts[facet] ?? {}).sort((a, b) => b[1] - a[1]);
    if (!values.length && !search.filters[facet]) continue;
    const buttons = [];
    for (const [value, count] of values.slice(0, 12)) {
      const active = search.filters[facet] === value;
      buttons.push(
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "facet",
              "aria-pressed": active ? "true" : "false",
              "data-facet": facet,
              "data-value": value,
              onclick: () => {
                if (active) delete search.filters[facet];
                else search.filters[facet] = value;
                run();
              },
            },
            `${await facetLabel(session, facet, value)} `,
            h("span", { class: "facet-count" }, formatNumber(count)),
          ),
        ),
      );
    }
    groups.push(h("fieldset", {}, h("legend", {}, t(`facet.${facet}`)), h("ul", {}, buttons)));
  }
  const clear = Object.keys(search.filters).length
    ? h(
        "button",
        {
          type: "button",
          class: "link",
          onclick: () => {
            search.filters = {};
            run();
          },
        },
        t("catalogue.clear"),
      )
    : null;
  replace(aside, h("h2", {}, t("catalogue.filters")), clear, groups);
}

export async function labView({ session }, labId) {
  const [lab, competences, equipment, services, names] = await Promise.all([
    get(`/catalog/labs/${encodeURIComponent(labId)}`),
    getAll(`/catalog/labs/${encodeURIComponent(labId)}/competences`),
    getAll(`/catalog/labs/${encodeURIComponent(labId)}/equipment`),
    getAll(`/catalog/labs/${encodeURIComponent(labId)}/services`),
    session.centreNames(),
  ]);
  const published = (entries) => entries.filter((e) => e.status === "published");
  const section = (key, entries, render) =>
    h(
      "section",
      { class: "card", "aria-labelledby": `lab-${key}` },
      h("h2", { id: `lab-${key}` }, `${t(`lab.${key}`)} (${entries.length})`),
      entries.length ? h("ul", { class: "entries" }, entries.map(render)) : h("p", { class: "empty" }, t("app.empty")),
    );
  return h(
    "article",
    { class: "lab", "aria-labelledby": "lab-title" },
    h("p", {}, h("a", { href: "#/catalogue" }, `← ${t("lab.back")}`)),
    h("h1", { id: "lab-title" }, pick(lab.name)),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("lab.centre")),
      h("dd", {}, names.get(lab.centre_id) ?? lab.centre_id),
      h("dt", {}, t("lab.place")),
      h("dd", {}, `${lab.municipality} (${lab.province})`),
      lab.contact_email ? [h("dt", {}, t("lab.contact")), h("dd", {}, h("a", { href: `mailto:${lab.contact_email}` }, lab.contact_email))] : null,
      lab.accreditations?.length ? [h("dt", {}, t("lab.accreditations")), h("dd", {}, lab.accreditations.join(", "))] : null,
      lab.access_modes?.length ? [h("dt", {}, t("lab.access")), h("dd", {}, lab.access_modes.join(", ").replaceAll("_", " "))] : null,
    ),
    h("p", { class: "description" }, pick(lab.description)),
    h(
      "div",
      { class: "grid three" },
      section("competences", published(competences), (c) =>
        h(
          "li",
          {},
          h("strong", {}, pick(c.title)),
          h("span", { class: "meta" }, ` · ${t("lab.trl")} ${c.trl_min}–${c.trl_max}`),
          h("p", {}, pick(c.description)),
        ),
      ),
      section("equipment", published(equipment), (e) =>
        h(
          "li",
          {},
          h("strong", {}, pick(e.name)),
          h(
            "span",
            { class: "meta" },
            [e.manufacturer, e.model, e.year].filter(Boolean).length ? ` · ${[e.manufacturer, e.model, e.year].filter(Boolean).join(" ")}` : "",
          ),
          h("p", {}, pick(e.description)),
          e.shareable
            ? h("p", { class: "meta" }, `${t("lab.shareable")}${e.tariff_eur_per_hour ? ` · ${t("lab.tariff")} ${formatNumber(Number(e.tariff_eur_per_hour))}` : ""}`)
            : null,
        ),
      ),
      section("services", published(services), (s) =>
        h(
          "li",
          {},
          h("strong", {}, pick(s.name)),
          h("span", { class: "meta" }, ` · ${s.kind.replaceAll("_", " ")}`),
          h("p", {}, pick(s.description)),
        ),
      ),
    ),
  );
}
