// The tenant picker, registrations, limits and usage (an SVG chart), the audit log.
import { adminPath, get, post } from "./api.js";
import { field, h, pre, select, svg, table } from "./dom.js";
import { button, errorBox, failed, link, show, status, when } from "./ui.js";

export async function tenantPicker(me) {
  let tenants;
  if (me.operator) {
    try {
      tenants = (await get(adminPath("tenants"))).map((t) => [t.tenantId, t.name]);
    } catch (error) {
      return failed(error, "tenants");
    }
  } else {
    tenants = me.tenants.map((id) => [id, ""]);
    if (tenants.length === 1) {
      window.location.hash = `#/t/${encodeURIComponent(tenants[0][0])}/connectors`;
      return undefined;
    }
  }
  return show(
    me.operator ? "Pick a tenant" : "Your tenants",
    h("ul", { id: "tenants", class: "tenants" }, tenants.map(([id, name]) => h("li", {}, link(`#/t/${encodeURIComponent(id)}/connectors`, id, { class: "tenant-link" }), name ? ` — ${name}` : ""))),
  );
}

export async function registrationsPage(tenantId) {
  let registrations;
  try {
    registrations = await get(adminPath("tenants", tenantId, "registrations"));
  } catch (error) {
    return failed(error, "registrations");
  }
  const eventName = h("input", { id: "registration-event", required: true });
  const eventVersion = h("input", { id: "registration-version", required: true, placeholder: "v01" });
  const kind = select(["open", "json_schema", "system_asset"], "open", { id: "registration-kind" });
  const schema = h("textarea", { id: "registration-schema", rows: "5" });
  const description = h("input", { id: "registration-description" });
  const output = h("div", { id: "registration-output", "aria-live": "polite" });
  const save = async (event) => {
    event.preventDefault();
    try {
      const body = { eventName: eventName.value.trim(), eventVersion: eventVersion.value.trim(), kind: kind.value, description: description.value };
      if (schema.value.trim()) body.schema = JSON.parse(schema.value);
      await post(adminPath("tenants", tenantId, "registrations"), body);
      status("Event registered");
      await registrationsPage(tenantId);
    } catch (error) {
      output.replaceChildren(errorBox(error));
    }
  };
  const rows = registrations.map((r) =>
    h("tr", {}, h("th", { scope: "row" }, r.eventName), h("td", {}, r.eventVersion), h("td", {}, r.kind), h("td", {}, r.description || ""), h("td", {}, r.schema ? pre(JSON.stringify(r.schema, null, 2)) : "")),
  );
  show(
    "Event registrations",
    table("Events this tenant may publish", ["Event", "Version", "Kind", "Description", "JSON Schema"], rows),
    h(
      "form",
      { id: "registration-form", on: { submit: save } },
      h("h2", {}, "Register an event"),
      field("Event name", eventName), field("Version", eventVersion), field("Kind", kind), field("JSON Schema (for json_schema)", schema), field("Description", description),
      h("p", {}, h("button", { type: "submit", id: "save-registration" }, "Register")),
    ),
    output,
  );
}

// One horizontal bar per window: the limit as the track, the use as the fill, the numbers as text.
export function usageChart(windows) {
  const rowHeight = 34;
  const width = 640;
  const labelWidth = 230;
  const barWidth = width - labelWidth - 120;
  const bars = windows.map((w, index) => {
    const y = index * rowHeight + 8;
    const share = w.limit ? Math.min(w.used / w.limit, 1) : 0;
    const colour = share >= 0.9 ? "#b3261e" : share >= 0.7 ? "#8a5a00" : "#1b5e9f";
    return svg(
      "g",
      {},
      svg("title", {}, `${w.kind} ${w.window}: ${w.used} of ${w.limit} used, resets ${w.resetsAt}`),
      svg("text", { x: 0, y: y + 15, "font-size": 12, fill: "#111" }, `${w.kind}: ${w.window}`),
      svg("rect", { x: labelWidth, y, width: barWidth, height: 20, fill: "#e6e6e6", stroke: "#666" }),
      svg("rect", { x: labelWidth, y, width: Math.max(share * barWidth, share ? 2 : 0), height: 20, fill: colour }),
      svg("text", { x: labelWidth + barWidth + 8, y: y + 15, "font-size": 12, fill: "#111" }, `${w.used} / ${w.limit}`),
    );
  });
  return svg(
    "svg",
    { viewBox: `0 0 ${width} ${windows.length * rowHeight + 10}`, width: "100%", role: "img", "aria-labelledby": "usage-title", id: "usage-chart" },
    svg("title", { id: "usage-title" }, "Use of the current rate-limit windows"),
    bars,
  );
}

export async function limitsPage(tenantId) {
  let usage;
  try {
    usage = await get(adminPath("tenants", tenantId, "limits"));
  } catch (error) {
    return failed(error, "limits");
  }
  const windows = Object.entries(usage).flatMap(([kind, list]) => list.map((w) => ({ kind, ...w })));
  const rows = windows.map((w) => h("tr", {}, h("th", { scope: "row" }, `${w.kind}: ${w.window}`), h("td", {}, String(w.limit)), h("td", {}, String(w.used)), h("td", {}, String(w.remaining)), h("td", {}, when(w.resetsAt))));
  show(
    "Limits and usage",
    h("figure", {}, usageChart(windows), h("figcaption", {}, "Current windows: used of the limit")),
    table("Current windows", ["Window", "Limit", "Used", "Remaining", "Resets at"], rows),
  );
}

export async function auditPage(tenantId, cursor) {
  let page;
  try {
    page = await get(adminPath("tenants", tenantId, "audit"), { cursor });
  } catch (error) {
    return failed(error, "audit log");
  }
  const rows = page.entries.map((entry) =>
    h("tr", {}, h("th", { scope: "row" }, when(entry.at)), h("td", {}, entry.subject), h("td", {}, entry.operation), h("td", {}, `${entry.resourceKind} ${entry.resourceName}`), h("td", {}, entry.attributes.join(", ")), h("td", {}, entry.requestId)),
  );
  show(
    "Audit log",
    page.entries.length ? table("Changes, newest first", ["When", "Who", "What", "Resource", "Attributes", "Request id"], rows) : h("p", {}, "No changes recorded."),
    page.cursor ? h("p", {}, button("Older entries", () => auditPage(tenantId, page.cursor), { id: "older-audit" })) : null,
    cursor ? h("p", {}, link(`#/t/${encodeURIComponent(tenantId)}/audit`, "Newest entries")) : null,
  );
}
