/** A field of a rule (`action.type`, `where.product`; empty for the rule as a whole) and what is wrong with it. */
export interface FieldIssue {
  readonly path: string;
  readonly message: string;
}

/** The draft is not a valid canonical rule (docs/rules.md section 1.1); every error is listed. */
export class InvalidRuleError extends Error {
  override readonly name = "InvalidRuleError";
  constructor(
    readonly errors: readonly FieldIssue[],
    readonly warnings: readonly FieldIssue[] = [],
    options?: ErrorOptions,
  ) {
    super(
      `the rule is invalid: fix every error listed\n${errors.map((e) => `  ${e.path === "" ? "" : `${e.path}: `}${e.message}`).join("\n")}`,
      options,
    );
  }
}

/** An imported file with invalid rows; every error is listed with its line and column, nothing is written. */
export class InvalidRulesFileError extends Error {
  override readonly name = "InvalidRulesFileError";
  constructor(
    readonly errors: readonly { line?: number; column?: string; ruleId?: string; message: string }[],
    readonly warnings: readonly { line?: number; column?: string; ruleId?: string; message: string }[] = [],
    options?: ErrorOptions,
  ) {
    super(
      `the file has ${errors.length} invalid ${errors.length === 1 ? "entry" : "entries"}; nothing was imported: fix every error listed and import it again`,
      options,
    );
  }
}

/** No rule (or no such version of it) has this id. */
export class RuleNotFoundError extends Error {
  override readonly name = "RuleNotFoundError";
  constructor(
    readonly ruleId: string,
    readonly version?: number,
  ) {
    super(
      version === undefined
        ? `there is no rule ${JSON.stringify(ruleId)}: check the id (GET /rules lists them)`
        : `rule ${JSON.stringify(ruleId)} has no version ${version}: GET /rules/{id}/versions lists them`,
    );
  }
}

/** A create for an id that is taken. */
export class RuleExistsError extends Error {
  override readonly name = "RuleExistsError";
  constructor(readonly ruleId: string) {
    super(
      `rule ${JSON.stringify(ruleId)} exists already: change it with PUT /rules/{id}, or pick another id`,
    );
  }
}

/**
 * The rule is not at the version the change was made from: someone changed it since it was read
 * (`current` is its version now), or while this change was being written (`current` unknown).
 */
export class RuleVersionConflictError extends Error {
  override readonly name = "RuleVersionConflictError";
  constructor(
    readonly ruleId: string,
    readonly expected: number | undefined,
    readonly current: number | undefined,
    options?: ErrorOptions,
  ) {
    super(
      current === undefined
        ? `rule ${JSON.stringify(ruleId)} changed while this change was being written: read it again, redo the change and send it with the new version`
        : `rule ${JSON.stringify(ruleId)} is at version ${current}, not ${expected}: read it again, redo the change and send it with If-Match: "${current}"`,
      options,
    );
  }
}

/** A change set (an import) met a rule that changed since it was read; nothing of it was written. */
export class RuleSetConflictError extends Error {
  override readonly name = "RuleSetConflictError";
  constructor(
    readonly ruleIds: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      `a rule changed while the import was being written (one of ${ruleIds.map((id) => JSON.stringify(id)).join(", ")}); nothing was imported: import the file again`,
      options,
    );
  }
}

/** A replacement sent without the version it was made from. */
export class VersionRequiredError extends Error {
  override readonly name = "VersionRequiredError";
  constructor(readonly ruleId: string) {
    super(
      `say which version of rule ${JSON.stringify(ruleId)} this change replaces: send If-Match: "<version>" (or "version": <version> in the body), the version GET /rules/{id} gave`,
    );
  }
}

/** A request the API cannot read: bad JSON, a bad If-Match, a version that is not a number... */
export class BadRequestError extends Error {
  override readonly name = "BadRequestError";
}

/** Previews read the events table's `byTypeDay` index, which this stage does not offer. */
export class PreviewUnavailableError extends Error {
  override readonly name = "PreviewUnavailableError";
  constructor(options?: ErrorOptions) {
    super(
      "preview needs the events table's byTypeDay index: set EVENTS_TABLE, and deploy ingest with PIA_PREVIEW_INDEX=true",
      options,
    );
  }
}

/** `POST /rules/{id}/explain` on a function that was not given the events and counters tables. */
export class ExplainUnavailableError extends Error {
  override readonly name = "ExplainUnavailableError";
  constructor() {
    super(
      "explaining a user needs the events and counters tables: set EVENTS_TABLE and COUNTERS_TABLE (deployed, compose passes them)",
    );
  }
}
