// The rules editor: a page over the rules API (services/rules/README.md), no framework, no build.
// Every request goes to a path relative to the page, so the page works wherever the API serves it.
// User text only ever reaches the page as textContent.

import { finishSignIn, forgetToken, SignInError, startSignIn } from "./signIn.js";

/** The form control that shows a problem with a rule field (`path` as the API names it). */
const CONTROL_OF_PATH = {
  id: "rule-id",
  event: "event",
  where: "filter-name-1",
  count: "count-op",
  "count.op": "count-op",
  "count.value": "count-value",
  sum: "sum-op",
  "sum.op": "sum-op",
  "sum.metric": "sum-metric",
  "sum.value": "sum-value",
  window: "window-from",
  "window.from": "window-from",
  "window.to": "window-to",
  "window.last": "window-last",
  action: "action-type",
  "action.type": "action-type",
  "action.name": "action-name",
  "action.value": "action-value",
  "action.sink": "action-sink",
  reset: "reset-target",
  enabled: "enabled",
  backfill: "backfill",
};
const $ = (id) => document.getElementById(id);
const form = $("rule-form");
/**
 * The rules as GET /rules gave them; the rule being edited (`undefined`: a new one), with what it
 * counts as saved (`counterKey`, the API's), so that an edit that counts something new can offer a
 * backfill.
 */
const state = { rules: [], editing: undefined, filters: 0 };

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// ---------------------------------------------------------------------------------------------
// The API

// A deployed API with a JWT authorizer says where to sign in (GET sign-in.json; the flow is in
// signIn.js); without one (AWS_IAM, `pia local --ui`) the page sends no token.
let signIn = null;
let token = null;

/** Shows the Sign in button when there is somewhere to sign in and no token yet. */
const offerSignIn = () => {
  $("sign-in").hidden = signIn === null || token !== null;
};

/** Learns where to sign in, and finishes a sign-in this page is coming back from. */
async function setUpSignIn() {
  const response = await fetch(new URL("sign-in.json", document.baseURI), {
    headers: { accept: "application/json" },
  });
  const data = response.ok ? await response.json().catch(() => ({})) : {};
  signIn = data.signIn ?? null;
  try {
    if (signIn !== null) token = await finishSignIn(signIn);
  } finally {
    offerSignIn();
  }
}

