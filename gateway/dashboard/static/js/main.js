// The dashboard's frame: who is signed in, the sections that role may use, the language, and
// the router (`#/section/...`), which draws one view at a time into <main>.

import {
  ApiError,
  SIGNED_OUT,
  credentials,
  forgetCredentials,
  get,
  saveCredentials,
} from "./api.js";
import { errorBox, h, notice, replace } from "./dom.js";
import { language, setLanguage, t } from "./i18n.js";
import { finishSignIn } from "./oidc.js";
import { catalogueView, labView } from "./views/catalogue.js";
import { duplicatesView } from "./views/duplicates.js";
import { membershipView } from "./views/membership.js";
import { overviewView } from "./views/overview.js";
import { reportsView } from "./views/reports.js";
import { signinView } from "./views/signin.js";

const EVERYONE = ["region", "centre", "firm", "partner", "anonymous"];

// A role sees only the sections, and in them only the actions, the API lets it use.
const SECTIONS = [
  { route: "overview", label: "nav.overview", roles: ["region", "centre"], view: overviewView },
  { route: "catalogue", label: "nav.catalogue", roles: EVERYONE, view: catalogueView },
  { route: "duplicates", label: "nav.duplicates", roles: ["region", "centre"], view: duplicatesView },
  { route: "membership", label: "nav.membership", roles: EVERYONE, view: membershipView },
  { route: "reports", label: "nav.reports", roles: EVERYONE, view: reportsView },
];

const session = {
  who: null, // the gateway's /whoami: role, org_id, authenticated
  oidc: null, // the identity provider's endpoints, when the dashboard signs in there
  centres: null, // organisation id -> name, of the members
  can(...roles) {
    return roles.includes(this.who?.role ?? "anonymous");
  },
  async centreNames() {
    if (!this.centres) {
      const members = await get("/membership/members", { limit: 200 });
      this.centres = new Map(members.items.map((m) => [m.organisation_id, m.acronym || m.name]));
    }
    return this.centres;
  },
};

function sections() {
  const role = session.who?.role ?? "anonymous";
  return SECTIONS.filter((s) => s.roles.includes(role));
}

function drawFrame() {
  document.title = t("app.title");
  document.documentElement.lang = language();
  document.querySelector(".skip").textContent = t("app.skip");
  document.querySelector(".brand-subtitle").textContent = t("app.subtitle");
  const nav = document.getElementById("nav");
  nav.setAttribute("aria-label", t("nav.label"));
  const current = currentRoute().section;
  replace(
    nav,
    h(
      "ul",
      {},
      session.who
        ? sections().map((s) =>
            h(
              "li",
              {},
              h(
                "a",
                { href: `#/${s.route}`, "aria-current": s.route === current ? "page" : null },
                t(s.label),
              ),
            ),
          )
        : null,
    ),
  );
  const who = document.getElementById("who");
  const role = session.who?.role;
  replace(
    who,
    role ? `${t(`role.${role}`)}${session.who.name ? ` · ${session.who.name}` : ""}` : "",
  );
  const switcher = document.getElementById("language");
  switcher.textContent = t("app.language");
  switcher.lang = language() === "it" ? "en" : "it";
  switcher.setAttribute("aria-label", t("app.language.label"));
  const signout = document.getElementById("signout");
  signout.textContent = session.who?.authenticated ? t("app.signout") : t("app.signin");
  signout.hidden = !session.who;
}

function currentRoute() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return { section: parts[0] || "", rest: parts.slice(1).map(decodeURIComponent) };
}

let routing = 0;

async function route() {
  // Only the latest navigation draws: a slower view started before must not replace it.
  const turn = ++routing;
  session.centres = null; // members change (an admission): names are read again per view
  const main = document.getElementById("main");
  const { section, rest } = currentRoute();
  if (!session.who) {
    drawFrame();
    replace(main, signinView({ oidc: session.oidc, onSignedIn: signedIn }));
    return;
  }
  const allowed = sections();
  let chosen = allowed.find((s) => s.route === section);
  if (section === "labs" && rest[0]) {
    chosen = { route: "catalogue", view: (ctx) => labView(ctx, rest[0]) };
  }
  if (!chosen) {
    window.location.replace(`#/${allowed[0].route}`);
    return;
  }
  drawFrame();
  replace(main, h("p", { class: "loading" }, t("app.loading")));
  let drawn;
  try {
    drawn = await chosen.view({ session, rest });
  } catch (error) {
    drawn = errorBox(error);
  }
  if (turn === routing) replace(main, drawn);
}

function signedOut(message) {
  forgetCredentials();
  session.who = null;
  if (message) notice(message, "error");
  route();
}

/** The identity provider to sign in at, if the gateway has one for the dashboard. */
async function signInOptions() {
  try {
    const response = await fetch("config.json");
    return response.ok ? (await response.json()).oidc : null;
  } catch {
    return null;
  }
}

async function identify() {
  const key = credentials();
  if (!key) return null;
  try {
    return await get("/whoami");
  } catch (error) {
    // Refused: the SIGNED_OUT listener has forgotten it and said so.
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

async function signedIn(who) {
  session.who = who;
  session.centres = null;
  const first = sections()[0].route;
  if (currentRoute().section === first) await route();
  else window.location.hash = `#/${first}`;
}

async function start() {
  document.getElementById("language").addEventListener("click", () => {
    setLanguage(language() === "it" ? "en" : "it");
    route();
  });
  document.getElementById("signout").addEventListener("click", () => signedOut());
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault(); // its anchor is not a route
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", route);
  window.addEventListener(SIGNED_OUT, () => {
    if (credentials()) signedOut(t("signin.expired"));
  });
  setLanguage(language());
  session.oidc = await signInOptions();
  if (session.oidc) {
    try {
      const token = await finishSignIn(session.oidc);
      if (token) saveCredentials(token);
    } catch (error) {
      notice(`${t("signin.failed")}: ${error.message}`, "error");
    }
  }
  session.who = await identify();
  await route();
}

start().catch((error) => {
  replace(document.getElementById("main"), errorBox(error));
});
