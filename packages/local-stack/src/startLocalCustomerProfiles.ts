import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { trackHttpServer } from "./trackHttpServer.js";

/**
 * A running stand-in for the Amazon Connect Customer Profiles REST API, for the calls pia makes
 * (domains, object types, profile objects, search, create and update profile), driven by the real
 * `@aws-sdk/client-customer-profiles` through `endpoint` (`AWS_ENDPOINT_URL_CUSTOMER_PROFILES`).
 * It keeps everything in memory and checks what the API reference states; see the README for what
 * is the stand-in's own choice where the reference is silent.
 */
export interface LocalCustomerProfiles {
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  /** From now on every `every`th request answers HTTP 429 `ThrottlingException` (0: none). */
  throttleEvery(every: number): void;
  /** Requests answered, by operation (`SearchProfiles`, …), and how many of them were throttled. */
  requests(): { readonly byOperation: Readonly<Record<string, number>>; readonly throttled: number };
  /** The profiles of a domain, oldest first (empty when there is no such domain). */
  profiles(domainName: string): readonly ProfileSnapshot[];
  /** The objects of one type in a domain, in the order they were first put. */
  objects(domainName: string, objectTypeName: string): readonly ObjectSnapshot[];
  /** Closes the server and its connections; idempotent. */
  stop(): Promise<void>;
}

export interface ProfileSnapshot {
  readonly profileId: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** The key values that find this profile (SearchProfiles), by key name. */
  readonly keys: Readonly<Record<string, readonly string[]>>;
}

export interface ObjectSnapshot {
  readonly profileId: string;
  readonly object: Readonly<Record<string, unknown>>;
}

interface ObjectTypeField {
  readonly Source?: string;
  readonly Target?: string;
  readonly ContentType?: string;
}
interface ObjectTypeKey {
  readonly StandardIdentifiers?: readonly string[];
  readonly FieldNames?: readonly string[];
}
interface ObjectType {
  readonly ObjectTypeName: string;
  readonly Description: string;
  readonly AllowProfileCreation: boolean;
  readonly Fields: Readonly<Record<string, ObjectTypeField>>;
  readonly Keys: Readonly<Record<string, readonly ObjectTypeKey[]>>;
  readonly ExpirationDays?: number;
  readonly CreatedAt: number;
  LastUpdatedAt: number;
}
interface Profile {
  readonly id: string;
  readonly attributes: Map<string, string>;
  readonly fields: Map<string, string>;
}
interface Domain {
  readonly name: string;
  readonly createdAt: number;
  readonly defaultExpirationDays: number;
  readonly objectTypes: Map<string, ObjectType>;
  /** Insertion order is creation order. */
  readonly profiles: Map<string, Profile>;
  /** key name -> key value -> profile ids. */
  readonly keyIndex: Map<string, Map<string, Set<string>>>;
  /** object type -> the object's unique key value (or a generated one) -> the object. */
  readonly objects: Map<string, Map<string, { profileId: string; object: Record<string, unknown> }>>;
}