async function callApi(method, path, { body, version } = {}) {
  const headers = { accept: "application/json" };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  if (version !== undefined) headers["if-match"] = `"${version}"`;
  const response = await fetch(new URL(path, document.baseURI), {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && token !== null) {
    // Expired or revoked: a new sign-in gets another.
    forgetToken();
    token = null;
  }
  if (response.status === 401) offerSignIn();
  return { status: response.status, ok: response.ok, data };
}

const rulePath = (id, rest = "") => `rules/${encodeURIComponent(id)}${rest}`;
const failure = (result) => {
  if (result.status === 401) {
    return signIn === null
      ? "not signed in: this API takes signed requests (see the README's Deploy section)"
      : "not signed in: use Sign in above";
  }
  return result.data.message ?? `the API answered HTTP ${result.status}`;
};

function setStatus(text, kind = "info") {
  const status = $("status");
  status.textContent = text;
  status.className = kind;
}

// ---------------------------------------------------------------------------------------------
// The API's contract: the form is drawn from GET /rules/schema, and every draft is read and
// checked by POST /rules/draft (the core's validation), so this page keeps no rule of its own.

/** A rolling window's units as the API gives them (`{ value, text, max }`), once the schema is in. */
let rollingUnits = [];

/** Fills the operator, sink and window unit lists from the API. */
async function loadSchema() {
  const result = await callApi("GET", "rules/schema");
  if (!result.ok) {
    setStatus(`Could not load the form: ${failure(result)}`, "error");
    return;
  }
  const { operators, sinks, rolling } = result.data;
  rollingUnits = rolling?.units ?? [];
  $("window-unit").replaceChildren(
    // Days unless chosen otherwise, also after the form is reset.
    ...rollingUnits.map(({ value, text }) =>
      element("option", { value, textContent: text, defaultSelected: value === "d" }),
    ),
  );
  showUnitRange();
  for (const select of document.querySelectorAll("select.op")) {
    select.replaceChildren(
      element("option", { value: "", textContent: "na: no condition" }),
      ...operators.map(({ value, text }) => element("option", { value, textContent: text })),
    );
  }
  $("action-sink").append(...sinks.map((name) => element("option", { value: name, textContent: name })));
}

/** The draft as the API reads and checks it: the rule, the suggested action name, the issues. */
const askDraft = () => callApi("POST", "rules/draft", { body: draftOf() });

/** The path the API names a window field by. */
const WINDOW_PATH = { "window-from": "window.from", "window-to": "window.to", "window-last": "window.last" };

/** Checks a window field as typed, with the API; its problems show next to it. */
async function checkWindowField(input) {
  clearIssue(input);
  if (input.value === "") return;
  const result = await askDraft();
  for (const { message } of (result.data.errors ?? []).filter(
    (issue) => issue.path === WINDOW_PATH[input.id],
  ))
    showIssue(input, message);
  const picker = $(`${input.id}-picker`);
  if (picker !== null) picker.value = input.getAttribute("aria-invalid") === "true" ? "" : input.value;
}

/** Says how long a rolling window may be in the unit chosen (the API's limits; the API checks). */
function showUnitRange() {
  const unit = rollingUnits.find(({ value }) => value === $("window-unit").value);
  $("window-last").placeholder = unit === undefined ? "" : `1 to ${unit.max}`;
}

// ---------------------------------------------------------------------------------------------
// Inline issues

function clearIssue(control) {
  control.removeAttribute("aria-invalid");
  const box = $(`${control.id}-issue`);
  if (box !== null) box.replaceChildren();
}

function clearIssues() {
  for (const control of form.querySelectorAll("input, select")) clearIssue(control);
  $("form-error").replaceChildren();
}

function showIssue(control, message, kind = "error") {
  const box = $(`${control.id}-issue`);
  if (kind === "error") control.setAttribute("aria-invalid", "true");
  box.append(element("span", { className: kind, textContent: message }));
}

function controlOf(path) {
  if (path.startsWith("where.")) {
    const name = path.slice("where.".length);
    const row = [...$("filters").children].find((node) => node.querySelector(".filter-name").value === name);
    if (row !== undefined) return row.querySelector(".filter-value");
  }
  // A rolling window's problems as a whole (e.g. with from or to besides last) show at its length.
  if (path === "window" && $("rule-type").value === "rolling") return $("window-last");
  const id = CONTROL_OF_PATH[path];
  return id === undefined ? null : $(id);
}

/** Field-by-field issues as the API returns them: next to their field, or above the form. */
function showIssues(errors = [], warnings = []) {
  for (const [issues, kind] of [
    [errors, "error"],
    [warnings, "warning"],
  ]) {
    for (const { path, message } of issues) {
      const control = controlOf(path);
      if (control !== null) showIssue(control, message, kind);
      else {
        $("form-error").append(
          element("p", { className: kind, textContent: path === "" ? message : `${path}: ${message}` }),
        );
      }
    }
  }
  form.querySelector('[aria-invalid="true"]')?.focus();
}

function showFormError(message, ...extra) {
  $("form-error").append(element("p", { className: "error", textContent: message }, ...extra));
}

// ---------------------------------------------------------------------------------------------
// The form

function addFilter(name = "", value = "") {
  state.filters += 1;
  const n = state.filters;
  const suffix = $("filters").children.length === 0 ? "" : ` ${$("filters").children.length + 1}`;
  const field = (kind, label, text) => {
    const input = element("input", {
      id: `filter-${kind}-${n}`,
      className: `filter-${kind}`,
      autocomplete: "off",
      value: text,
    });
    input.setAttribute("aria-describedby", `${input.id}-issue`);
    return element(
      "div",
      { className: "field" },
      element("label", { htmlFor: input.id, textContent: `${label}${suffix}` }),
      input,
      element("p", { className: "issue", id: `${input.id}-issue` }),
    );
  };
  const remove = element("button", { type: "button", className: "link", textContent: "Remove" });
  remove.setAttribute("aria-label", `Remove attribute filter${suffix}`);
  const row = element(
    "div",
    { className: "row filter" },
    field("name", "Filter attribute", name),
    field("value", "Filter value", value),
    remove,
  );
  remove.addEventListener("click", () => {
    row.remove();
    suggestActionName();
  });
  $("filters").append(row);
}

function setFilters(entries) {
  $("filters").replaceChildren();
  state.filters = 0;
  for (const [name, value] of entries) addFilter(name, value);
  if (entries.length === 0) addFilter();
}

function filtersOf() {
  return [...$("filters").children]
    .map((row) => [row.querySelector(".filter-name").value, row.querySelector(".filter-value").value])
    .filter(([name, value]) => name !== "" || value !== "");
}

let suggesting;
/** Shows the action name the API derives when the form names none (as the 12-column table does). */
function suggestActionName() {
  clearTimeout(suggesting);
  suggesting = setTimeout(async () => {
    const result = await askDraft().catch(() => undefined);
    $("action-name").placeholder = result?.data.defaultActionName ?? "";
    if (result?.data.counterKey !== undefined) offerBackfill(result.data.counterKey);
  }, 150);
}

// ---------------------------------------------------------------------------------------------
// Backfill (docs/rules.md section 9): a rule that counts something new may also count the events
// already stored. The API decides whether it applies (`backfillOutcome`); the page only offers it
// where it can: on a new rule, and on an edit that changes what the rule counts.

/** Shows the offer for a draft that counts `counterKey` (the API's); hides it, back to off, otherwise. */
function offerBackfill(counterKey) {
  const offered = state.editing === undefined || counterKey !== state.editing.counterKey;
  $("backfill-offer").hidden = !offered;
  if (!offered) $("backfill").value = "off";
}

/** The `backfill` field of a save: only when offered, chosen, and the rule is not a rolling one. */
function backfillChoice() {
  const select = $("backfill");
  return $("backfill-offer").hidden || select.disabled || select.value === "off"
    ? {}
    : { backfill: select.value };
}

const count = (n) => Number(n).toLocaleString("en-US");

/** Where a saved rule's backfill is, in one line; `undefined` when its counting has none. */
function backfillText(backfill) {
  if (backfill === undefined) return undefined;
  const { state: where, mode, progress: p } = backfill;
  const how = mode === "notify" ? "notifying users who already qualify" : "recorded without notifying";
  const done = `${count(p.days)}/${count(p.daysTotal)} days, ${count(p.merged)} users merged, ${count(p.notifications)} notifications`;
  const detail = {
    requested: `requested at ${iso(backfill.requestedAt)}, waiting for the backfill job`,
    settling: `settling, stored history complete at ${backfill.settledAt === undefined ? "(not set yet)" : iso(backfill.settledAt)}`,
    discovering: `discovering, ${done}`,
    sweeping: `sweeping, ${done}`,
    done: `done at ${backfill.finishedAt === undefined ? "(unknown)" : iso(backfill.finishedAt)}, ${done}`,
  }[where];
  // The boundary, once the job has set it: what is history and what the stream counts.
  const history =
    backfill.boundary === undefined
      ? ""
      : ` History: the events that arrived before ${iso(backfill.boundary)}, ${count(p.eventsRead)} read so far.`;
  return `Backfill: ${detail ?? where} (${how}).${history}`;
}

/** Shows the saved rule's backfill in its panel. */
function showBackfill(stored) {
  const line = $("backfill-status");
  const text = stored === undefined ? undefined : backfillText(stored.backfill);
  line.hidden = text === undefined;
  line.textContent = text ?? "";
}

/** What became of a save's backfill request, for the status line. */
const BACKFILL_OUTCOME_TEXT = {
  requested: "Backfill requested: the stored events will be counted.",
  alreadyCounting: "Not backfilled: the rule counts as it did, and its counters already count.",
  notSupported: "Not backfilled: rolling-window rules are not backfilled.",
};

/** Enables the fields that apply to the rule type and action type. */
function updateForm() {
  const type = $("rule-type").value;
  for (const id of ["window-from", "window-to", "window-from-picker", "window-to-picker"])
    $(id).disabled = type !== "date";
  for (const id of ["window-last", "window-unit"]) $(id).disabled = type !== "rolling";
  showUnitRange();
  // A date window ignores reset; a rolling one may reset (the API says when it cannot).
  $("reset-target").disabled = type === "date";
  // Rolling-window rules are not backfilled (the hint says so).
  $("backfill").disabled = type === "rolling";
  $("action-value").disabled = $("action-type").value !== "attribute";
  for (const kind of ["count", "sum"]) $(`${kind}-value`).disabled = $(`${kind}-op`).value === "";
  $("sum-metric").disabled = $("sum-op").value === "";
  suggestActionName();
}

function fillForm(rule) {
  $("rule-id").value = rule.id;
  const last = rule.window?.last;
  $("rule-type").value = rule.window === undefined ? "aggregator" : last === undefined ? "date" : "rolling";
  // `7d`: the number and the unit, as the API's schema names units.
  const [, amount = "", unit = ""] = /^(\d*)(.*)$/.exec(last ?? "") ?? [];
  $("window-last").value = amount;
  if (last !== undefined) $("window-unit").value = unit;
  $("event").value = rule.event;
  setFilters(Object.entries(rule.where ?? {}));
  $("count-op").value = rule.count?.op ?? "";
  $("count-value").value = rule.count === undefined ? "" : String(rule.count.value);
  $("sum-op").value = rule.sum?.op ?? "";
  $("sum-metric").value = rule.sum?.metric ?? "";
  $("sum-value").value = rule.sum === undefined ? "" : String(rule.sum.value);
  $("window-from").value = rule.window?.from ?? "";
  $("window-to").value = rule.window?.to ?? "";
  $("window-from-picker").value = rule.window?.from ?? "";
  $("window-to-picker").value = rule.window?.to ?? "";
  $("reset-target").checked = rule.reset === true;
  $("action-type").value = rule.action.type;
  $("action-name").value = rule.action.name;
  $("action-value").value = rule.action.type === "attribute" ? rule.action.value : "";
  $("action-sink").value = rule.action.sink ?? "";
  $("enabled").checked = rule.enabled !== false;
  updateForm();
}

function openForm(stored) {
  state.editing =
    stored === undefined
      ? undefined
      : { id: stored.rule.id, version: stored.version, counterKey: stored.counterKey };
  form.reset();
  // Offered on a new rule; on an edit, once the draft counts something new.
  $("backfill-offer").hidden = stored !== undefined;
  showBackfill(stored);
  clearIssues();
  $("preview-result").replaceChildren();
  // Explaining reads the rule as saved: a new rule has nothing to explain yet. The last answer
  // (another rule's, another user's) goes.
  $("explain").hidden = stored === undefined;
  $("explain-result").replaceChildren();
  clearIssue($("explain-user"));
  if (stored === undefined) {
    setFilters([]);
    $("enabled").checked = true;
    $("count-op").value = ">";
    updateForm();
  } else fillForm(stored.rule);
  $("rule-id").readOnly = stored !== undefined;
  $("form-heading").textContent =
    stored === undefined ? "New rule" : `Rule ${stored.rule.id} (version ${stored.version})`;
  $("editor").hidden = false;
  (stored === undefined ? $("rule-id") : $("event")).focus();
}

/** What the form says, as a canonical rule draft: a left-out action name or value is the API's to fill. */
function draftOf() {
  const where = filtersOf();
  const countOp = $("count-op").value;
  const sumOp = $("sum-op").value;
  const metric = $("sum-metric").value;
  const type = $("action-type").value;
  const sink = $("action-sink").value;
  const windowType = $("rule-type").value;
  const windows = {
    date: { window: { from: $("window-from").value, to: $("window-to").value } },
    rolling: { window: { last: `${$("window-last").value.trim()}${$("window-unit").value}` } },
  };
  return {
    id: $("rule-id").value,
    event: $("event").value,
    ...(where.length === 0 ? {} : { where: Object.fromEntries(where) }),
    ...(countOp === "" ? {} : { count: { op: countOp, value: $("count-value").value } }),
    ...(sumOp === ""
      ? {}
      : { sum: { ...(metric === "" ? {} : { metric }), op: sumOp, value: $("sum-value").value } }),
    ...(windows[windowType] ?? {}),
    action: {
      type,
      name: $("action-name").value,
      ...(type === "attribute" ? { value: $("action-value").value } : {}),
      ...(sink === "" ? {} : { sink }),
    },
    reset: windowType !== "date" && $("reset-target").checked,
    enabled: $("enabled").checked,
  };
}

/** The form's rule as the API reads it; `undefined` (its issues shown) when it is not valid. */
async function resolveDraft() {
  clearIssues();
  const result = await askDraft();
  if (result.ok) return result.data.rule;
  showIssues(result.data.errors ?? [{ path: "", message: failure(result) }], result.data.warnings);
  return undefined;
}

async function save() {
  const draft = await resolveDraft();
  if (draft === undefined) return;
  const editing = state.editing;
  const body = { ...draft, ...backfillChoice() };
  const result =
    editing === undefined
      ? await callApi("POST", "rules", { body })
      : await callApi("PUT", rulePath(editing.id), { body, version: editing.version });
  if (result.ok) {
    const stored = result.data;
    state.editing = { id: stored.rule.id, version: stored.version, counterKey: stored.counterKey };
    fillForm(stored.rule);
    $("backfill-offer").hidden = true;
    $("backfill").value = "off";
    showBackfill(stored);
    $("rule-id").readOnly = true;
    $("explain").hidden = false;
    $("form-heading").textContent = `Rule ${stored.rule.id} (version ${stored.version})`;
    showIssues([], stored.warnings);
    const outcome = BACKFILL_OUTCOME_TEXT[stored.backfillOutcome];
    setStatus(
      `Saved ${stored.rule.id} (version ${stored.version}).${outcome === undefined ? "" : ` ${outcome}`}`,
    );
    await loadRules();
  } else if (result.status === 400) {
    showIssues(result.data.errors ?? [{ path: "", message: failure(result) }], result.data.warnings);
  } else if (result.status === 409 && editing !== undefined) {
    const reload = element("button", { type: "button", textContent: "Load the current version" });
    reload.addEventListener("click", () => editRule(editing.id));
    const current = result.data.currentVersion;
    showFormError(
      `Not saved: someone else changed this rule since you opened it${current === undefined ? "" : ` (it is now at version ${current}; you edited version ${editing.version})`}. Load the current version (your changes here are lost), then redo them.`,
      " ",
      reload,
    );
  } else if (result.status === 409) {
    showIssues([{ path: "id", message: failure(result) }]);
  } else showFormError(`Not saved: ${failure(result)}`);
}

async function check() {
  clearIssues();
  const result = await askDraft();
  if (result.ok) {
    $("form-error").append(element("p", { className: "ok", textContent: "The rule is valid." }));
    showIssues([], result.data.warnings);
  } else showIssues(result.data.errors ?? [{ path: "", message: failure(result) }], result.data.warnings);
}

async function preview() {
  const panel = $("preview-result");
  panel.replaceChildren();
  const draft = await resolveDraft();
  if (draft === undefined) return;
  panel.append(element("p", { textContent: "Previewing…" }));
  const result = await callApi("POST", "rules/preview", { body: draft });
  panel.replaceChildren(element("h3", { textContent: "Preview" }));
  if (result.status === 400) {
    panel.append(element("p", { textContent: "Fix the errors shown in the form to preview the rule." }));
    showIssues(result.data.errors ?? [{ path: "", message: failure(result) }], result.data.warnings);
    return;
  }
  if (!result.ok) {
    panel.append(
      element("p", { className: "error", textContent: `Preview unavailable: ${failure(result)}` }),
    );
    return;
  }
  const {
    qualifying,
    entered,
    sample = [],
    usersSeen,
    eventsRead,
    from,
    to,
    truncated,
    partial,
  } = result.data;
  const users = (n) => `user${n === 1 ? "" : "s"}`;
  // A rolling rule (`entered` is given): who is inside its window now; one that resets never
  // keeps its users inside, so who it fired for.
  const rolling = entered !== undefined;
  const qualifyingText = !rolling
    ? ` ${users(qualifying)} would qualify today`
    : draft.reset
      ? ` ${users(qualifying)} reached it at least once`
      : ` ${users(qualifying)} ${qualifying === 1 ? "is" : "are"} inside now`;
  panel.append(
    element(
      "p",
      { className: "qualifying" },
      element("strong", { textContent: count(qualifying) }),
      qualifyingText,
    ),
    ...(rolling && !draft.reset
      ? [element("p", { textContent: `${count(entered)} ${users(entered)} entered at some point.` })]
      : []),
    element("p", {
      textContent: `Events from ${from} to ${to}: ${count(eventsRead)} events read, ${count(usersSeen)} users seen.`,
    }),
  );
  if (truncated) {
    panel.append(
      element("p", {
        className: "warning",
        textContent: `${partial?.message ?? "partial: only part of the events were read"}: the real number may differ.`,
      }),
    );
  }
  if (sample.length > 0) {
    panel.append(
      element("p", { textContent: qualifying > sample.length ? "Some of them:" : "They are:" }),
      element(
        "ul",
        {},
        ...sample.map(({ appId, userId }) => element("li", { textContent: `${userId} (app ${appId})` })),
      ),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Explain a user: POST /rules/{id}/explain (the user id goes in the body, never in a URL)

const iso = (text) => text.replace("T", " ").replace(/\.000Z$/, "Z");

/** The pipeline's counters item, in words (as `pia explain --stage` says it). */
function storedWords(stored) {
  return stored === null
    ? "none: no event of this rule counted for the user since the rule, as it counts now, was saved"
    : stored.words;
}

function notificationText(n) {
  const rolling = n.seq === undefined ? "" : ` seq ${n.seq} ${n.value === "" ? "exit" : "entry"}`;
  const what = n.type === "event" ? ` event ${n.name}` : ` ${n.name} = ${JSON.stringify(n.value)}`;
  return `${iso(n.at)}${rolling}${what}`;
}

async function explainUser() {
  const panel = $("explain-result");
  const editing = state.editing;
  const input = $("explain-user");
  clearIssue(input);
  if (editing === undefined) return;
  const userId = input.value.trim();
  if (userId === "") {
    showIssue(input, "Type the user id to explain.");
    input.focus();
    return;
  }
  panel.replaceChildren(element("p", { textContent: "Explaining…" }));
  const body = { userId, appId: $("explain-app").value.trim() };
  const result = await callApi("POST", rulePath(editing.id, "/explain"), { body });
  if (!result.ok) {
    panel.replaceChildren(
      element("p", { className: "error", textContent: `Not explained: ${failure(result)}` }),
    );
    return;
  }
  const a = result.data;
  const app = a.appId === "" ? "without an app id" : `in app ${a.appId}`;
  const nodes = [
    element("p", { textContent: `${a.words}, then ${a.action}.` }),
    ...(a.enabled
      ? []
      : [element("p", { className: "warning", textContent: "Disabled: explained as if enabled." })]),
    element(
      "p",
      { className: `qualifying ${a.holds ? "ok" : ""}` },
      `User ${a.userId} ${app}: `,
      element("strong", { textContent: a.verdict }),
      ` (${a.condition}, at ${iso(a.now)})`,
    ),
  ];
  if (a.closesAt !== undefined) {
    nodes.push(
      element("p", {
        textContent: a.closed
          ? `The window closed at ${iso(a.closesAt)}: decided once, on the window's totals.`
          : `The window closes at ${iso(a.closesAt)}: not decided yet.`,
      }),
    );
  }
  const scope = a.totals.scope === "" ? "" : ` ${a.totals.scope}`;
  nodes.push(element("p", { textContent: `Totals${scope}: count ${a.totals.count}, sum ${a.totals.sum}.` }));
  if (a.window !== undefined) {
    nodes.push(
      element("p", { textContent: `Window: after ${iso(a.window.start)}, up to ${iso(a.window.end)}.` }),
    );
  }
  const shownNotifications =
    a.notifications.length < a.notificationCount ? ` (the latest ${a.notifications.length})` : "";
  nodes.push(
    element("h4", {
      textContent:
        a.notificationCount === 0
          ? "Fired: never"
          : `Fired: ${plural(a.notificationCount, "notification")}${shownNotifications}`,
    }),
    ...(a.notifications.length === 0
      ? []
      : [
          element(
            "ul",
            {},
            ...a.notifications.map((n) => element("li", { textContent: notificationText(n) })),
          ),
        ]),
  );
  const metricName = a.metricName ?? "metric";
  const shownEvents = a.events.length < a.counted ? ` (the newest ${a.events.length})` : "";
  nodes.push(
    element("h4", { textContent: `Events that counted: ${a.counted}${shownEvents}` }),
    ...(a.events.length === 0
      ? []
      : [
          element(
            "ul",
            {},
            ...a.events.map((e) =>
              element("li", {
                textContent: `${iso(e.at)}  ${e.identity}${e.metric === null ? "" : `  ${metricName} ${e.metric}`}`,
              }),
            ),
          ),
        ]),
    element("p", {
      textContent: `Replayed ${plural(a.read.events, "stored event")} of the user, in time order.`,
    }),
  );
  if (a.read.truncated) {
    nodes.push(
      element("p", {
        className: "warning",
        textContent: `Stopped after ${a.read.maxEvents} events (the limit): later-read events are missing from the replay.`,
      }),
    );
  }
  if (a.read.unreadable > 0) {
    nodes.push(
      element("p", {
        textContent: `${plural(a.read.unreadable, "item")} were not events and were left out.`,
      }),
    );
  }
  const rolling = a.kind === "rolling" ? " (window totals)" : "";
  nodes.push(element("p", { textContent: `Pipeline state${rolling}: ${storedWords(a.stored)}.` }));
  panel.replaceChildren(...nodes);
}

// ---------------------------------------------------------------------------------------------
// The list

/** One line that says what a rule does: the core's words for it (the API's `words`), and its action. */
function summaryOf({ rule, words }) {
  const action =
    rule.action.type === "attribute"
      ? `set ${rule.action.name} = ${rule.action.value}`
      : `fire ${rule.action.name}${rule.reset ? " each time" : ""}`;
  const sink = rule.action.sink === undefined ? "" : ` (${rule.action.sink})`;
  return `${words} → ${action}${sink}`;
}

function rowOf(stored) {
  const { rule, version } = stored;
  const button = (text, onClick) => {
    const node = element("button", { type: "button", textContent: text });
    node.setAttribute("aria-label", `${text} ${rule.id}`);
    node.addEventListener("click", onClick);
    return node;
  };
  return element(
    "tr",
    { className: rule.enabled ? "" : "disabled" },
    element("td", {}, element("code", { textContent: rule.id })),
    element("td", { textContent: summaryOf(stored) }),
    element("td", { textContent: rule.enabled ? "yes" : "no" }),
    element(
      "td",
      { className: "actions" },
      button("Edit", () => editRule(rule.id)),
      button(rule.enabled ? "Disable" : "Enable", () => setEnabled(rule.id, !rule.enabled, version)),
      button("Delete", () => deleteRule(rule.id, version)),
    ),
  );
}

async function loadRules() {
  const result = await callApi("GET", "rules");
  if (!result.ok) {
    setStatus(`Could not list the rules: ${failure(result)}`, "error");
    return false;
  }
  state.rules = [...result.data.rules].sort((a, b) => (a.rule.id < b.rule.id ? -1 : 1));
  const rows = state.rules.map(rowOf);
  if (rows.length === 0) {
    rows.push(
      element("tr", {}, element("td", { colSpan: 4, textContent: "No rules yet: add one or import a CSV." })),
    );
  }
  document.querySelector("#rules tbody").replaceChildren(...rows);
  return true;
}

async function editRule(id) {
  const result = await callApi("GET", rulePath(id));
  if (result.ok) openForm(result.data);
  else setStatus(`Could not open ${id}: ${failure(result)}`, "error");
}

async function setEnabled(id, enabled, version) {
  const result = await callApi("POST", rulePath(id, enabled ? "/enable" : "/disable"), { version });
  if (result.ok) setStatus(`${enabled ? "Enabled" : "Disabled"} ${id}.`);
  else setStatus(`${id} is unchanged: ${failure(result)}`, "error");
  await loadRules();
}

async function deleteRule(id, version) {
  if (!window.confirm(`Delete rule "${id}"? Its history is kept; its counters are deleted.`)) return;
  const result = await callApi("DELETE", rulePath(id), { version });
  if (result.ok) {
    setStatus(`Deleted ${id}.`);
    if (state.editing?.id === id) $("editor").hidden = true;
  } else setStatus(`${id} is not deleted: ${failure(result)}`, "error");
  await loadRules();
}

// ---------------------------------------------------------------------------------------------
// CSV: the API reads and writes the 12-column table (docs/rules.md section 1.2) with the core

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function reportRefused(fileName, result) {
  const errors = result.data.errors ?? [];
  const where = ({ line, column }) =>
    [line === undefined ? undefined : `line ${line}`, column].filter((part) => part !== undefined).join(", ");
  $("import-report").replaceChildren(
    element("h3", { textContent: `Import of ${fileName} refused, nothing changed: ${failure(result)}` }),
    element(
      "ul",
      {},
      ...errors.map((issue) =>
        element("li", {
          className: "error",
          textContent: where(issue) === "" ? issue.message : `${where(issue)}: ${issue.message}`,
        }),
      ),
    ),
  );
  setStatus(`${fileName} is not imported.`, "error");
}

/**
 * Makes the file the whole rule set, as `pia rules push` does, in one change set (all or nothing).
 * A dry run first says which rules it would delete, for the user to confirm.
 */
async function importCsv(text, fileName) {
  setStatus(`Checking ${fileName}…`);
  const dry = await callApi("POST", "rules/import", { body: { csv: text, dryRun: true } });
  if (!dry.ok) return reportRefused(fileName, dry);
  const { deleted } = dry.data;
  if (
    deleted.length > 0 &&
    !window.confirm(
      `Importing ${fileName} makes it the whole rule set: it deletes ${plural(deleted.length, "rule")} the file does not have (${deleted.join(", ")}). Import it?`,
    )
  ) {
    setStatus(`Nothing imported from ${fileName}.`);
    return;
  }
  const result = await callApi("POST", "rules/import", { body: { csv: text } });
  if (!result.ok) return reportRefused(fileName, result);
  const outcome = result.data;
  const kinds = ["created", "updated", "deleted", "unchanged"];
  $("import-report").replaceChildren(
    element("h3", {
      textContent: `Import of ${fileName}: ${kinds.map((kind) => `${outcome[kind].length} ${kind}`).join(", ")}`,
    }),
    element(
      "ul",
      {},
      ...kinds.flatMap((kind) => outcome[kind].map((id) => element("li", { textContent: `${id}: ${kind}` }))),
      ...outcome.warnings.map(({ line, column, message }) =>
        element("li", {
          className: "warning",
          textContent: `warning: ${line === undefined ? "" : `line ${line}, `}${column === undefined ? "" : `${column}: `}${message}`,
        }),
      ),
    ),
  );
  setStatus(`Imported ${fileName}.`);
  await loadRules();
}

async function exportCsv() {
  const result = await callApi("GET", "rules/export");
  if (!result.ok) {
    setStatus(`Could not export the rules: ${failure(result)}`, "error");
    return;
  }
  const { csv, fileName, leftOut, disabled } = result.data;
  const link = element("a", {
    href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })),
    download: fileName,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  const rows = csv.split("\r\n").filter((line) => line !== "").length - 1;
  setStatus(
    [
      `Exported ${plural(rows, "rule")} to ${fileName}.`,
      ...(leftOut.length === 0
        ? []
        : [
            `Left out, because the 12-column table cannot say them: ${leftOut.map(({ id, reason }) => `${id} (${reason})`).join("; ")}. Use pia rules list --json.`,
          ]),
      ...(disabled.length === 0
        ? []
        : [
            `The table has no column for disabled: ${disabled.length} disabled rules are rows like any other.`,
          ]),
    ].join(" "),
    leftOut.length === 0 ? "info" : "error",
  );
}

// ---------------------------------------------------------------------------------------------
// Wiring

for (const id of ["window-from", "window-to", "window-last"]) {
  const input = $(id);
  input.addEventListener("blur", () => run(() => checkWindowField(input)));
  input.addEventListener("input", () => clearIssue(input));
  $(`${id}-picker`)?.addEventListener("change", (event) => {
    input.value = event.target.value;
    run(() => checkWindowField(input));
  });
}
$("window-unit").addEventListener("change", () => run(() => checkWindowField($("window-last"))));
form.addEventListener("input", () => {
  suggestActionName();
  // A preview is of the rule as it was: an edit makes it stale.
  $("preview-result").replaceChildren();
});
form.addEventListener("change", updateForm);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  run(save);
});
$("add-filter").addEventListener("click", () => addFilter());
$("check").addEventListener("click", () => run(check));
$("explain-form").addEventListener("submit", (event) => {
  event.preventDefault();
  run(explainUser);
});
$("explain-user").addEventListener("input", () => clearIssue($("explain-user")));
$("preview").addEventListener("click", () => run(preview));
$("cancel").addEventListener("click", () => {
  $("editor").hidden = true;
});
$("new-rule").addEventListener("click", () => openForm(undefined));
$("export-csv").addEventListener("click", () => run(exportCsv));
$("import-csv").addEventListener("change", (event) => {
  const [file] = event.target.files;
  event.target.value = "";
  if (file !== undefined) run(async () => importCsv(await file.text(), file.name));
});

/** Runs an action; a failure to reach the API is told in the status line. */
async function run(action) {
  try {
    await action();
  } catch (error) {
    setStatus(
      `Could not reach the rules API: ${error instanceof Error ? error.message : String(error)}`,
      "error",
    );
  }
}

$("sign-in").addEventListener("click", () => run(() => startSignIn(signIn)));

run(async () => {
  try {
    await setUpSignIn();
  } catch (error) {
    if (!(error instanceof SignInError)) throw error;
    setStatus(`Not signed in: ${error.message}`, "error");
    return;
  }
  await loadSchema();
  await loadRules();
});
