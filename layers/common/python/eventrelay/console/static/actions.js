// External actions: list; create/edit with the Fields section parsed live from the {{tokens}}; Test.
import { adminPath, get, patch, post } from "./api.js";
import { clear, field, h, pre, select, table } from "./dom.js";
import { badge, button, errorBox, failed, link, pairRows, show, status } from "./ui.js";

const METHODS = ["POST", "PUT", "PATCH", "GET", "DELETE"];
const TYPES = ["String", "Number", "Boolean", "Date", "DateTime"];
// The template grammar of eventrelay/actions/templates.py: `{{ name }}`, a name as FIELD_NAME_PATTERN.
const TOKEN = /\{\{[ \t]*([A-Za-z_][A-Za-z0-9_.-]{0,127})[ \t]*\}\}/g;
const base = (tenantId) => `#/t/${encodeURIComponent(tenantId)}/actions`;

export function tokensIn(...texts) {
  const names = [];
  for (const text of texts) {
    for (const match of String(text || "").matchAll(TOKEN)) if (!names.includes(match[1])) names.push(match[1]);
  }
  return names;
}

export async function actionsPage(tenantId) {
  let actions;
  try {
    actions = await get(adminPath("tenants", tenantId, "actions"));
  } catch (error) {
    return failed(error, "actions");
  }
  const rows = actions.map((action) =>
    h(
      "tr",
      { dataset: { action: action.name } },
      h("th", { scope: "row" }, link(`${base(tenantId)}/${encodeURIComponent(action.name)}`, action.name)),
      h("td", {}, action.connector),
      h("td", {}, action.method),
      h("td", {}, action.url),
      h("td", {}, action.fields.map((f) => `${f.name} (${f.type})`).join(", ")),
      h("td", {}, String(action.maxRetries)),
    ),
  );
  show(
    "External actions",
    h("p", {}, link(`${base(tenantId)}/new`, "New action", { id: "new-action", class: "primary" })),
    actions.length ? table("External actions", ["Name", "Connector", "Method", "URL", "Fields", "Max retries"], rows) : h("p", {}, "No actions yet."),
  );
}

function typedDefault(type, text) {
  if (text === "") return null;
  if (type === "Number") return Number(text);
  if (type === "Boolean") return text === "true";
  return text;
}

function valueInput(type, id, value) {
  if (type === "Boolean") return select([["", "(default)"], ["true", "true"], ["false", "false"]], value === null || value === undefined ? "" : String(value), { id });
  const kinds = { Number: "number", Date: "date", DateTime: "datetime-local" };
  return h("input", { id, type: kinds[type] || "text", step: type === "DateTime" ? "1" : null, value: value === null || value === undefined ? "" : String(value) });
}

