// Membership: the members with status and term; for the Region the applications under review,
// with their eligibility checks and a decision form; for the Region and the centres the
// coordination committee.

import { getAll, post } from "../api.js";
import { dataTable, errorBox, h, notice } from "../dom.js";
import { formatDate, t } from "../i18n.js";

export async function membershipView({ session }) {
  const [members, applications, committee] = await Promise.all([
    getAll("/membership/members"),
    session.can("region") ? getAll("/membership/applications", { status: "under_review" }) : null,
    session.can("region", "centre") ? getAll("/membership/committee") : null,
  ]);
  return h(
    "section",
    { "aria-labelledby": "membership-title" },
    h("div", { class: "view-head" }, h("h1", { id: "membership-title" }, t("membership.title"))),
    applications ? applicationsCard(applications) : null,
    membersCard(members),
    committee ? committeeCard(committee) : null,
  );
}

function status(value) {
  return h("span", { class: `status ${value}` }, t(`status.${value}`));
}

function membersCard(members) {
  const headings = ["name", "province", "role", "status", "since", "term"];
  return h(
    "section",
    { class: "card wide", "aria-labelledby": "members-title" },
    h("h2", { id: "members-title" }, `${t("membership.members")} (${members.length})`),
    dataTable(
      headings.map((key) => t(`membership.${key}`)),
      members.map((m) =>
        h(
          "tr",
          { "data-organisation": m.organisation_id },
          h("th", { scope: "row" }, m.acronym ? `${m.acronym} — ${m.name}` : m.name),
          h("td", {}, m.province),
          h("td", {}, t(`status.${m.role}`)),
          h("td", {}, status(m.status)),
          h("td", {}, formatDate(m.since, { time: false })),
          h("td", {}, formatDate(m.term_end)),
        ),
      ),
    ),
  );
}

function applicationsCard(applications) {
  const list = h("ul", { class: "applications" }, applications.map(applicationItem));
  return h(
    "section",
    { class: "card wide", "aria-labelledby": "applications-title" },
    h("h2", { id: "applications-title" }, `${t("membership.applications")} (${applications.length})`),
    applications.length ? list : h("p", { class: "empty" }, t("membership.no_applications")),
  );
}

function applicationItem(application) {
  const id = application.id;
  const organisation = application.organisation ?? {};
  const number = (name, label) =>
    h(
      "div",
      {},
      h("label", { for: `${name}-${id}` }, label),
      h("input", { id: `${name}-${id}`, name, type: "number", min: 0, step: 1, inputmode: "numeric" }),
    );
  const form = h(
    "form",
    { class: "decision" },
    h(
      "fieldset",
      {},
      h("legend", {}, t("membership.decide")),
      ["admit", "reject"].map((choice) =>
        h(
          "label",
          { class: "choice" },
          h("input", { type: "radio", name: "decision", value: choice, required: true }),
          ` ${t(`membership.${choice}`)}`,
        ),
      ),
    ),
    h("label", { for: `motivation-${id}` }, t("membership.motivation")),
    h("textarea", { id: `motivation-${id}`, name: "motivation", rows: 3, required: true, minlength: 1 }),
    h(
      "div",
      { class: "votes" },
      number("for", t("membership.votes_for")),
      number("against", t("membership.votes_against")),
      number("abstained", t("membership.votes_abstained")),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("membership.submit"))),
  );
  const item = h(
    "li",
    { class: "application", "data-application": id },
    h("h3", {}, organisation.name ?? id),
    h(
      "p",
      { class: "meta" },
      [organisation.province, organisation.municipality, organisation.vat_number].filter(Boolean).join(" · "),
      ` · ${formatDate(application.created_at)}`,
    ),
    h("h4", {}, t("membership.checks")),
    h(
      "ul",
      { class: "checks" },
      application.eligibility.map((check) =>
        h(
          "li",
          { class: check.passed ? "passed" : "failed" },
          h("span", { class: "check-mark", "aria-hidden": "true" }, check.passed ? "✓" : "✗"),
          h("span", { class: "sr-only" }, check.passed ? "OK" : "KO"),
          ` ${check.check.replaceAll("_", " ")}: ${check.detail}`,
        ),
      ),
    ),
    form,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const data = new FormData(form);
    const votes = ["for", "against", "abstained"].map((n) => data.get(n));
    const body = { decision: data.get("decision"), motivation: String(data.get("motivation")).trim() };
    if (votes.some((v) => v !== "")) {
      body.votes = { for: Number(votes[0] || 0), against: Number(votes[1] || 0), abstained: Number(votes[2] || 0) };
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const decided = await post(`/membership/applications/${id}/decision`, body);
      notice(`${t("membership.decided")} ${organisation.name ?? id} — ${t(`membership.${decided.decision.decision}`)}`);
      item.remove();
    } catch (error) {
      form.append(errorBox(error));
      button.disabled = false;
    }
  });
  return item;
}

function committeeCard(seats) {
  const headings = ["name", "role", "representative", "position"];
  return h(
    "section",
    { class: "card wide", "aria-labelledby": "committee-title" },
    h("h2", { id: "committee-title" }, `${t("membership.committee")} (${seats.length})`),
    dataTable(
      headings.map((key) => t(`membership.${key}`)),
      seats.map((seat) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, seat.acronym ? `${seat.acronym} — ${seat.name}` : seat.name),
          h("td", {}, t(`status.${seat.role}`)),
          h("td", {}, seat.representative?.full_name ?? "—"),
          h("td", {}, seat.representative?.position ?? "—"),
        ),
      ),
    ),
  );
}
