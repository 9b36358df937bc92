import type { Template } from "./readTemplate.js";
import { PLACEHOLDER_ACCOUNT } from "./services.js";

/** The pseudo parameters CloudFormation fills in, as the template tests assume them. */
const PSEUDO: Readonly<Record<string, string>> = {
  "AWS::Partition": "aws",
  "AWS::Region": "us-east-1",
  "AWS::AccountId": PLACEHOLDER_ACCOUNT,
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether a named condition holds, for the literal values the package was made with. */
export function conditionHolds(template: Template, name: string): boolean {
  const definition = template.Conditions?.[name];
  if (definition === undefined) throw new Error(`no condition ${name}`);
  return evaluateCondition(template, definition);
}

function evaluateCondition(template: Template, node: unknown): boolean {
  if (!isRecord(node)) throw new Error(`not a condition: ${JSON.stringify(node)}`);
  if (typeof node.Condition === "string") return conditionHolds(template, node.Condition);
  const [[fn, args] = []] = Object.entries(node);
  const list = Array.isArray(args) ? args : [];
  switch (fn) {
    case "Fn::Equals":
      return resolve(template, list[0]) === resolve(template, list[1]);
    case "Fn::Not":
      return !evaluateCondition(template, list[0]);
    case "Fn::And":
      return list.every((item) => evaluateCondition(template, item));
    case "Fn::Or":
      return list.some((item) => evaluateCondition(template, item));
    default:
      throw new Error(`unsupported condition function ${String(fn)}`);
  }
}

/**
 * A value with its intrinsic functions worked out as far as a test needs: pseudo parameters
 * filled in, `Fn::If` decided, `Fn::Join` and `Fn::Sub` joined, and references to the template's
 * own resources written `own:<LogicalId>` (their ARNs and names exist only once deployed).
 */
export function resolve(template: Template, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => resolve(template, item));
  if (!isRecord(value)) return value;
  if (value.Ref === "AWS::NoValue") return undefined;
  if (typeof value.Ref === "string") return PSEUDO[value.Ref] ?? own(template, value.Ref);
  const getAtt = value["Fn::GetAtt"];
  if (Array.isArray(getAtt) && typeof getAtt[0] === "string") return own(template, getAtt[0]);
  const ifArgs = value["Fn::If"];
  if (Array.isArray(ifArgs) && typeof ifArgs[0] === "string") {
    return resolve(template, conditionHolds(template, ifArgs[0]) ? ifArgs[1] : ifArgs[2]);
  }
  const join = value["Fn::Join"];
  if (Array.isArray(join) && typeof join[0] === "string" && Array.isArray(join[1])) {
    return join[1].map((part) => String(resolve(template, part))).join(join[0]);
  }
  const sub = value["Fn::Sub"];
  if (typeof sub === "string") {
    return sub.replace(/\$\{([^}]+)\}/g, (_, name: string) => PSEUDO[name] ?? own(template, name));
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(template, item)]));
}

function own(template: Template, logicalId: string): string {
  if (!(logicalId in template.Resources))
    throw new Error(`reference to ${logicalId}, which the template does not define`);
  return `own:${logicalId}`;
}

export interface Statement {
  readonly Effect: string;
  readonly Action: readonly string[];
  readonly Resource: readonly string[];
  /** The policy it is part of, for messages. */
  readonly source: string;
}

function toStatements(template: Template, document: unknown, source: string): Statement[] {
  const resolved = resolve(template, document) as { Statement?: unknown[] };
  return (resolved.Statement ?? []).map((raw) => {
    const statement = raw as { Effect: string; Action: string | string[]; Resource?: string | string[] };
    const list = (value: string | string[] | undefined) => (value === undefined ? [] : [value].flat());
    return {
      Effect: statement.Effect,
      Action: list(statement.Action),
      Resource: list(statement.Resource),
      source,
    };
  });
}

/**
 * Every statement that applies to a role, for the stage as packaged: its inline policies and the
 * `AWS::IAM::Policy` resources attached to it whose condition holds.
 */
export function roleStatements(template: Template, roleId: string): Statement[] {
  const role = template.Resources[roleId];
  if (role?.Type !== "AWS::IAM::Role") throw new Error(`${roleId} is not a role`);
  const inline = (
    (role.Properties?.Policies as Array<{ PolicyName: unknown; PolicyDocument: unknown }>) ?? []
  ).flatMap((policy) => toStatements(template, policy.PolicyDocument, `${roleId} inline policy`));
  const attached = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === "AWS::IAM::Policy")
    .filter(
      ([, resource]) => resource.Condition === undefined || conditionHolds(template, resource.Condition),
    )
    .filter(([, resource]) => JSON.stringify(resource.Properties?.Roles ?? []).includes(`"${roleId}"`))
    .flatMap(([id, resource]) => toStatements(template, resource.Properties?.PolicyDocument, id));
  return [...inline, ...attached];
}

/** The resources of a type that the stage creates (their condition, if any, holds). */
export function resourcesOfType(template: Template, type: string): Array<[string, Record<string, unknown>]> {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === type)
    .filter(
      ([, resource]) => resource.Condition === undefined || conditionHolds(template, resource.Condition),
    )
    .map(([id, resource]) => [id, resolve(template, resource.Properties ?? {}) as Record<string, unknown>]);
}