/** An answer in the API's error shape: the `x-amzn-ErrorType` header and `{"Message"}`. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}
const badRequest = (message: string) => new ApiError(400, "BadRequestException", message);
const notFound = (message: string) => new ApiError(404, "ResourceNotFoundException", message);

/** The API reference's patterns and lengths for names. */
const DOMAIN_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const OBJECT_TYPE_NAME = /^[a-zA-Z_][a-zA-Z_0-9-]{0,254}$/;
const KEY_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const STANDARD_IDENTIFIERS = new Set([
  "PROFILE",
  "ASSET",
  "CASE",
  "ORDER",
  "UNIQUE",
  "SECONDARY",
  "LOOKUP_ONLY",
  "NEW_ONLY",
  "COMMUNICATION_RECORD",
]);
const CONTENT_TYPES = new Set(["STRING", "NUMBER", "PHONE_NUMBER", "EMAIL_ADDRESS", "NAME"]);
/** The search keys every domain has (SearchProfiles' reference), beyond those object types define. */
const PREDEFINED_KEYS = new Set(
  "_account _profileId _assetId _caseId _orderId _fullName _phone _email _ctrContactId _marketoLeadId _salesforceAccountId _salesforceContactId _salesforceAssetId _zendeskUserId _zendeskExternalId _zendeskTicketId _serviceNowSystemId _serviceNowIncidentId _segmentUserId _shopifyCustomerId _shopifyOrderId".split(
    " ",
  ),
);
/** Standard profile fields the predefined keys search. */
const STANDARD_KEY_FIELDS: Readonly<Record<string, readonly string[]>> = {
  _account: ["AccountNumber"],
  _email: ["EmailAddress", "PersonalEmailAddress", "BusinessEmailAddress"],
  _phone: ["PhoneNumber", "MobilePhoneNumber", "HomePhoneNumber", "BusinessPhoneNumber"],
};
const MAX_ATTRIBUTE_LENGTH = 255;
const MAX_OBJECT_LENGTH = 256_000;
const MAX_BODY_BYTES = 1024 * 1024;

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(body: Json, member: string, required: true): string;
function text(body: Json, member: string, required?: false): string | undefined;
function text(body: Json, member: string, required = false): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) {
    if (required) throw badRequest(`${member} is required`);
    return undefined;
  }
  if (typeof value !== "string") throw badRequest(`${member} must be a string`);
  return value;
}

function checkAttributes(value: unknown): Map<string, string> {
  const attributes = new Map<string, string>();
  if (value === undefined || value === null) return attributes;
  if (!isRecord(value)) throw badRequest("Attributes must be a map of strings");
  for (const [key, item] of Object.entries(value)) {
    if (key.length < 1 || key.length > MAX_ATTRIBUTE_LENGTH)
      throw badRequest(`attribute keys are 1 to ${MAX_ATTRIBUTE_LENGTH} characters`);
    if (typeof item !== "string" || item.length > MAX_ATTRIBUTE_LENGTH)
      throw badRequest(`attribute values are strings of at most ${MAX_ATTRIBUTE_LENGTH} characters`);
    attributes.set(key, item);
  }
  return attributes;
}

/** The top-level string fields of a profile (FirstName, EmailAddress, AccountNumber, …). */
function profileFields(body: Json): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [name, value] of Object.entries(body)) {
    if (name === "DomainName" || name === "ProfileId" || typeof value !== "string") continue;
    if (value.length > MAX_ATTRIBUTE_LENGTH)
      throw badRequest(`${name} is at most ${MAX_ATTRIBUTE_LENGTH} characters`);
    fields.set(name, value);
  }
  return fields;
}

