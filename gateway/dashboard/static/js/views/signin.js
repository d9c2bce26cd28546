// Sign-in: an API key (the embedded run prints the Region's) or an identity provider's bearer
// token, pasted once and kept in this browser until "Sign out".

import { ApiError, get, saveCredentials } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { startSignIn } from "../oidc.js";

export function signinView({ oidc, onSignedIn }) {
  const input = h("input", {
    id: "credentials",
    name: "credentials",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
  });
  const message = h("p", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "card signin", novalidate: true },
    h("h1", {}, t("signin.title")),
    oidc
      ? [
          h(
            "div",
            { class: "actions" },
            h(
              "button",
              {
                type: "button",
                class: "primary",
                onclick: () =>
                  startSignIn(oidc).catch((error) => {
                    message.textContent = `${t("signin.failed")}: ${error.message}`;
                  }),
              },
              t("signin.provider"),
            ),
          ),
          h("p", {}, t("signin.or")),
        ]
      : h("p", {}, t("signin.intro")),
    h("label", { for: "credentials" }, t("signin.key")),
    input,
    message,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("signin.submit"))),
    h(
      "p",
      {},
      h("button", { type: "button", class: "link", onclick: () => onSignedIn({ role: "anonymous", authenticated: false }) }, t("signin.anonymous")),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    const key = input.value.trim();
    if (!key) {
      message.textContent = t("signin.invalid");
      input.focus();
      return;
    }
    try {
      const who = await get("/whoami", {}, { key });
      if (!who.authenticated) throw new ApiError(401, { detail: t("signin.invalid") });
      saveCredentials(key);
      await onSignedIn(who);
    } catch (error) {
      message.textContent =
        error instanceof ApiError && [401, 403].includes(error.status)
          ? t("signin.invalid")
          : error.message;
      input.focus();
    }
  });
  if (!oidc) queueMicrotask(() => input.focus());
  return form;
}
