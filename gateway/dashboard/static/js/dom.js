// Building the page with the DOM: text is always set as text, never parsed as HTML.

import { ApiError } from "./api.js";
import { t } from "./i18n.js";

/** `h("a", {href: "#/x", class: "card"}, "text", child)`. Attributes starting with `on` are
 * listeners; `null`, `undefined` and `false` children are skipped. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null) continue;
    element.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A message in the page's live region (read out by screen readers). */
export function notice(text, kind = "info") {
  const region = document.getElementById("notices");
  const item = h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  region.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 12_000 : 6_000);
}

/** What went wrong, as the API's problem document says it. */
export function errorBox(error) {
  const message = error instanceof ApiError ? `${error.status}: ${error.message}` : String(error);
  return h("div", { class: "error-box", role: "alert" }, h("strong", {}, `${t("app.error")} `), message);
}

/** A table of data that scrolls sideways on a narrow screen: column headings, then rows (`tr`
 * elements). */
export function dataTable(headings, rows, attributes = {}) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "data", ...attributes },
      h("thead", {}, h("tr", {}, headings.map((heading) => h("th", { scope: "col" }, heading)))),
      h("tbody", {}, rows),
    ),
  );
}
