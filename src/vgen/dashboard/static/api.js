// The API as the dashboard uses it: every call carries the key as a Bearer header (never a URL
// or cookie), and every error is the server's own {"error": {...}} body (API.md §0).

const KEY = "vgen.apiKey";

export class ApiError extends Error {
  constructor(status, error, retryAfterS) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.param = error.param || null;
    this.code = error.code || null;
    this.retryAfterS = retryAfterS;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
};

/** Seconds from a Retry-After header (API.md §1.2), or `fallback`. */
export function retryAfter(response, fallback) {
  const value = Number.parseFloat(response.headers.get("retry-after") || "");
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

/** fetch with the key; resolves to the Response, rejects with ApiError on a non-2xx. */
export async function call(path, { method = "GET", json, form, key } = {}) {
  const headers = { Authorization: `Bearer ${key || session.key}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(path, { method, headers, body, cache: "no-store" });
  if (!response.ok) {
    let error = { message: `${response.status} ${response.statusText}` };
    try {
      error = (await response.json()).error || error;
    } catch {
      // not the JSON error body (a proxy in between): keep the status line
    }
    throw new ApiError(response.status, error, retryAfter(response, null));
  }
  return response;
}

export async function callJson(path, options) {
  return (await call(path, options)).json();
}

/** An archived file (`variant` video or thumbnail) as a blob: URL the page can show. */
export async function contentUrl(id, variant) {
  const response = await call(`/v1/videos/${encodeURIComponent(id)}/content?variant=${variant}`);
  return URL.createObjectURL(await response.blob());
}

export async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return (await callJson("/v1/files", { method: "POST", form })).url;
}
