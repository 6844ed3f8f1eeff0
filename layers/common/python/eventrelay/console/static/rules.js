// Rules: event → action, a condition built with a form or typed as JSON, a mapping per field, enable/disable.
import { adminPath, get, patch, post } from "./api.js";
import { clear, field, h, select, table } from "./dom.js";
import { badge, button, errorBox, failed, link, show, status } from "./ui.js";

const OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "notIn", "contains", "exists", "notExists"];
const base = (tenantId) => `#/t/${encodeURIComponent(tenantId)}/rules`;

function jsonOrText(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function rulesPage(tenantId) {
  let rules;
  try {
    rules = await get(adminPath("tenants", tenantId, "rules"));
  } catch (error) {
    return failed(error, "rules");
  }
  const toggle = async (rule) => {
    try {
      await post(adminPath("tenants", tenantId, "rules", rule.name, rule.enabled ? "disable" : "enable"), {});
      status(`Rule ${rule.name} ${rule.enabled ? "disabled" : "enabled"}`);
      await rulesPage(tenantId);
    } catch (error) {
      document.getElementById("rules-output").replaceChildren(errorBox(error));
    }
  };
  const rows = rules.map((rule) =>
    h(
      "tr",
      { dataset: { rule: rule.name } },
      h("th", { scope: "row" }, link(`${base(tenantId)}/${encodeURIComponent(rule.name)}`, rule.name)),
      h("td", {}, `${rule.eventName}/${rule.eventVersion}`),
      h("td", {}, rule.action),
      h("td", {}, rule.conditionText || "always"),
      h("td", {}, badge(rule.enabled ? "enabled" : "disabled")),
      h("td", {}, button(rule.enabled ? "Disable" : "Enable", () => toggle(rule), { "aria-label": `${rule.enabled ? "Disable" : "Enable"} ${rule.name}` })),
    ),
  );
  show(
    "Rules",
    h("p", {}, link(`${base(tenantId)}/new`, "New rule", { id: "new-rule", class: "primary" })),
    rules.length ? table("Rules", ["Name", "Event", "Action", "Condition", "State", ""], rows) : h("p", {}, "No rules yet."),
    h("div", { id: "rules-output", "aria-live": "polite" }),
  );
}

function comparisonRow(list, comparison = {}) {
  const index = list.children.length;
  const path = h("input", { id: `cond-path-${index}`, value: comparison.path || "$.", class: "cond-path" });
  const op = select(OPERATORS, comparison.op || "eq", { id: `cond-op-${index}`, class: "cond-op" });
  const value = h("input", { id: `cond-value-${index}`, class: "cond-value", value: comparison.value === undefined ? "" : JSON.stringify(comparison.value) });
  const row = h("div", { class: "row" }, h("label", { for: path.id }, "Path"), path, h("label", { for: op.id }, "Operator"), op, h("label", { for: value.id }, "Value (JSON)"), value);
  row.append(button("×", () => row.remove(), { class: "remove", "aria-label": "Remove comparison" }));
  list.append(row);
}

export async function rulePage(tenantId, name) {
  let rule = null;
  let actions;
  let registrations;
  try {
    actions = await get(adminPath("tenants", tenantId, "actions"));
    registrations = await get(adminPath("tenants", tenantId, "registrations"));
    if (name) rule = await get(adminPath("tenants", tenantId, "rules", name));
  } catch (error) {
    return failed(error, `rule '${name}'`);
  }
  const nameInput = h("input", { id: "rule-name", value: rule ? rule.name : "", required: true, disabled: Boolean(rule) });
  const events = registrations.map((r) => [`${r.eventName}/${r.eventVersion}`, `${r.eventName}/${r.eventVersion}`]);
  const chosenEvent = rule ? `${rule.eventName}/${rule.eventVersion}` : (events[0] || [""])[0];
  if (rule && !events.some(([value]) => value === chosenEvent)) events.push([chosenEvent, chosenEvent]);
  const eventSelect = select(events, chosenEvent, { id: "rule-event" });
  const actionSelect = select(actions.map((a) => a.name), rule ? rule.action : (actions[0] || {}).name, { id: "rule-action" });
  const enabled = h("input", { id: "rule-enabled", type: "checkbox", checked: rule ? rule.enabled : true });
  const description = h("input", { id: "rule-description", value: rule ? rule.description : "" });

  // The condition: none, a form (all/any of comparisons), or JSON typed.
  const condition = rule ? rule.condition : null;
  const simple = condition && (condition.path || condition.all || condition.any) && !(condition.all || condition.any || [condition]).some((c) => !c.path);
  const mode = select([["none", "Always (no condition)"], ["form", "Build with a form"], ["json", "Type as JSON"]], condition ? (simple ? "form" : "json") : "none", { id: "rule-condition-mode" });
  const combine = select([["all", "all of"], ["any", "any of"]], condition && condition.any ? "any" : "all", { id: "rule-condition-combine" });
  const comparisons = h("div", { class: "rows", id: "condition-rows" });
  for (const comparison of simple ? condition.all || condition.any || [condition] : []) comparisonRow(comparisons, comparison);
  const conditionForm = h("fieldset", { id: "condition-form" }, h("legend", {}, "Comparisons"), field("Match", combine), comparisons, button("+", () => comparisonRow(comparisons), { class: "add", "aria-label": "Add comparison" }));
  const conditionJson = h("textarea", { id: "rule-condition-json", rows: "5" });
  conditionJson.value = condition ? JSON.stringify(condition, null, 2) : '{"path": "$.total", "op": "gte", "value": 100}';
  const jsonField = field("Condition (JSON)", conditionJson);
  const showCondition = () => {
    conditionForm.hidden = mode.value !== "form";
    jsonField.hidden = mode.value !== "json";
    if (mode.value === "form" && !comparisons.children.length) comparisonRow(comparisons);
  };
  mode.addEventListener("change", showCondition);
  showCondition();

  // The mapping: one row per field of the chosen action, from a payload path or a constant.
  const mappingBody = h("tbody", { id: "mapping-body" });
  const renderMapping = () => {
    const action = actions.find((a) => a.name === actionSelect.value);
    clear(mappingBody);
    for (const f of action ? action.fields : []) {
      const saved = rule && rule.action === action.name ? rule.mapping[f.name] : undefined;
      const isConstant = saved && Object.prototype.hasOwnProperty.call(saved, "constant");
      const source = select([["path", "payload path"], ["constant", "constant"], ["none", "not mapped"]], saved ? (isConstant ? "constant" : "path") : "path", { id: `map-source-${f.name}`, "aria-label": `Source of ${f.name}` });
      const value = h("input", { id: `map-value-${f.name}`, "aria-label": `Path or constant for ${f.name}`, value: saved ? (isConstant ? JSON.stringify(saved.constant) : saved.path) : `$.${f.name}` });
      mappingBody.append(h("tr", { dataset: { field: f.name } }, h("th", { scope: "row" }, `${f.name} (${f.type})`), h("td", {}, source), h("td", {}, value)));
    }
  };
  actionSelect.addEventListener("change", renderMapping);
  renderMapping();
  const output = h("div", { id: "rule-output", "aria-live": "polite" });

  const build = () => {
    let built = null;
    if (mode.value === "json") built = JSON.parse(conditionJson.value);
    if (mode.value === "form") {
      const list = [...comparisons.querySelectorAll(".row")].map((row) => {
        const comparison = { path: row.querySelector(".cond-path").value, op: row.querySelector(".cond-op").value };
        const text = row.querySelector(".cond-value").value;
        if (!["exists", "notExists"].includes(comparison.op)) comparison.value = jsonOrText(text);
        return comparison;
      });
      built = list.length === 1 ? list[0] : { [combine.value]: list };
    }
    const mapping = {};
    for (const row of mappingBody.querySelectorAll("tr[data-field]")) {
      const source = row.querySelector("select").value;
      const text = row.querySelector("input").value;
      if (source === "path") mapping[row.dataset.field] = { path: text };
      if (source === "constant") mapping[row.dataset.field] = { constant: jsonOrText(text) };
    }
    const [eventName, eventVersion] = eventSelect.value.split("/");
    const document = { eventName, eventVersion, action: actionSelect.value, condition: built, mapping, enabled: enabled.checked, description: description.value };
    if (!rule) document.name = nameInput.value.trim();
    return document;
  };
  const save = async (event) => {
    event.preventDefault();
    try {
      const body = build();
      const saved = rule ? await patch(adminPath("tenants", tenantId, "rules", rule.name), body) : await post(adminPath("tenants", tenantId, "rules"), body);
      status(`Rule ${saved.name} saved`);
      window.location.hash = base(tenantId);
    } catch (error) {
      output.replaceChildren(errorBox(error));
    }
  };
  show(
    rule ? `Rule ${rule.name}` : "New rule",
    h("p", {}, link(base(tenantId), "All rules")),
    h(
      "form",
      { id: "rule-form", on: { submit: save } },
      field("Name", nameInput),
      field("Event", eventSelect),
      field("Action", actionSelect),
      field("Condition", mode),
      conditionForm,
      jsonField,
      h("section", { "aria-labelledby": "mapping-heading" }, h("h2", { id: "mapping-heading" }, "Mapping"), h("table", {}, h("caption", {}, "Where each field of the action comes from"), h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Source"), h("th", { scope: "col" }, "Path or constant"))), mappingBody)),
      h("p", { class: "field" }, enabled, " ", h("label", { for: "rule-enabled" }, "Enabled")),
      field("Description", description),
      h("p", {}, h("button", { type: "submit", id: "save-rule", class: "primary" }, rule ? "Save" : "Create")),
    ),
    output,
  );
}
