// The Usage view: video-seconds per day (an inline SVG, one slot per day) and a table per day
// and model, from `GET /v1/usage`.
import { callJson } from "./api.js";
import { $, el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

export async function loadUsage() {
  const usage = await callJson("/v1/usage");
  $("usage-table").tBodies[0].replaceChildren(...usage.data.map((r) =>
    el("tr", {}, el("td", {}, r.day), el("td", {}, r.model), el("td", {}, String(r.video_seconds)), el("td", {}, String(r.tasks)))));
  const perDay = new Map();
  for (const r of usage.data) perDay.set(r.day, (perDay.get(r.day) || 0) + r.video_seconds);
  // One slot per day of the range (days without usage stay empty), so bars keep one scale.
  const days = [];
  for (let t = Date.parse(`${usage.from}T00:00:00Z`); t <= Date.parse(`${usage.to}T00:00:00Z`); t += 86400000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  const max = Math.max(1, ...perDay.values());
  const width = 600, height = 160, slot = width / Math.max(days.length, 1);
  const bars = days.map((day, i) => {
    const value = perDay.get(day) || 0;
    const h = (value / max) * (height - 40);
    const parts = [svg("rect", { class: "bar-rect", x: i * slot + 1, y: height - 20 - h, width: Math.max(slot - 2, 1), height: h },
      svg("title", {}, `${day}: ${value} video-seconds`))];
    if (value) parts.push(svg("text", { x: i * slot, y: height - 24 - h }, String(value)));
    if ((days.length - 1 - i) % 7 === 0) parts.push(svg("text", { x: i * slot, y: height - 6 }, day.slice(5)));
    return svg("g", {}, ...parts);
  });
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Video-seconds per day: ${usage.total.video_seconds} in total` }, ...bars);
  $("usage-chart").replaceChildren(perDay.size ? chart : el("p", { class: "hint" }, "No usage yet."));
}