function checkObjectType(name: string, body: Json, now: number, previous?: ObjectType): ObjectType {
  if (!OBJECT_TYPE_NAME.test(name)) throw badRequest("ObjectTypeName must match ^[a-zA-Z_][a-zA-Z_0-9-]*$");
  const description = text(body, "Description", true);
  if (description.length < 1 || description.length > 10_000)
    throw badRequest("Description is 1 to 10000 characters");
  if (body.TemplateId !== undefined && body.TemplateId !== null)
    throw badRequest("this stand-in does not know the object type templates: give Fields and Keys");
  const fields = body.Fields ?? {};
  const keys = body.Keys ?? {};
  if (!isRecord(fields) || !isRecord(keys)) throw badRequest("Fields and Keys must be maps");
  for (const [fieldName, field] of Object.entries(fields)) {
    if (!isRecord(field)) throw badRequest(`field ${fieldName} must be an ObjectTypeField`);
    const source = field.Source;
    if (typeof source !== "string" || !source.startsWith("_source."))
      throw badRequest(`field ${fieldName}: Source must be _source.<name>`);
    if (
      field.Target !== undefined &&
      (typeof field.Target !== "string" || !field.Target.startsWith("_profile."))
    )
      throw badRequest(`field ${fieldName}: Target must be _profile.<name>`);
    if (field.ContentType !== undefined && !CONTENT_TYPES.has(String(field.ContentType)))
      throw badRequest(`field ${fieldName}: unknown ContentType`);
  }
  let unique = 0;
  for (const [keyName, list] of Object.entries(keys)) {
    if (!KEY_NAME.test(keyName)) throw badRequest(`key ${keyName}: key names match ^[a-zA-Z0-9_-]+$`);
    if (!Array.isArray(list) || list.length === 0) throw badRequest(`key ${keyName} must be a list`);
    for (const key of list as unknown[]) {
      if (!isRecord(key)) throw badRequest(`key ${keyName} must hold ObjectTypeKeys`);
      const identifiers = (key.StandardIdentifiers ?? []) as unknown[];
      const fieldNames = (key.FieldNames ?? []) as unknown[];
      for (const identifier of identifiers)
        if (!STANDARD_IDENTIFIERS.has(String(identifier)))
          throw badRequest(`key ${keyName}: unknown StandardIdentifier`);
      if (fieldNames.length === 0) throw badRequest(`key ${keyName} names no field`);
      for (const fieldName of fieldNames)
        if (typeof fieldName !== "string" || !(fieldName in fields))
          throw badRequest(`key ${keyName} names a field the object type does not define`);
      if (identifiers.includes("UNIQUE")) unique++;
    }
  }
  if (unique > 1) throw badRequest("an object type has at most one UNIQUE key");
  const expiration = body.ExpirationDays;
  if (
    expiration !== undefined &&
    expiration !== null &&
    (typeof expiration !== "number" || expiration < 1 || expiration > 1098)
  )
    throw badRequest("ExpirationDays is 1 to 1098");
  return {
    ObjectTypeName: name,
    Description: description,
    AllowProfileCreation: body.AllowProfileCreation === true,
    Fields: fields as Record<string, ObjectTypeField>,
    Keys: keys as Record<string, ObjectTypeKey[]>,
    ...(typeof expiration === "number" ? { ExpirationDays: expiration } : {}),
    CreatedAt: previous?.CreatedAt ?? now,
    LastUpdatedAt: now,
  };
}

/** The object's value at a field's `_source.a.b` path, as text; undefined when absent. */
function sourceValue(object: Json, field: ObjectTypeField | undefined): string | undefined {
  let value: unknown = object;
  for (const part of (field?.Source ?? "").split(".").slice(1)) {
    if (!isRecord(value) || !Object.hasOwn(value, part)) return undefined;
    value = value[part];
  }
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
}

