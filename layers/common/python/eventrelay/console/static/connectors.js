// Connectors: list with health, create/edit per auth type (secrets write-only), Test Connection, Authorize.
import { adminPath, get, patch, post } from "./api.js";
import { field, h, pre, select, table } from "./dom.js";
import { badge, button, errorBox, failed, link, pairRows, show, status, when } from "./ui.js";

const AUTH_TYPES = [["none", "None"], ["basic", "Basic"], ["token", "Token"], ["oauth2", "OAuth 2.0"]];
const GRANTS = ["client_credentials", "authorization_code", "password", "refresh_token"];
const base = (tenantId) => `#/t/${encodeURIComponent(tenantId)}/connectors`;

export function testResult(result) {
  return h(
    "section",
    { class: "result", id: "test-result", "aria-label": "Test connection result" },
    h("h2", {}, "Test connection"),
    h(
      "dl",
      {},
      h("dt", {}, "Outcome"), h("dd", { id: "test-outcome" }, badge(result.ok ? "OK" : result.outcome || "FAILED", result.ok ? "ok" : "failed"), " ", result.outcome || ""),
      h("dt", {}, "Status"), h("dd", { id: "test-status" }, result.status ?? "no answer"),
      h("dt", {}, "Duration"), h("dd", { id: "test-duration" }, `${result.durationMs ?? "?"} ms`),
      h("dt", {}, "URL"), h("dd", {}, result.url || ""),
      result.error ? [h("dt", {}, "Error"), h("dd", {}, result.error)] : null,
    ),
    h("h3", {}, "Start of the body"),
    pre(result.body ?? "", { id: "test-body" }),
  );
}

async function testConnection(tenantId, name, into) {
  status(`Testing ${name}…`);
  try {
    const result = await post(adminPath("tenants", tenantId, "connectors", name, "test"), {});
    into.replaceChildren(testResult(result));
    status(`Connection test ${result.ok ? "passed" : "failed"}`);
  } catch (error) {
    into.replaceChildren(errorBox(error));
  }
}

async function authorize(tenantId, name, into) {
  try {
    const started = await post(adminPath("tenants", tenantId, "connectors", name, "authorize"), {});
    // The provider's consent page; it comes back to the connector's redirect URL, then here.
    window.open(started.url, "_blank", "noopener,noreferrer");
    into.replaceChildren(h("p", {}, "Authorization opened in a new tab (valid until ", when(started.expiresAt), "): ", h("a", { href: started.url, target: "_blank", rel: "noopener noreferrer" }, "open it again")));
  } catch (error) {
    into.replaceChildren(errorBox(error));
  }
}

export async function connectorsPage(tenantId) {
  let connectors;
  try {
    connectors = await get(adminPath("tenants", tenantId, "connectors"));
  } catch (error) {
    return failed(error, "connectors");
  }
  const output = h("div", { id: "connector-output", "aria-live": "polite" });
  const rows = connectors.map((connector) =>
    h(
      "tr",
      { dataset: { connector: connector.name } },
      h("th", { scope: "row" }, link(`${base(tenantId)}/${encodeURIComponent(connector.name)}`, connector.name, { class: "connector-name" })),
      h("td", {}, connector.description || ""),
      h("td", {}, connector.authType),
      h("td", {}, connector.baseUrl),
      h("td", {}, badge(connector.health.state, connector.health.state), " ", connector.health.reason || ""),
      h(
        "td",
        {},
        button("Test connection", () => testConnection(tenantId, connector.name, output), { class: "test-connection", "aria-label": `Test connection ${connector.name}` }),
        connector.authType === "oauth2" ? button("Authorize", () => authorize(tenantId, connector.name, output), { "aria-label": `Authorize ${connector.name}` }) : null,
      ),
    ),
  );
  show(
    "Connectors",
    h("p", {}, link(`${base(tenantId)}/new`, "New connector", { id: "new-connector", class: "primary" })),
    connectors.length ? table("Connectors and their health", ["Name", "Description", "Auth", "Base URL", "Health", ""], rows) : h("p", {}, "No connectors yet."),
    output,
  );
}