export async function actionPage(tenantId, name) {
  let action = null;
  let connectors;
  try {
    connectors = await get(adminPath("tenants", tenantId, "connectors"));
    if (name) action = await get(adminPath("tenants", tenantId, "actions", name));
  } catch (error) {
    return failed(error, `action '${name}'`);
  }
  const payload = action ? action.payload : null;
  const choices = {}; // field name → {type, default}: kept while tokens come and go
  for (const f of action ? action.fields : []) choices[f.name] = { type: f.type, default: f.default };

  const nameInput = h("input", { id: "action-name", value: action ? action.name : "", required: true, disabled: Boolean(action) });
  const connector = select(connectors.map((c) => c.name), action ? action.connector : (connectors[0] || {}).name, { id: "action-connector" });
  const method = select(METHODS, action ? action.method : "POST", { id: "action-method" });
  const url = h("input", { id: "action-url", value: action ? action.url : "", placeholder: "/tickets?due={{due}}" });
  const headers = pairRows("Headers", Object.entries(action ? action.headers : {}), { idPrefix: "action-headers", onChange: () => refreshFields() });
  const payloadType = select([["none", "No body"], ["plain", "Plain (JSON or text)"], ["form", "Form (x-www-form-urlencoded)"]], payload ? payload.type : "plain", { id: "action-payload-type" });
  const plain = h("textarea", { id: "action-payload", rows: "6", on: { input: () => refreshFields() } });
  plain.value = payload && payload.type === "plain" ? payload.text : "";
  const form = pairRows("Form pairs", payload && payload.type === "form" ? payload.pairs.map((pair) => [pair.key, pair.value]) : [], { nameLabel: "Key", idPrefix: "action-form", onChange: () => refreshFields() });
  const plainField = field("Payload", plain, "tokens: {{name}}");
  const maxRetries = h("input", { id: "action-max-retries", type: "number", min: "0", max: "5", value: String(action ? action.maxRetries : 3) });
  const description = h("input", { id: "action-description", value: action ? action.description : "" });
  const fieldsBody = h("tbody", { id: "fields-body" });
  const fieldsSection = h(
    "section",
    { id: "fields", "aria-labelledby": "fields-heading" },
    h("h2", { id: "fields-heading" }, "Fields"),
    h("p", { class: "hint" }, "Parsed from the {{tokens}} of the URL, the header values and the payload as you type."),
    h("table", {}, h("caption", {}, "Fields of the action"), h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Default"))), fieldsBody),
  );
  const output = h("div", { id: "action-output", "aria-live": "polite" });

  function currentNames() {
    const headerValues = headers.values().map(([, value]) => value);
    const body = payloadType.value === "plain" ? [plain.value] : payloadType.value === "form" ? form.values().map(([, value]) => value) : [];
    return tokensIn(url.value, ...headerValues, ...body);
  }
  function refreshFields() {
    for (const row of fieldsBody.querySelectorAll("tr[data-field]")) {
      choices[row.dataset.field] = { type: row.querySelector("select").value, default: row.querySelector("input").value || null };
    }
    clear(fieldsBody);
    for (const fieldName of currentNames()) {
      const chosen = choices[fieldName] || { type: "String", default: null };
      const typeSelect = select(TYPES, chosen.type, { id: `field-type-${fieldName}`, "aria-label": `Type of ${fieldName}` });
      const defaultInput = h("input", { id: `field-default-${fieldName}`, "aria-label": `Default of ${fieldName}`, value: chosen.default === null || chosen.default === undefined ? "" : String(chosen.default) });
      fieldsBody.append(h("tr", { dataset: { field: fieldName } }, h("th", { scope: "row" }, fieldName), h("td", {}, typeSelect), h("td", {}, defaultInput)));
    }
    if (!fieldsBody.children.length) fieldsBody.append(h("tr", {}, h("td", { colspan: "3" }, "No {{tokens}} yet.")));
  }
  const showPayload = () => {
    plainField.hidden = payloadType.value !== "plain";
    form.hidden = payloadType.value !== "form";
    refreshFields();
  };
  url.addEventListener("input", refreshFields);
  payloadType.addEventListener("change", showPayload);
  showPayload();

  const definition = () => {
    const fields = [...fieldsBody.querySelectorAll("tr[data-field]")].map((row) => {
      const type = row.querySelector("select").value;
      return { name: row.dataset.field, type, default: typedDefault(type, row.querySelector("input").value) };
    });
    const body =
      payloadType.value === "plain"
        ? { type: "plain", text: plain.value }
        : payloadType.value === "form"
          ? { type: "form", pairs: form.values().map(([key, value]) => ({ key, value })) }
          : null;
    const document = {
      connector: connector.value,
      method: method.value,
      url: url.value,
      headers: Object.fromEntries(headers.values()),
      payload: body,
      maxRetries: Number(maxRetries.value),
      description: description.value,
      fields,
    };
    if (!action) document.name = nameInput.value.trim();
    return document;
  };
  const save = async (event) => {
    event.preventDefault();
    try {
      const saved = action
        ? await patch(adminPath("tenants", tenantId, "actions", action.name), definition())
        : await post(adminPath("tenants", tenantId, "actions"), definition());
      status(`Action ${saved.name} saved`);
      if (action) await actionPage(tenantId, saved.name);
      else window.location.hash = `${base(tenantId)}/${encodeURIComponent(saved.name)}`;
    } catch (error) {
      output.replaceChildren(errorBox(error));
    }
  };

  show(
    action ? `Action ${action.name}` : "New action",
    h("p", {}, link(base(tenantId), "All actions")),
    connectors.length ? null : h("p", { class: "error", role: "alert" }, "Create a connector first."),
    h(
      "form",
      { id: "action-form", on: { submit: save } },
      field("Name", nameInput),
      field("Connector", connector),
      field("Method", method),
      field("URL", url, "relative to the connector's base URL; tokens: {{name}}"),
      headers,
      field("Payload type", payloadType),
      plainField,
      form,
      fieldsSection,
      field("Max retries", maxRetries, "0 to 5"),
      field("Description", description),
      h("p", {}, h("button", { type: "submit", id: "save-action", class: "primary" }, action ? "Save" : "Create")),
    ),
    action ? testSection(tenantId, action) : null,
    output,
  );
}

function testSection(tenantId, action) {
  const inputs = action.fields.map((f) => {
    const input = valueInput(f.type, `test-value-${f.name}`, "");
    input.dataset.field = f.name;
    input.dataset.type = f.type;
    return field(`${f.name} (${f.type}${f.default !== null ? `, default ${f.default}` : ""})`, input);
  });
  const result = h("div", { id: "action-test-result", "aria-live": "polite" });
  const run = async (event) => {
    event.preventDefault();
    const values = {};
    for (const input of event.target.querySelectorAll("[data-field]")) {
      if (input.value === "") continue;
      let value = typedDefault(input.dataset.type, input.value);
      if (input.dataset.type === "DateTime" && value && !/[zZ]|[+-]\d\d:\d\d$/.test(value)) value = `${value}Z`;
      values[input.dataset.field] = value;
    }
    status("Testing the action…");
    try {
      const report = await post(adminPath("tenants", tenantId, "actions", action.name, "test"), { values });
      result.replaceChildren(testReport(report));
      status(`Action test ${report.ok ? "succeeded" : "failed"}`);
    } catch (error) {
      result.replaceChildren(errorBox(error));
    }
  };
  return h(
    "section",
    { id: "action-test", "aria-labelledby": "test-heading" },
    h("h2", { id: "test-heading" }, "Test"),
    h("form", { id: "action-test-form", on: { submit: run } }, inputs, h("p", {}, h("button", { type: "submit", id: "run-test" }, "Test"))),
    result,
  );
}

function testReport(report) {
  const request = report.request;
  const response = report.response || {};
  const headerLines = Object.entries(request.headers || {}).map(([name, value]) => `${name}: ${value}`).join("\n");
  return h(
    "div",
    { class: "result" },
    h("h3", {}, "Request (credentials redacted)"),
    pre(`${request.method} ${request.url}\n${headerLines}\n\n${request.body ?? ""}`, { id: "test-request" }),
    h("h3", {}, "Response"),
    h("p", { id: "test-response-summary" }, badge(report.ok ? "OK" : response.outcome || "FAILED", report.ok ? "ok" : "failed"), ` ${response.outcome || ""} · status ${response.status ?? "none"} · ${response.durationMs ?? "?"} ms`, response.error ? ` · ${response.error}` : ""),
    pre(response.body ?? "", { id: "test-response-body" }),
    h("h3", {}, "curl"),
    pre(report.curl || "", { id: "test-curl" }),
  );
}
