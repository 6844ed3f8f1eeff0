// Shared page parts: the main region, headings, errors, the status line, rows with + and ×.
import { clear, h, uid } from "./dom.js";

export const main = () => document.getElementById("main");

export function show(title, ...content) {
  const region = clear(main());
  document.title = `${title} · eventrelay console`;
  region.append(h("h1", { id: "page-title" }, title), ...content.flat().filter(Boolean));
  region.focus({ preventScroll: true });
}

export function status(text) {
  const line = document.getElementById("status");
  line.textContent = text;
}

export function errorBox(error) {
  const messages = error && error.messages ? error.messages : [String(error && error.message ? error.message : error)];
  const code = error && error.code ? ` (${error.code})` : "";
  return h("div", { class: "error", role: "alert" }, h("p", {}, `Refused${code}:`), h("ul", {}, messages.map((m) => h("li", {}, m))));
}

export function notFound(what) {
  show("Not found", h("p", { class: "error", id: "not-found", role: "alert" }, `404: ${what} not found.`), h("p", {}, h("a", { href: "#/" }, "Back to your tenants")));
}

// A failure of a whole page: 404 pages look the same whether the resource is unknown or another tenant's.
export function failed(error, what) {
  if (error && error.status === 404) notFound(what);
  else show("Something went wrong", errorBox(error));
}

export function link(href, text, attributes = {}) {
  return h("a", { href, ...attributes }, text);
}

export function button(text, onClick, attributes = {}) {
  return h("button", { type: "button", ...attributes, on: { click: onClick } }, text);
}

// Editable name/value rows with "+" to add one and "×" to remove it.
export function pairRows(legend, pairs, options = {}) {
  const { nameLabel = "Name", valueLabel = "Value", secret = false, onChange = () => {}, idPrefix = uid("rows") } = options;
  const list = h("div", { class: "rows" });
  const addRow = (name = "", value = "", placeholder = "") => {
    const index = list.children.length;
    const nameInput = h("input", { id: `${idPrefix}-name-${index}-${uid("n")}`, value: name, class: "row-name", on: { input: onChange } });
    const valueInput = h("input", {
      id: `${idPrefix}-value-${index}-${uid("v")}`,
      value,
      class: "row-value",
      type: secret ? "password" : "text",
      autocomplete: secret ? "new-password" : "off",
      placeholder,
      on: { input: onChange },
    });
    const row = h(
      "div",
      { class: "row" },
      h("label", { for: nameInput.id }, nameLabel),
      nameInput,
      h("label", { for: valueInput.id }, valueLabel),
      valueInput,
    );
    row.append(button("×", () => { row.remove(); onChange(); }, { class: "remove", "aria-label": `Remove ${legend.toLowerCase()} row` }));
    list.append(row);
    return row;
  };
  for (const [name, value, placeholder] of pairs) addRow(name, value, placeholder);
  const fieldset = h(
    "fieldset",
    { class: "pairs", id: idPrefix },
    h("legend", {}, legend),
    list,
    button("+", () => { addRow(); onChange(); }, { class: "add", "aria-label": `Add ${legend.toLowerCase()} row` }),
  );
  fieldset.values = () =>
    [...list.querySelectorAll(".row")]
      .map((row) => [row.querySelector(".row-name").value.trim(), row.querySelector(".row-value").value])
      .filter(([name]) => name);
  return fieldset;
}

export function badge(text, kind) {
  return h("span", { class: `badge badge-${String(kind || text).toLowerCase()}` }, text);
}

export function when(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? String(iso) : moment.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
