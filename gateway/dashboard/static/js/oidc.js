// Sign-in at the identity provider: the authorization code flow with PKCE (RFC 7636) of a
// public client. The provider's access token is the bearer token the gateway checks.

import { t } from "./i18n.js";

const FLOW = "clock.oidc.flow"; // this tab's pending sign-in: {state, verifier}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

function randomText(length) {
  return base64url(crypto.getRandomValues(new Uint8Array(length)));
}

function redirectUri() {
  return `${window.location.origin}/dashboard/`;
}

/** Off to the provider's sign-in page; it sends the user back with `?code=&state=`. */
export async function startSignIn(oidc) {
  if (!crypto.subtle) throw new Error(t("signin.insecure")); // HTTPS (or localhost) only
  const verifier = randomText(32);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const state = randomText(16);
  sessionStorage.setItem(FLOW, JSON.stringify({ state, verifier }));
  const target = new URL(oidc.authorization_endpoint);
  for (const [name, value] of Object.entries({
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: redirectUri(),
    scope: oidc.scope,
    state,
    code_challenge: base64url(digest),
    code_challenge_method: "S256",
  })) {
    target.searchParams.set(name, value);
  }
  window.location.assign(target.toString());
}

/** Back from the provider: its access token; null when the page was not opened by a return.
 * A refusal, a forged return (another `state`) or a failed exchange throws. */
export async function finishSignIn(oidc) {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const flow = JSON.parse(sessionStorage.getItem(FLOW) || "null");
  sessionStorage.removeItem(FLOW);
  // The code is single-use and must not stay in the address bar or the history.
  window.history.replaceState(null, "", window.location.pathname);
  if (params.has("error")) {
    throw new Error(params.get("error_description") || params.get("error"));
  }
  if (!flow || flow.state !== params.get("state")) throw new Error(t("signin.state"));
  const response = await fetch(oidc.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(),
      client_id: oidc.client_id,
      code_verifier: flow.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || typeof body.access_token !== "string") {
    throw new Error(body.error_description || body.error || `HTTP ${response.status}`);
  }
  return body.access_token;
}
