// The rules editor: a page over the rules API (services/rules/README.md), no framework, no build.
// Every request goes to a path relative to the page, so the page works wherever the API serves it.
// User text only ever reaches the page as textContent.

/** The 12-column table's header and its optional 13th column (packages/core CSV_COLUMNS). */
const CSV_COLUMNS = [
  "RuleType",
  "EventName",
  "AttributeName",
  "AttributeValue",
  "Operator-C",
  "Target-C",
  "Operator-V",
  "Target-V",
  "ResetWhenReachTarget",
  "StartDate",
  "FinishDate",
  "Key",
  "MetricName",
];
const NO_DATE = "9999-99-99";
const OPERATORS = [
  ["", "na: no condition"],
  [">", "> more than"],
  [">=", "≥ at least"],
  ["=", "= exactly"],
  ["<", "< fewer than"],
  ["<=", "≤ at most"],
];
const OPERATOR_OF_WORD = { na: null, greater: ">", equal: "=", smaller: "<", less: "<" };
const WORD_OF_OPERATOR = { ">": "greater", "=": "equal", "<": "smaller" };
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
  action: "action-type",
  "action.type": "action-type",
  "action.name": "action-name",
  "action.value": "action-value",
  "action.sink": "action-sink",
  reset: "reset-target",
  enabled: "enabled",
};
/** The CSV column a problem with a rule field is told in (packages/core COLUMN_OF_FIELD). */
const COLUMN_OF_PATH = {
  id: "Key",
  event: "EventName",
  where: "AttributeValue",
  count: "Operator-C",
  "count.op": "Operator-C",
  "count.value": "Target-C",
  sum: "Operator-V",
  "sum.op": "Operator-V",
  "sum.value": "Target-V",
  "sum.metric": "MetricName",
  window: "StartDate",
  "window.from": "StartDate",
  "window.to": "FinishDate",
  "action.name": "EventName",
  "action.value": "AttributeValue",
  reset: "ResetWhenReachTarget",
};

const $ = (id) => document.getElementById(id);
const form = $("rule-form");
/** The rules as GET /rules gave them; the rule being edited (`undefined`: a new one). */
const state = { rules: [], editing: undefined, filters: 0 };

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

// ---------------------------------------------------------------------------------------------
// The API

// A deployed API with a JWT authorizer (e.g. a Cognito user pool): sign in through the provider's
// hosted page with `response_type=token` and this page as the redirect; the token comes back in
// the URL fragment, is kept for the tab's session, and is sent as a Bearer token.
const TOKEN_KEY = "pia.token";

function takeToken() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get("id_token") ?? fragment.get("access_token");
  if (token !== null) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const token = takeToken();

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
  return { status: response.status, ok: response.ok, data };
}

const rulePath = (id, rest = "") => `rules/${encodeURIComponent(id)}${rest}`;
const failure = (result) =>
  result.status === 401 || result.status === 403
    ? "not signed in: open this page through your sign-in page (see the README's Deploy section)"
    : (result.data.message ?? `the API answered HTTP ${result.status}`);

function setStatus(text, kind = "info") {
  const status = $("status");
  status.textContent = text;
  status.className = kind;
}

// ---------------------------------------------------------------------------------------------
// Dates: strict YYYY-MM-DD, real calendar dates only (docs/rules.md section 1.2)

const MONTHS = "January February March April May June July August September October November December";

function daysInMonth(year, month) {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** What is wrong with a date as typed, or `undefined` for a real date written YYYY-MM-DD. */
function dateProblem(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match === null) return `"${text}" is not a date: write it as YYYY-MM-DD, e.g. 2021-02-28`;
  const [year, month, day] = match.slice(1).map(Number);
  if (month < 1 || month > 12) return `"${text}" is not a real date: there is no month ${match[2]}`;
  const days = daysInMonth(year, month);
  if (day < 1 || day > days) {
    return `"${text}" is not a real date: ${MONTHS.split(" ")[month - 1]} ${year} has ${days} days`;
  }
  return undefined;
}