export async function connectorPage(tenantId, name) {
  let connector = null;
  if (name) {
    try {
      connector = await get(adminPath("tenants", tenantId, "connectors", name));
    } catch (error) {
      return failed(error, `connector '${name}'`);
    }
  }
  const credentials = (connector && connector.credentials) || {};
  const oauth2 = (connector && connector.oauth2) || {};
  const secretHint = (isSet) => (isSet ? "set; leave empty to keep it" : "");
  const nameInput = h("input", { id: "connector-name", value: connector ? connector.name : "", required: true, disabled: Boolean(connector) });
  const description = h("input", { id: "connector-description", value: connector ? connector.description : "" });
  const baseUrl = h("input", { id: "connector-base-url", type: "url", value: connector ? connector.baseUrl : "", placeholder: "https://api.example.com" });
  const testUrl = h("input", { id: "connector-test-url", value: connector ? connector.testUrl : "" });
  const authType = select(AUTH_TYPES, connector ? connector.authType : "none", { id: "connector-auth-type" });
  const username = h("input", { id: "connector-username", value: credentials.username || "", autocomplete: "off" });
  const password = h("input", { id: "connector-password", type: "password", autocomplete: "new-password", placeholder: secretHint(credentials.password) });
  const tokenHeaders = pairRows(
    "Token headers",
    Object.keys(credentials.tokenHeaders || {}).map((header) => [header, "", "set; leave empty to keep it"]),
    { secret: true, idPrefix: "token-headers" },
  );
  const grant = select(GRANTS, oauth2.grant || "client_credentials", { id: "oauth2-grant" });
  const tokenUrl = h("input", { id: "oauth2-token-url", value: oauth2.tokenUrl || "" });
  const scope = h("input", { id: "oauth2-scope", value: oauth2.scope || "" });
  const authorizationUrl = h("input", { id: "oauth2-authorization-url", value: oauth2.authorizationUrl || "" });
  const redirectUrl = h("input", { id: "oauth2-redirect-url", value: oauth2.redirectUrl || "" });
  const clientId = h("input", { id: "oauth2-client-id", value: credentials.clientId || "" });
  const clientSecret = h("input", { id: "oauth2-client-secret", type: "password", autocomplete: "new-password", placeholder: secretHint(credentials.clientSecret) });
  const headers = pairRows("Headers", Object.entries(connector ? connector.headers : {}), { idPrefix: "connector-headers" });
  const sections = {
    basic: h("fieldset", { id: "auth-basic" }, h("legend", {}, "Basic auth"), field("Username", username), field("Password", password, "write-only: never shown again")),
    token: h("fieldset", { id: "auth-token" }, h("legend", {}, "Token auth"), tokenHeaders, h("p", { class: "hint" }, "Values are write-only.")),
    oauth2: h(
      "fieldset",
      { id: "auth-oauth2" },
      h("legend", {}, "OAuth 2.0"),
      field("Grant", grant), field("Token URL", tokenUrl), field("Scope", scope),
      field("Authorization URL", authorizationUrl), field("Redirect URL", redirectUrl),
      field("Client id", clientId), field("Client secret", clientSecret, "write-only"),
    ),
  };
  const showAuth = () => {
    for (const [kind, section] of Object.entries(sections)) section.hidden = authType.value !== kind;
  };
  authType.addEventListener("change", showAuth);
  showAuth();
  const output = h("div", { id: "connector-output", "aria-live": "polite" });

  const body = () => {
    const document = { description: description.value, authType: authType.value, headers: Object.fromEntries(headers.values()) };
    if (baseUrl.value.trim()) document.baseUrl = baseUrl.value.trim();
    if (testUrl.value.trim()) document.testUrl = testUrl.value.trim();
    const given = {};
    if (authType.value === "basic") {
      if (username.value) given.username = username.value;
      if (password.value) given.password = password.value;
    } else if (authType.value === "token") {
      const values = tokenHeaders.values().filter(([, value]) => value);
      if (values.length) given.tokenHeaders = Object.fromEntries(values);
    } else if (authType.value === "oauth2") {
      document.oauth2 = Object.fromEntries(
        Object.entries({ grant: grant.value, tokenUrl: tokenUrl.value, scope: scope.value, authorizationUrl: authorizationUrl.value, redirectUrl: redirectUrl.value }).filter(([, value]) => value),
      );
      if (clientId.value) given.clientId = clientId.value;
      if (clientSecret.value) given.clientSecret = clientSecret.value;
    }
    if (Object.keys(given).length) document.credentials = given;
    if (connector) {
      const kept = new Set(headers.values().map(([header]) => header));
      const removed = Object.keys(connector.headers).filter((header) => !kept.has(header));
      if (removed.length) document.removeHeaders = removed;
    } else {
      document.name = nameInput.value.trim();
    }
    return document;
  };
  const save = async (event) => {
    event.preventDefault();
    try {
      const saved = connector
        ? await patch(adminPath("tenants", tenantId, "connectors", connector.name), body())
        : await post(adminPath("tenants", tenantId, "connectors"), body());
      status(`Connector ${saved.name} saved`);
      window.location.hash = `${base(tenantId)}/${encodeURIComponent(saved.name)}`;
      if (connector) await connectorPage(tenantId, saved.name);
    } catch (error) {
      output.replaceChildren(errorBox(error));
    }
  };
  show(
    connector ? `Connector ${connector.name}` : "New connector",
    h("p", {}, link(base(tenantId), "All connectors")),
    connector ? h("p", {}, "Health: ", badge(connector.health.state, connector.health.state), " ", connector.health.reason || "") : null,
    h(
      "form",
      { id: "connector-form", on: { submit: save } },
      field("Name", nameInput),
      field("Description", description),
      field("Base URL", baseUrl),
      field("Test URL", testUrl, "GET by Test connection; relative to the base URL"),
      field("Auth type", authType),
      sections.basic, sections.token, sections.oauth2,
      headers,
      h("p", {}, h("button", { type: "submit", id: "save-connector", class: "primary" }, connector ? "Save" : "Create")),
    ),
    connector
      ? h(
          "p",
          {},
          button("Test connection", () => testConnection(tenantId, connector.name, output), { id: "test-connection" }),
          connector.authType === "oauth2" ? button("Authorize", () => authorize(tenantId, connector.name, output), { id: "authorize" }) : null,
        )
      : null,
    output,
  );
}
