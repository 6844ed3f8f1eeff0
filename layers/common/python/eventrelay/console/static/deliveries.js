// Deliveries: filters, a delivery's attempts as a timeline, replay one, replay by filter (counted first).
import { adminPath, get, post } from "./api.js";
import { field, h, pre, select, svg, table } from "./dom.js";
import { badge, button, errorBox, failed, link, show, status, when } from "./ui.js";

const STATES = [["", "any"], ["PENDING", "PENDING"], ["RETRYING", "RETRYING"], ["SUCCEEDED", "SUCCEEDED"], ["FAILED", "FAILED"]];
const base = (tenantId) => `#/t/${encodeURIComponent(tenantId)}/deliveries`;
const OUTCOME_COLOURS = { SUCCESS: "#1b7f3b", RETRYABLE: "#b35c00", PERMANENT: "#b3261e" };

function isoFromLocal(value) {
  return value ? `${value}${value.length === 16 ? ":00" : ""}Z` : "";
}

export async function deliveriesPage(tenantId, filters = {}) {
  const state = select(STATES, filters.state || "", { id: "filter-state" });
  const action = h("input", { id: "filter-action", value: filters.action || "" });
  const rule = h("input", { id: "filter-rule", value: filters.rule || "" });
  const since = h("input", { id: "filter-since", type: "datetime-local", value: filters.sinceLocal || "" });
  const until = h("input", { id: "filter-until", type: "datetime-local", value: filters.untilLocal || "" });
  const current = () => ({ state: state.value, action: action.value.trim(), rule: rule.value.trim(), sinceLocal: since.value, untilLocal: until.value });
  const query = (chosen) => ({ state: chosen.state, action: chosen.action, rule: chosen.rule, since: isoFromLocal(chosen.sinceLocal), until: isoFromLocal(chosen.untilLocal) });
  let page;
  try {
    page = await get(adminPath("tenants", tenantId, "deliveries"), query(filters));
  } catch (error) {
    return failed(error, "deliveries");
  }
  const output = h("div", { id: "replay-output", "aria-live": "polite" });
  const replayMatching = async () => {
    const body = Object.fromEntries(Object.entries(query(current())).filter(([, value]) => value));
    try {
      const counted = await post(adminPath("tenants", tenantId, "deliveries", "replay"), { ...body, dryRun: true });
      const confirm = async () => {
        try {
          const report = await post(adminPath("tenants", tenantId, "deliveries", "replay"), body);
          output.replaceChildren(h("p", { id: "replay-report" }, `Replayed ${report.replayed} of ${report.matched} matched.`));
          status(`Replayed ${report.replayed}`);
        } catch (error) {
          output.replaceChildren(errorBox(error));
        }
      };
      output.replaceChildren(
        h("p", { id: "replay-count" }, `${counted.wouldReplay} deliveries would be replayed${body.state ? "" : " (FAILED ones, as no state is chosen)"}.`),
        counted.wouldReplay ? button(`Replay ${counted.wouldReplay}`, confirm, { id: "confirm-replay", class: "primary" }) : null,
        button("Cancel", () => output.replaceChildren(), { id: "cancel-replay" }),
      );
    } catch (error) {
      output.replaceChildren(errorBox(error));
    }
  };
  const rows = page.deliveries.map((delivery) =>
    h(
      "tr",
      { dataset: { delivery: delivery.deliveryId, state: delivery.state } },
      h("th", { scope: "row" }, link(`${base(tenantId)}/${encodeURIComponent(delivery.deliveryId)}`, when(delivery.createdAt))),
      h("td", {}, `${delivery.eventName}/${delivery.eventVersion}`),
      h("td", {}, delivery.rule),
      h("td", {}, delivery.action),
      h("td", { class: "delivery-state" }, badge(delivery.state)),
      h("td", {}, `${delivery.attempts}/${delivery.attemptLimit}`),
      h("td", {}, delivery.lastStatus ?? ""),
    ),
  );
  show(
    "Deliveries",
    h(
      "form",
      { id: "delivery-filters", class: "filters", on: { submit: (event) => { event.preventDefault(); deliveriesPage(tenantId, current()); } } },
      field("State", state), field("Action", action), field("Rule", rule), field("Created since (UTC)", since), field("Created until (UTC)", until),
      h("p", {}, h("button", { type: "submit", id: "apply-filters" }, "Filter"), " ", button("Replay matching…", replayMatching, { id: "replay-matching" })),
    ),
    output,
    rows.length ? table("Deliveries, newest first", ["Created", "Event", "Rule", "Action", "State", "Attempts", "Last status"], rows) : h("p", { id: "no-deliveries" }, "No deliveries match."),
    page.nextCursor ? h("p", {}, "More deliveries match: narrow the filters to see them.") : null,
  );
}