/** Checks a date field as typed; true when it is empty or a real date. */
function checkDate(input) {
  const picker = $(`${input.id}-picker`);
  const problem = input.value === "" ? undefined : dateProblem(input.value);
  picker.value = problem === undefined ? input.value : "";
  clearIssue(input);
  if (problem !== undefined) showIssue(input, problem);
  return problem === undefined;
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

/** The action name the 12-column table would give (docs/rules.md section 1.2): the default. */
function derivedActionName() {
  const filters = filtersOf();
  const base = filters.length === 1 ? `${$("event").value}_${filters[0][1]}` : $("event").value;
  if ($("rule-type").value === "date") return `trk_date_${base}`;
  return $("action-type").value === "event" ? `trk_${base}` : base;
}

function suggestActionName() {
  $("action-name").placeholder = derivedActionName();
}

/** Enables the fields that apply to the rule type and action type. */
function updateForm() {
  const dated = $("rule-type").value === "date";
  for (const id of ["window-from", "window-to", "window-from-picker", "window-to-picker"])
    $(id).disabled = !dated;
  $("reset-target").disabled = dated;
  $("action-value").disabled = $("action-type").value !== "attribute";
  for (const kind of ["count", "sum"]) $(`${kind}-value`).disabled = $(`${kind}-op`).value === "";
  $("sum-metric").disabled = $("sum-op").value === "";
  suggestActionName();
}

function fillForm(rule) {
  $("rule-id").value = rule.id;
  $("rule-type").value = rule.window === undefined ? "aggregator" : "date";
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
  state.editing = stored === undefined ? undefined : { id: stored.rule.id, version: stored.version };
  form.reset();
  clearIssues();
  $("preview-result").replaceChildren();
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

/** A number when the text is one (count targets are numbers); else the text, for the API to explain. */
const numberOrText = (text) => (/^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text);

/** The canonical rule the form says (docs/rules.md section 1.1). */
function draftOf() {
  const where = filtersOf();
  const countOp = $("count-op").value;
  const sumOp = $("sum-op").value;
  const metric = $("sum-metric").value;
  const type = $("action-type").value;
  const name = $("action-name").value === "" ? derivedActionName() : $("action-name").value;
  const sink = $("action-sink").value;
  const dated = $("rule-type").value === "date";
  return {
    id: $("rule-id").value,
    event: $("event").value,
    ...(where.length === 0 ? {} : { where: Object.fromEntries(where) }),
    ...(countOp === "" ? {} : { count: { op: countOp, value: numberOrText($("count-value").value) } }),
    ...(sumOp === ""
      ? {}
      : { sum: { ...(metric === "" ? {} : { metric }), op: sumOp, value: $("sum-value").value } }),
    ...(dated ? { window: { from: $("window-from").value, to: $("window-to").value } } : {}),
    action: {
      type,
      name,
      ...(type === "attribute"
        ? { value: $("action-value").value === "" ? "Ready" : $("action-value").value }
        : {}),
      ...(sink === "" ? {} : { sink }),
    },
    reset: !dated && $("reset-target").checked,
    enabled: $("enabled").checked,
  };
}

/** Clears the issues and checks what the page can check itself (dates); false when that fails. */
function checkForm() {
  clearIssues();
  if ($("rule-type").value !== "date") return true;
  return [checkDate($("window-from")), checkDate($("window-to"))].every(Boolean);
}

async function save() {
  if (!checkForm()) return;
  const draft = draftOf();
  const editing = state.editing;
  const result =
    editing === undefined
      ? await callApi("POST", "rules", { body: draft })
      : await callApi("PUT", rulePath(editing.id), { body: draft, version: editing.version });
  if (result.ok) {
    const stored = result.data;
    state.editing = { id: stored.rule.id, version: stored.version };
    fillForm(stored.rule);
    $("rule-id").readOnly = true;
    $("form-heading").textContent = `Rule ${stored.rule.id} (version ${stored.version})`;
    showIssues([], stored.warnings);
    setStatus(`Saved ${stored.rule.id} (version ${stored.version}).`);
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
  if (!checkForm()) return;
  const result = await callApi("POST", "rules/validate", { body: draftOf() });
  if (result.ok) {
    $("form-error").append(element("p", { className: "ok", textContent: "The rule is valid." }));
    showIssues([], result.data.warnings);
  } else showIssues(result.data.errors ?? [{ path: "", message: failure(result) }], result.data.warnings);
}

async function preview() {
  const panel = $("preview-result");
  panel.replaceChildren();
  if (!checkForm()) return;
  panel.append(element("p", { textContent: "Previewing…" }));
  const result = await callApi("POST", "rules/preview", { body: draftOf() });
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
  const { qualifying, sample = [], usersSeen, eventsRead, from, to, truncated } = result.data;
  const count = (n) => Number(n).toLocaleString("en-US");
  panel.append(
    element(
      "p",
      { className: "qualifying" },
      element("strong", { textContent: count(qualifying) }),
      ` user${qualifying === 1 ? "" : "s"} would qualify today`,
    ),
    element("p", {
      textContent: `Events from ${from} to ${to}: ${count(eventsRead)} events read, ${count(usersSeen)} users seen.`,
    }),
  );
  if (truncated) {
    panel.append(
      element("p", {
        className: "warning",
        textContent: "Only part of the events were read (the preview's limit): the real number may differ.",
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
// The list

/** One line that says what a rule does. */
function summaryOf(rule) {
  const where = Object.entries(rule.where ?? {}).map(([name, value]) => `${name} = ${value}`);
  const conditions = [
    ...(rule.count === undefined ? [] : [`count ${rule.count.op} ${rule.count.value}`]),
    ...(rule.sum === undefined
      ? []
      : [`sum of ${rule.sum.metric ?? "first metric"} ${rule.sum.op} ${rule.sum.value}`]),
  ];
  const when = rule.window === undefined ? "lifetime" : `${rule.window.from} to ${rule.window.to}`;
  const action =
    rule.action.type === "attribute"
      ? `set ${rule.action.name} = ${rule.action.value}`
      : `fire ${rule.action.name}${rule.reset ? " each time" : ""}`;
  const sink = rule.action.sink === undefined ? "" : ` (${rule.action.sink})`;
  return `${rule.event}${where.length === 0 ? "" : ` where ${where.join(" and ")}`}: ${conditions.join(" and ")}, ${when} → ${action}${sink}`;
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
    element("td", { textContent: summaryOf(rule) }),
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
// CSV: the 12-column table (docs/rules.md section 1.2)

/** RFC 4180 rows, each with the file line it starts on; a BOM is ignored. */
function parseCsv(text) {
  const rows = [];
  let cells = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  const source = text.replace(/^\uFEFF/, "");
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quoted) {
      if (c === '"' && source[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === "\n") line++;
        cell += c;
      }
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      cells.push(cell);
      cell = "";
    } else if (c === "\r" || c === "\n") {
      if (c === "\r" && source[i + 1] === "\n") i++;
      cells.push(cell);
      rows.push({ cells, line: rowLine });
      cells = [];
      cell = "";
      line++;
      rowLine = line;
    } else cell += c;
  }
  if (cell !== "" || cells.length > 0) rows.push({ cells: [...cells, cell], line: rowLine });
  return rows;
}

/** A row as a canonical rule, mapped as packages/core maps it; or the problems the page can tell. */
function ruleOfRow(cells, id) {
  const problems = [];
  const [type, event, attributeName, attributeValue, opC, targetC, opV, targetV, resetWord, from, to] = cells;
  if (cells.length < 12) {
    return { problems: [`the row has ${cells.length} cells but the table needs 12 (RuleType to Key)`] };
  }
  const kind = type.toLowerCase();
  if (kind !== "aggregator" && kind !== "date")
    problems.push(`RuleType: use aggregator or date, not "${type}"`);
  const operator = (column, word) => {
    const op = OPERATOR_OF_WORD[word.toLowerCase()];
    if (op === undefined) problems.push(`${column}: use na, greater, equal, smaller or less, not "${word}"`);
    return op ?? null;
  };
  const countOp = operator("Operator-C", opC);
  const sumOp = operator("Operator-V", opV);
  if (kind === "aggregator") {
    for (const [column, value] of [
      ["StartDate", from],
      ["FinishDate", to],
    ]) {
      if (value !== "" && value !== NO_DATE)
        problems.push(`${column}: an aggregator rule takes no dates (or use date)`);
    }
    if (!["yes", "no"].includes(resetWord.toLowerCase())) {
      problems.push(`ResetWhenReachTarget: write yes or no, not "${resetWord}"`);
    }
  }
  if (problems.length > 0) return { problems };
  const filtered = attributeName.toLowerCase() !== "na";
  const metric =
    cells[12] === undefined || cells[12] === "" || cells[12].toLowerCase() === "na" ? undefined : cells[12];
  const reset = resetWord.toLowerCase() === "yes";
  const name = filtered ? `${event}_${attributeValue}` : event;
  return {
    rule: {
      id,
      event,
      ...(filtered ? { where: { [attributeName]: attributeValue } } : {}),
      ...(countOp === null ? {} : { count: { op: countOp, value: numberOrText(targetC) } }),
      ...(sumOp === null
        ? {}
        : { sum: { ...(metric === undefined ? {} : { metric }), op: sumOp, value: targetV } }),
      ...(kind === "date" ? { window: { from, to } } : {}),
      action:
        kind === "date"
          ? { type: "attribute", name: `trk_date_${name}`, value: "Ready" }
          : reset
            ? { type: "event", name: `trk_${name}` }
            : { type: "attribute", name, value: "Ready" },
      reset,
      enabled: true,
    },
  };
}

/** Creates the rule, or replaces the rule of that id; what happened, with the API's issues. */
async function importRule(rule) {
  let result = await callApi("POST", "rules", { body: rule });
  if (result.status === 201) return { outcome: "created", result };
  if (result.status === 409) {
    const current = await callApi("GET", rulePath(rule.id));
    if (current.ok) {
      result = await callApi("PUT", rulePath(rule.id), { body: rule, version: current.data.version });
      if (result.ok)
        return { outcome: result.data.version === current.data.version ? "unchanged" : "updated", result };
    }
  }
  return { outcome: "failed", result };
}

const columnOf = (path) => COLUMN_OF_PATH[path] ?? (path.startsWith("where.") ? "AttributeName" : path);
const toldInColumns = (issues = []) =>
  issues.map(({ path, message }) => (path === "" ? message : `${columnOf(path)}: ${message}`));

async function importCsv(text, fileName) {
  const rows = parseCsv(text)
    .slice(1)
    .map((row) => ({ ...row, cells: row.cells.map((cell) => cell.trim()) }))
    .filter((row) => row.cells.some((cell) => cell !== ""));
  // Rule ids as packages/core gives them: the Key (else RuleType+EventName), #2, #3... for repeats.
  const seen = new Map();
  const report = [];
  const tally = { created: 0, updated: 0, unchanged: 0, failed: 0 };
  setStatus(`Importing ${rows.length} rows of ${fileName}…`);
  for (const { cells, line } of rows) {
    const base = cells[11] ? cells[11] : `${(cells[0] ?? "").toLowerCase()}${cells[1] ?? ""}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    const id = n === 1 ? base : `${base}#${n}`;
    const mapped = ruleOfRow(cells, id);
    let outcome = "failed";
    let notes = mapped.problems ?? [];
    if (mapped.rule !== undefined) {
      const saved = await importRule(mapped.rule);
      outcome = saved.outcome;
      const { errors, warnings, message } = saved.result.data;
      notes =
        outcome === "failed"
          ? errors === undefined
            ? [message ?? `HTTP ${saved.result.status}`]
            : toldInColumns(errors)
          : toldInColumns(warnings).map((warning) => `warning: ${warning}`);
    }
    tally[outcome] += 1;
    report.push(
      element(
        "li",
        { className: outcome === "failed" ? "error" : "" },
        `line ${line} (${id}): ${outcome}`,
        ...notes.map((note) => element("div", { textContent: note })),
      ),
    );
  }
  $("import-report").replaceChildren(
    element("h3", {
      textContent: `Import of ${fileName}: ${tally.created} created, ${tally.updated} updated, ${tally.unchanged} unchanged, ${tally.failed} failed`,
    }),
    element("ul", {}, ...report),
  );
  setStatus(`Imported ${fileName}.`, tally.failed > 0 ? "error" : "info");
  await loadRules();
}

/** A rule as a row of the 12-column table, or why the table cannot say it. */
function rowOfRule(rule) {
  const where = Object.entries(rule.where ?? {});
  if (where.length > 1) return "it has more than one attribute filter";
  const [filter] = where;
  if (filter !== undefined && (filter[0].toLowerCase() === "na" || filter[0] === "" || filter[1] === "")) {
    return "its attribute filter cannot be written in the table";
  }
  const word = (condition) => (condition === undefined ? "na" : WORD_OF_OPERATOR[condition.op]);
  const [countWord, sumWord] = [word(rule.count), word(rule.sum)];
  if (countWord === undefined || sumWord === undefined)
    return "it uses ≥ or ≤, which the table has no words for";
  if (rule.sum?.metric?.toLowerCase() === "na") return 'its metric is named "na"';
  const dated = rule.window !== undefined;
  const name = filter === undefined ? rule.event : `${rule.event}_${filter[1]}`;
  const derived = dated
    ? { type: "attribute", name: `trk_date_${name}`, value: "Ready" }
    : rule.reset
      ? { type: "event", name: `trk_${name}` }
      : { type: "attribute", name, value: "Ready" };
  const { action } = rule;
  if (action.sink !== undefined) return `it sends to the ${action.sink} sink, which the table cannot say`;
  if (action.type !== derived.type || action.name !== derived.name || action.value !== derived.value) {
    return `its action (${action.type} ${action.name}) is not the one the table derives (${derived.type} ${derived.name})`;
  }
  const cells = [
    dated ? "date" : "aggregator",
    rule.event,
    filter?.[0] ?? "na",
    filter?.[1] ?? "999",
    countWord,
    rule.count === undefined ? "999" : String(rule.count.value),
    sumWord,
    rule.sum === undefined ? "999" : String(rule.sum.value),
    rule.reset ? "yes" : "no",
    rule.window?.from ?? NO_DATE,
    rule.window?.to ?? NO_DATE,
    rule.id,
    rule.sum?.metric ?? "na",
  ];
  if (cells.some((cell) => cell.trim() !== cell))
    return "a name starts or ends with a space, which the table trims";
  return cells;
}

const csvCell = (text) => (/[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

async function exportCsv() {
  if (!(await loadRules())) return;
  const rows = [];
  const left = [];
  for (const { rule } of state.rules) {
    const row = rowOfRule(rule);
    if (typeof row === "string") left.push(`${rule.id} (${row})`);
    else rows.push(row);
  }
  const text = `${[CSV_COLUMNS, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n")}\r\n`;
  const link = element("a", {
    href: URL.createObjectURL(new Blob([text], { type: "text/csv" })),
    download: "rules.csv",
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  const disabled = state.rules.filter(({ rule }) => !rule.enabled).length;
  setStatus(
    [
      `Exported ${rows.length} rule${rows.length === 1 ? "" : "s"} to rules.csv.`,
      ...(left.length === 0
        ? []
        : [
            `Left out, because the 12-column table cannot say them: ${left.join("; ")}. Use pia rules list --json.`,
          ]),
      ...(disabled === 0
        ? []
        : [`The table has no column for disabled: ${disabled} disabled rules are rows like any other.`]),
    ].join(" "),
    left.length === 0 ? "info" : "error",
  );
}

// ---------------------------------------------------------------------------------------------
// Wiring

for (const select of document.querySelectorAll("select.op")) {
  select.append(...OPERATORS.map(([value, text]) => element("option", { value, textContent: text })));
}
for (const id of ["window-from", "window-to"]) {
  const input = $(id);
  input.addEventListener("blur", () => checkDate(input));
  input.addEventListener("input", () => {
    if (input.value.length >= 10) checkDate(input);
    else clearIssue(input);
  });
  $(`${id}-picker`).addEventListener("change", (event) => {
    input.value = event.target.value;
    checkDate(input);
  });
}
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

run(loadRules);