function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** The REST API over one in-memory state. */
function buildApi() {
  const domains = new Map<string, Domain>();

  function domain(name: string): Domain {
    const found = domains.get(name);
    if (found === undefined) throw notFound(`domain ${name} does not exist`);
    return found;
  }

  function objectType(d: Domain, name: string): ObjectType {
    const found = d.objectTypes.get(name);
    if (found === undefined) throw notFound(`object type ${name} does not exist in domain ${d.name}`);
    return found;
  }

  function keyDefined(d: Domain, keyName: string): boolean {
    return PREDEFINED_KEYS.has(keyName) || [...d.objectTypes.values()].some((type) => keyName in type.Keys);
  }

  function index(d: Domain, keyName: string, value: string, profileId: string): void {
    const values = d.keyIndex.get(keyName) ?? new Map<string, Set<string>>();
    d.keyIndex.set(keyName, values);
    const ids = values.get(value) ?? new Set<string>();
    values.set(value, ids);
    ids.add(profileId);
  }

  function createProfile(d: Domain): Profile {
    const profile: Profile = {
      id: randomUUID().replaceAll("-", ""),
      attributes: new Map(),
      fields: new Map(),
    };
    d.profiles.set(profile.id, profile);
    return profile;
  }

  function search(d: Domain, keyName: string, value: string): string[] {
    if (keyName === "_profileId") return d.profiles.has(value) ? [value] : [];
    const ids = new Set(d.keyIndex.get(keyName)?.get(value) ?? []);
    for (const field of STANDARD_KEY_FIELDS[keyName] ?? [])
      for (const profile of d.profiles.values()) if (profile.fields.get(field) === value) ids.add(profile.id);
    // Oldest first, as profiles were created.
    return [...d.profiles.keys()].filter((id) => ids.has(id));
  }

  function describeProfile(profile: Profile): Json {
    return {
      ProfileId: profile.id,
      ...Object.fromEntries(profile.fields),
      Attributes: Object.fromEntries(profile.attributes),
    };
  }

  function putProfileObject(d: Domain, body: Json): Json {
    const type = objectType(d, text(body, "ObjectTypeName", true));
    const raw = text(body, "Object", true);
    if (raw.length < 1 || raw.length > MAX_OBJECT_LENGTH)
      throw badRequest(`Object is 1 to ${MAX_OBJECT_LENGTH} characters`);
    let object: unknown;
    try {
      object = JSON.parse(raw);
    } catch {
      throw badRequest("Object is not JSON");
    }
    if (!isRecord(object)) throw badRequest("Object must be a JSON object");
    const profileKeys: [string, string][] = [];
    let unique: string | undefined;
    for (const [keyName, list] of Object.entries(type.Keys)) {
      for (const key of list) {
        const values = (key.FieldNames ?? []).map((name) => sourceValue(object, type.Fields[name]));
        if (values.some((value) => value === undefined || value === "")) continue;
        const value = values.join("_");
        const identifiers = key.StandardIdentifiers ?? [];
        if (identifiers.includes("UNIQUE")) unique = value;
        if (identifiers.includes("PROFILE")) profileKeys.push([keyName, value]);
      }
    }
    const stored = d.objects.get(type.ObjectTypeName) ?? new Map();
    d.objects.set(type.ObjectTypeName, stored);
    const previous = unique === undefined ? undefined : stored.get(unique);
    const matches = new Set<string>(previous === undefined ? [] : [previous.profileId]);
    for (const [keyName, value] of profileKeys) for (const id of search(d, keyName, value)) matches.add(id);
    const [oldest] = [...d.profiles.keys()].filter((id) => matches.has(id));
    let profile = oldest === undefined ? undefined : d.profiles.get(oldest);
    if (profile === undefined) {
      if (!type.AllowProfileCreation)
        throw badRequest(
          "no profile matches the object's PROFILE keys, and the object type does not allow profile creation",
        );
      profile = createProfile(d);
    }
    for (const [keyName, value] of profileKeys) index(d, keyName, value, profile.id);
    for (const field of Object.values(type.Fields)) {
      const value = sourceValue(object, field);
      const target = field.Target?.slice("_profile.".length);
      if (value === undefined || target === undefined || value.length > MAX_ATTRIBUTE_LENGTH) continue;
      if (target.startsWith("Attributes.")) profile.attributes.set(target.slice("Attributes.".length), value);
      else profile.fields.set(target, value);
    }
    const uniqueKey = unique ?? randomUUID();
    // A UNIQUE key's value replaces the object that had it (Map.set keeps its first position).
    stored.set(uniqueKey, { profileId: profile.id, object });
    return { ProfileObjectUniqueKey: Buffer.from(`${type.ObjectTypeName}/${uniqueKey}`).toString("base64") };
  }

  /** Answers one request: the operation's name for the tally, and its status and body. */
  function route(method: string, path: string[], query: URLSearchParams, body: Json): [string, Json] {
    const [root, domainName, collection, item, extra] = path;
    if (root !== "domains" || domainName === undefined || extra !== undefined)
      throw new ApiError(404, "UnknownOperationException", "no such operation");
    const now = Date.now();
    if (collection === undefined) {
      if (method === "GET") {
        const d = domain(domainName);
        return [
          "GetDomain",
          {
            DomainName: d.name,
            DefaultExpirationDays: d.defaultExpirationDays,
            Stats: { ProfileCount: d.profiles.size },
            CreatedAt: epochSeconds(d.createdAt),
            LastUpdatedAt: epochSeconds(d.createdAt),
          },
        ];
      }
      if (method === "POST") {
        if (!DOMAIN_NAME.test(domainName)) throw badRequest("DomainName must match ^[a-zA-Z0-9_-]+$");
        if (domains.has(domainName)) throw badRequest(`domain ${domainName} already exists`);
        const days = body.DefaultExpirationDays;
        if (typeof days !== "number" || days < 1 || days > 1098)
          throw badRequest("DefaultExpirationDays is required, 1 to 1098");
        domains.set(domainName, {
          name: domainName,
          createdAt: now,
          defaultExpirationDays: days,
          objectTypes: new Map(),
          profiles: new Map(),
          keyIndex: new Map(),
          objects: new Map(),
        });
        return [
          "CreateDomain",
          {
            DomainName: domainName,
            DefaultExpirationDays: days,
            CreatedAt: epochSeconds(now),
            LastUpdatedAt: epochSeconds(now),
          },
        ];
      }
    }
    const d = domain(domainName);
    if (collection === "object-types" && item === undefined && method === "GET") {
      const max = Number(query.get("max-results") ?? 100);
      if (!Number.isInteger(max) || max < 1 || max > 100) throw badRequest("max-results is 1 to 100");
      const start = Number(query.get("next-token") ?? 0);
      const types = [...d.objectTypes.values()];
      const page = types.slice(start, start + max);
      return [
        "ListProfileObjectTypes",
        {
          Items: page.map((type) => ({
            ObjectTypeName: type.ObjectTypeName,
            Description: type.Description,
            CreatedAt: epochSeconds(type.CreatedAt),
            LastUpdatedAt: epochSeconds(type.LastUpdatedAt),
          })),
          ...(start + max < types.length ? { NextToken: String(start + max) } : {}),
        },
      ];
    }
    if (collection === "object-types" && item !== undefined) {
      if (method === "GET") {
        const type = objectType(d, item);
        return [
          "GetProfileObjectType",
          {
            ...type,
            CreatedAt: epochSeconds(type.CreatedAt),
            LastUpdatedAt: epochSeconds(type.LastUpdatedAt),
          },
        ];
      }
      if (method === "PUT") {
        const type = checkObjectType(item, body, now, d.objectTypes.get(item));
        d.objectTypes.set(item, type);
        return [
          "PutProfileObjectType",
          {
            ...type,
            CreatedAt: epochSeconds(type.CreatedAt),
            LastUpdatedAt: epochSeconds(type.LastUpdatedAt),
          },
        ];
      }
    }
    if (collection === "profiles" && item === undefined) {
      if (method === "POST") {
        const attributes = checkAttributes(body.Attributes);
        const profile = createProfile(d);
        for (const [name, value] of profileFields(body)) if (value !== "") profile.fields.set(name, value);
        for (const [name, value] of attributes) if (value !== "") profile.attributes.set(name, value);
        return ["CreateProfile", { ProfileId: profile.id }];
      }
      if (method === "PUT") {
        const profileId = text(body, "ProfileId", true);
        const attributes = checkAttributes(body.Attributes);
        const fields = profileFields(body);
        const profile = d.profiles.get(profileId);
        if (profile === undefined) throw notFound("the profile does not exist");
        // UpdateProfile: an empty string removes the value; a member left out keeps it.
        for (const [name, value] of fields)
          if (value === "") profile.fields.delete(name);
          else profile.fields.set(name, value);
        for (const [name, value] of attributes)
          if (value === "") profile.attributes.delete(name);
          else profile.attributes.set(name, value);
        return ["UpdateProfile", { ProfileId: profile.id }];
      }
    }
    if (collection === "profiles" && item === "objects" && method === "PUT")
      return ["PutProfileObject", putProfileObject(d, body)];
    if (collection === "profiles" && item === "search" && method === "POST") {
      const keyName = text(body, "KeyName", true);
      if (!KEY_NAME.test(keyName)) throw badRequest("KeyName must match ^[a-zA-Z0-9_-]+$");
      if (!keyDefined(d, keyName))
        throw badRequest(`key ${keyName} is not a search key of the domain (no object type defines it)`);
      const values = body.Values;
      if (!Array.isArray(values) || values.length === 0) throw badRequest("Values is required");
      for (const value of values as unknown[])
        if (typeof value !== "string" || value.length < 1 || value.length > MAX_ATTRIBUTE_LENGTH)
          throw badRequest(`each value is 1 to ${MAX_ATTRIBUTE_LENGTH} characters`);
      const max = Number(query.get("max-results") ?? 20);
      if (!Number.isInteger(max) || max < 1 || max > 100) throw badRequest("max-results is 1 to 100");
      const ids = new Set((values as string[]).flatMap((value) => search(d, keyName, value)));
      const start = Number(query.get("next-token") ?? 0);
      const found = [...ids];
      return [
        "SearchProfiles",
        {
          Items: found.slice(start, start + max).map((id) => describeProfile(d.profiles.get(id) as Profile)),
          ...(start + max < found.length ? { NextToken: String(start + max) } : {}),
        },
      ];
    }
    throw new ApiError(404, "UnknownOperationException", "no such operation");
  }

  return { domains, route };
}

