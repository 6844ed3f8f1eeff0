// The console: sign in, pick a tenant, and the pages, routed by the URL's hash (#/t/<tenant>/<page>).
import { adminPath, get } from "./api.js";
import { finishSignIn, signOut, startSignIn, token } from "./auth.js";
import { clear, h } from "./dom.js";
import { actionPage, actionsPage } from "./actions.js";
import { connectorPage, connectorsPage } from "./connectors.js";
import { deliveriesPage, deliveryPage } from "./deliveries.js";
import { auditPage, limitsPage, registrationsPage, tenantPicker } from "./pages.js";
import { rulePage, rulesPage } from "./rules.js";
import { errorBox, failed, notFound, show } from "./ui.js";

const SECTIONS = [
  ["connectors", "Connectors"],
  ["actions", "External actions"],
  ["rules", "Rules"],
  ["deliveries", "Deliveries"],
  ["registrations", "Registrations"],
  ["limits", "Limits and usage"],
  ["audit", "Audit log"],
];

let me = null;

function renderNav(tenantId) {
  const nav = clear(document.getElementById("nav"));
  if (!me) return;
  const items = [h("li", {}, h("a", { href: "#/" }, me.operator ? "Tenants" : "My tenants"))];
  if (tenantId) {
    for (const [page, text] of SECTIONS) {
      const current = window.location.hash.startsWith(`#/t/${encodeURIComponent(tenantId)}/${page}`);
      items.push(h("li", {}, h("a", { href: `#/t/${encodeURIComponent(tenantId)}/${page}`, "aria-current": current ? "page" : null }, text)));
    }
  }
  nav.append(h("ul", {}, items));
}

function renderWho() {
  const who = clear(document.getElementById("who"));
  const role = me.operator ? "operator" : `tenant admin of ${me.tenants.join(", ")}`;
  who.append(
    h("span", { id: "signed-in-as" }, `${me.subject} (${role})`),
    " ",
    h("button", { type: "button", id: "sign-out", on: { click: () => { signOut(); window.location.assign("/console/"); } } }, "Sign out"),
  );
}

async function route() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").map((part) => decodeURIComponent(part));
  if (parts[0] !== "t" || !parts[1]) {
    renderNav(null);
    return tenantPicker(me);
  }
  const [, tenantId, page = "connectors", item, extra] = parts;
  renderNav(tenantId);
  // A tenant admin asking for another tenant: the same 404 as the API (and no request is needed).
  if (!me.operator && !me.tenants.includes(tenantId)) return notFound(`tenant '${tenantId}'`);
  try {
    await get(adminPath("tenants", tenantId, "limits"));
  } catch (error) {
    return failed(error, `tenant '${tenantId}'`);
  }
  const pages = {
    connectors: () => (item ? connectorPage(tenantId, item === "new" ? null : item) : connectorsPage(tenantId)),
    actions: () => (item ? actionPage(tenantId, item === "new" ? null : item) : actionsPage(tenantId)),
    rules: () => (item ? rulePage(tenantId, item === "new" ? null : item) : rulesPage(tenantId)),
    deliveries: () => (item ? deliveryPage(tenantId, item) : deliveriesPage(tenantId)),
    registrations: () => registrationsPage(tenantId),
    limits: () => limitsPage(tenantId),
    audit: () => auditPage(tenantId),
  };
  if (!pages[page] || extra) return notFound("page");
  return pages[page]();
}

function signInPage(config, problem) {
  const main = clear(document.getElementById("main"));
  document.title = "Sign in · eventrelay console";
  main.append(h("h1", { id: "page-title" }, "eventrelay console"));
  if (problem) main.append(errorBox(problem));
  if (!config.configured) {
    main.append(h("p", { class: "error", role: "alert" }, "Sign-in is not configured for this stack (see the README, The console)."));
    return;
  }
  main.append(
    h("p", {}, "Administer connectors, external actions, rules and deliveries."),
    h("button", { type: "button", id: "sign-in", on: { click: () => startSignIn(config) } }, "Sign in"),
  );
}

async function start() {
  const config = await (await fetch("/console/config.json", { credentials: "omit" })).json();
  try {
    await finishSignIn(config);
  } catch (error) {
    return signInPage(config, error);
  }
  if (!token()) return signInPage(config);
  try {
    me = await get(adminPath("me"));
  } catch (error) {
    return signInPage(config, error);
  }
  renderWho();
  window.addEventListener("hashchange", () => route().catch((error) => show("Something went wrong", errorBox(error))));
  await route();
}

start().catch((error) => show("Something went wrong", errorBox(error)));
