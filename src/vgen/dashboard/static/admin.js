// The Admin view (admin keys only): list keys, create one (its secrets shown once), revoke.
import { ApiError, call, callJson } from "./api.js";
import { $, clearErrors, el, showError } from "./dom.js";

export async function loadKeys(ownKeyId, onError) {
  const keys = await callJson("/v1/admin/keys");
  $("keys").tBodies[0].replaceChildren(...keys.data.map((k) => {
    const limits = [k.rate_per_minute && `${k.rate_per_minute}/min`, k.max_inflight && `${k.max_inflight} in flight`,
      k.daily_seconds && `${k.daily_seconds} s/day`].filter(Boolean).join(", ") || "—";
    const actions = el("td");
    if (k.revoked_at === null && k.id !== ownKeyId) {
      const revoke = el("button", { type: "button", class: "revoke", "aria-label": `Revoke ${k.name}` }, "Revoke");
      revoke.addEventListener("click", () => revokeKey(k.id, ownKeyId, onError).catch(onError));
      actions.append(revoke);
    }
    return el("tr", { "data-key": k.id }, el("td", {}, k.name), el("td", { class: "task-id" }, k.id),
      el("td", {}, k.tenant_id), el("td", {}, k.admin ? "yes" : "no"), el("td", {}, limits),
      el("td", {}, k.revoked_at === null ? "active" : "revoked"), actions);
  }));
}

async function revokeKey(id, ownKeyId, onError) {
  await call(`/v1/admin/keys/${encodeURIComponent(id)}/revoke`, { method: "POST" });
  await loadKeys(ownKeyId, onError);
}

export async function createKey(event, ownKeyId, onError) {
  event.preventDefault();
  const form = $("new-key");
  clearErrors(form);
  $("secret").hidden = true;
  const number = (id) => ($(id).value === "" ? undefined : Number($(id).value));
  const body = { name: $("key-name").value, admin: $("key-admin").checked,
    tenant_id: $("key-tenant").value || undefined, rate_per_minute: number("key-rate"),
    max_inflight: number("key-inflight"), daily_seconds: number("key-daily"),
    webhook_url: $("key-webhook").value || undefined };
  try {
    const created = await callJson("/v1/admin/keys", { method: "POST", json: body });
    $("secret-key").textContent = created.key;
    $("secret-webhook").textContent = created.webhook_secret;
    $("secret").hidden = false;
    form.reset();
    await loadKeys(ownKeyId, onError);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showError(error, "new-key-error");
  }
}
