// The platform's public API, as any client calls it: the key or token in `Authorization`,
// problem documents (RFC 9457) turned into errors that say what went wrong.

const KEY_STORAGE = "clock.credentials";
const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function credentials() {
  return localStorage.getItem(KEY_STORAGE);
}

export function saveCredentials(value) {
  localStorage.setItem(KEY_STORAGE, value);
}

export function forgetCredentials() {
  localStorage.removeItem(KEY_STORAGE);
}

function headers(extra = {}, key = credentials()) {
  const all = { Accept: "application/json, application/problem+json", ...extra };
  if (key) all.Authorization = `Bearer ${key}`;
  return all;
}

export const SIGNED_OUT = "clock:signed-out";

async function failure(response, usedStoredCredentials) {
  if (response.status === 401 && usedStoredCredentials) {
    // The key was revoked or the token expired: whatever view asked, the user signs in again.
    window.dispatchEvent(new CustomEvent(SIGNED_OUT));
  }
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = { title: response.statusText };
  }
  return new ApiError(response.status, problem);
}

function url(path, query) {
  const target = new URL(API + path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    target.searchParams.set(name, String(value));
  }
  return target;
}

export async function get(path, query, { key } = {}) {
  const response = await fetch(url(path, query), { headers: headers({}, key ?? credentials()) });
  if (!response.ok) throw await failure(response, key === undefined);
  return response.json();
}

/** Every page of a list (`items`, `next_cursor`), up to `max` items. */
export async function getAll(path, query = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path, { ...query, limit: 200, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

function randomKey() {
  // crypto.randomUUID exists only in secure contexts (HTTPS, localhost).
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function post(path, body, extraHeaders = {}) {
  const response = await fetch(url(path), {
    method: "POST",
    headers: headers({
      "Content-Type": "application/json",
      // A retry of the same click (a lost answer) is applied once.
      "Idempotency-Key": randomKey(),
      ...extraHeaders,
    }),
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response, true);
  return response.json();
}

/** A file of the API saved by the browser (the request needs the `Authorization` header, so a
 * plain link would not do). */
export async function download(path) {
  const response = await fetch(url(path), { headers: headers({ Accept: "*/*" }) });
  if (!response.ok) throw await failure(response, true);
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || path.split("/").pop();
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  return name;
}
