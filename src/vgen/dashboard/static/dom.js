// DOM helpers shared by the dashboard's views: building elements, and showing a server error
// next to the field its `param` names (API.md §0 error body).

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll(".error")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

export const PARAM_ALIASES = { image_urls: "input_reference", seconds: "duration", size: "resolution" };

/** Show a server error next to the field its `param` names, else in `fallbackId`. */
export function showError(error, fallbackId) {
  const param = PARAM_ALIASES[error.param] || error.param;
  const slot = param && document.getElementById(`${param}-error`);
  const target = slot && !slot.closest("[hidden]") ? slot : $(fallbackId);
  target.textContent = error.message;
  const input = slot && document.querySelector(`[aria-describedby~="${param}-error"]`);
  if (input && target === slot) input.setAttribute("aria-invalid", "true");
}