// Attempts on a time axis: one mark per attempt, coloured by outcome, with its status and duration as text.
export function timeline(attempts) {
  if (!attempts.length) return h("p", {}, "No attempts yet.");
  const times = attempts.flatMap((a) => [Date.parse(a.startedAt), Date.parse(a.finishedAt || a.startedAt)]);
  const first = Math.min(...times);
  const span = Math.max(Math.max(...times) - first, 1);
  const width = 640;
  const left = 20;
  const usable = width - 2 * left;
  const x = (moment) => left + ((Date.parse(moment) - first) / span) * usable;
  const marks = attempts.map((attempt, index) => {
    const colour = OUTCOME_COLOURS[attempt.outcome] || "#444";
    const start = x(attempt.startedAt);
    const end = Math.max(x(attempt.finishedAt || attempt.startedAt), start + 6);
    const label = `Attempt ${attempt.attempt} (round ${attempt.round}): ${attempt.outcome}, status ${attempt.statusCode ?? "none"}, ${attempt.durationMs} ms`;
    return svg("g", { class: "mark" }, svg("title", {}, label), svg("rect", { x: start, y: 20 + (index % 2) * 26, width: end - start, height: 20, fill: colour, rx: 3 }), svg("text", { x: start, y: 16 + (index % 2) * 26 + 40, "font-size": 11, fill: "#111" }, `#${attempt.attempt} ${attempt.statusCode ?? "—"}`));
  });
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} 110`, width: "100%", role: "img", "aria-labelledby": "timeline-title", class: "timeline" },
    svg("title", { id: "timeline-title" }, `Timeline of ${attempts.length} attempts`),
    svg("line", { x1: left, y1: 90, x2: width - left, y2: 90, stroke: "#555" }),
    svg("text", { x: left, y: 105, "font-size": 11, fill: "#111" }, when(new Date(first).toISOString())),
    svg("text", { x: width - left, y: 105, "font-size": 11, fill: "#111", "text-anchor": "end" }, `+${Math.round(span)} ms`),
    marks,
  );
  const list = h(
    "ol",
    { id: "attempts", class: "attempts" },
    attempts.map((attempt) =>
      h(
        "li",
        { dataset: { outcome: attempt.outcome } },
        badge(attempt.outcome, attempt.outcome === "SUCCESS" ? "ok" : "failed"),
        ` attempt ${attempt.attempt}, round ${attempt.round}${attempt.replay ? " (replay)" : ""}: status ${attempt.statusCode ?? "none"}, ${attempt.durationMs} ms, at ${when(attempt.startedAt)}`,
        attempt.error ? ` — ${attempt.error}` : "",
      ),
    ),
  );
  return h("figure", { id: "timeline" }, chart, h("figcaption", {}, "Attempts, oldest first"), list);
}

export async function deliveryPage(tenantId, deliveryId) {
  let delivery;
  try {
    delivery = await get(adminPath("tenants", tenantId, "deliveries", deliveryId));
  } catch (error) {
    return failed(error, `delivery '${deliveryId}'`);
  }
  const output = h("div", { id: "replay-output", "aria-live": "polite" });
  const replay = async () => {
    try {
      const replayed = await post(adminPath("tenants", tenantId, "deliveries", deliveryId, "replay"), {});
      status(`Delivery replayed (round ${replayed.round})`);
      await deliveryPage(tenantId, deliveryId);
    } catch (error) {
      output.replaceChildren(errorBox(error));
    }
  };
  const last = delivery.attempts.length ? delivery.attempts[delivery.attempts.length - 1] : null;
  show(
    `Delivery ${delivery.deliveryId}`,
    h("p", {}, link(base(tenantId), "All deliveries"), " · ", button("Refresh", () => deliveryPage(tenantId, deliveryId), { id: "refresh-delivery" })),
    h(
      "dl",
      {},
      h("dt", {}, "State"), h("dd", { id: "delivery-state" }, badge(delivery.state)),
      h("dt", {}, "Event"), h("dd", {}, `${delivery.eventName}/${delivery.eventVersion} (${delivery.eventId})`),
      h("dt", {}, "Rule / action"), h("dd", {}, `${delivery.rule} → ${delivery.action}`),
      h("dt", {}, "Attempts"), h("dd", {}, `${delivery.attemptCount} of ${delivery.attemptLimit}, replays ${delivery.replays}`),
      h("dt", {}, "Created"), h("dd", {}, when(delivery.createdAt)),
    ),
    h("h2", {}, "Attempts"),
    timeline(delivery.attempts),
    last && last.responseBody ? [h("h3", {}, "Last response body"), pre(last.responseBody)] : null,
    h("p", {}, button("Replay", replay, { id: "replay-delivery", class: "primary" })),
    output,
  );
}
