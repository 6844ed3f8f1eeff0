// The admin API over fetch: the token only ever in the Authorization header (never a cookie).
import { signOut, token } from "./auth.js";

export class ApiError extends Error {
  constructor(status, document) {
    const messages = (document && document.messages) || [document && document.message ? document.message : `HTTP ${status}`];
    super(messages.join("; "));
    this.status = status;
    this.code = document ? document.errorCode : undefined;
    this.messages = messages;
  }
}

export function adminPath(...segments) {
  return "/v1/admin/" + segments.map((segment) => encodeURIComponent(segment)).join("/");
}

export async function call(method, path, body, query) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${token()}`, Accept: "application/json" };
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const answer = await fetch(url, init);
  let document = null;
  try {
    document = await answer.json();
  } catch {
    document = null;
  }
  if (answer.status === 401) {
    signOut();
    window.location.reload();
  }
  if (!answer.ok || !document || document.result === false) throw new ApiError(answer.status, document);
  return document.data;
}

export const get = (path, query) => call("GET", path, undefined, query);
export const post = (path, body) => call("POST", path, body ?? {});
export const patch = (path, body) => call("PATCH", path, body);
export const put = (path, body) => call("PUT", path, body);
export const del = (path, query) => call("DELETE", path, undefined, query);