async function readBody(request: IncomingMessage): Promise<Json> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, "BadRequestException", "request too large");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw badRequest("the request body is not JSON");
  }
  if (!isRecord(body)) throw badRequest("the request body must be a JSON object");
  return body;
}

function send(response: ServerResponse, status: number, body: Json, errorType?: string): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    "x-amzn-requestid": randomUUID(),
    ...(errorType === undefined ? {} : { "x-amzn-errortype": errorType }),
  });
  response.end(payload);
}

/** Starts the stand-in on a free port of 127.0.0.1 (never another interface). */
export async function startLocalCustomerProfiles(
  options: { readonly throttleEvery?: number } = {},
): Promise<LocalCustomerProfiles> {
  const api = buildApi();
  const byOperation: Record<string, number> = {};
  let throttleEvery = options.throttleEvery ?? 0;
  let received = 0;
  let throttled = 0;

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const path = url.pathname
      .split("/")
      .filter((part) => part !== "")
      .map((part) => decodeURIComponent(part));
    readBody(request)
      .then((body) => {
        received++;
        if (throttleEvery > 0 && received % throttleEvery === 0) {
          throttled++;
          throw new ApiError(429, "ThrottlingException", "Rate exceeded");
        }
        const [operation, answer] = api.route(request.method ?? "GET", path, url.searchParams, body);
        byOperation[operation] = (byOperation[operation] ?? 0) + 1;
        send(response, 200, answer);
      })
      .catch((error: unknown) => {
        if (error instanceof ApiError) send(response, error.status, { Message: error.message }, error.type);
        else send(response, 500, { Message: "internal error" }, "InternalServerException");
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const tracked = trackHttpServer(server, "Customer Profiles");

  return {
    endpoint: tracked.endpoint,
    throttleEvery(every) {
      throttleEvery = every;
      received = 0;
    },
    requests: () => ({ byOperation: { ...byOperation }, throttled }),
    profiles(domainName) {
      const d = api.domains.get(domainName);
      if (d === undefined) return [];
      return [...d.profiles.values()].map((profile) => {
        const keys: Record<string, string[]> = {};
        for (const [keyName, values] of d.keyIndex)
          for (const [value, ids] of values)
            if (ids.has(profile.id)) keys[keyName] = [...(keys[keyName] ?? []), value];
        return { profileId: profile.id, attributes: Object.fromEntries(profile.attributes), keys };
      });
    },
    objects(domainName, objectTypeName) {
      const stored = api.domains.get(domainName)?.objects.get(objectTypeName);
      return [...(stored?.values() ?? [])].map(({ profileId, object }) => ({ profileId, object }));
    },
    stop: tracked.stop,
  };
}
