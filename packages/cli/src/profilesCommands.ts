import {
  CustomerProfilesClient,
  GetDomainCommand,
  GetProfileObjectTypeCommand,
  type GetProfileObjectTypeResponse,
  ListProfileObjectTypesCommand,
  PutProfileObjectTypeCommand,
} from "@aws-sdk/client-customer-profiles";
import {
  DEFAULT_PROFILES_OBJECT_TYPE,
  PROFILES_KEY_PATTERN,
  PROFILES_OBJECT_TYPE_PATTERN,
  PROFILES_UNIQUE_KEY,
  type ProfilesObjectTypeDefinition,
  profilesObjectTypeDefinition,
} from "@pia/notifier";
import { UsageError } from "./errors.js";
import { ProfilesError } from "./ProfilesError.js";
import { DEFAULT_REGION, type Env } from "./resolveRulesTarget.js";

export interface ProfilesSetupFlags {
  readonly domain: string;
  readonly key: string;
  readonly objectType?: string;
  readonly region?: string;
  readonly endpoint?: string;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "unknown error";
}

type Keys = NonNullable<GetProfileObjectTypeResponse["Keys"]>;

/** `a,b` of a key's identifiers and fields, order-free, for comparing two definitions. */
function describeKey(list: Keys[string] | undefined): string {
  return (list ?? [])
    .map(
      (key) =>
        `${[...(key.StandardIdentifiers ?? [])].sort().join("+")} on ${[...(key.FieldNames ?? [])].sort().join("+")}`,
    )
    .sort()
    .join("; ");
}

/** What in `existing` differs from what pia needs, or an empty list when it will do. */
function differences(existing: GetProfileObjectTypeResponse, wanted: ProfilesObjectTypeDefinition): string[] {
  const found: string[] = [];
  if (existing.AllowProfileCreation !== true) found.push("AllowProfileCreation is not true");
  if (existing.TemplateId !== undefined) found.push(`it is based on the template ${existing.TemplateId}`);
  const keys = existing.Keys ?? {};
  const names = new Set([...Object.keys(keys), ...Object.keys(wanted.Keys)]);
  for (const name of [...names].sort()) {
    const have = describeKey(keys[name]);
    const want = describeKey(wanted.Keys[name]);
    if (have !== want)
      found.push(
        `key ${name} is ${have === "" ? "missing" : have}${want === "" ? " (pia defines no such key)" : `, pia needs ${want}`}`,
      );
  }
  for (const [name, field] of Object.entries(wanted.Fields)) {
    const have = existing.Fields?.[name];
    if (have?.Source !== field.Source || (have.ContentType ?? "STRING") !== field.ContentType)
      found.push(`field ${name} is not ${field.Source} (${field.ContentType})`);
  }
  return found;
}

/**
 * `pia profiles setup`: creates pia's object type on an existing domain, or finds it there as pia
 * needs it. Refuses (exit 2, `UsageError`) a domain that does not exist, an object type of that
 * name with another definition, and a key name that another object type of the domain defines
 * with another meaning (`--key` without PROFILE; pia's UNIQUE key without UNIQUE), because pia's
 * objects would then not land on the profiles the key finds. Changes nothing when the type is already there.
 */
export async function setupProfiles(
  flags: ProfilesSetupFlags,
  env: Env,
  out: NodeJS.WritableStream,
): Promise<"created" | "found"> {
  const objectTypeName = flags.objectType ?? DEFAULT_PROFILES_OBJECT_TYPE;
  const problems: string[] = [];
  if (!PROFILES_KEY_PATTERN.test(flags.key) || flags.key === PROFILES_UNIQUE_KEY)
    problems.push(
      `--key ${JSON.stringify(flags.key)}: a key name is 1-64 letters, digits, "_" or "-", and not ${PROFILES_UNIQUE_KEY} (pia's own UNIQUE key)`,
    );
  if (!PROFILES_OBJECT_TYPE_PATTERN.test(objectTypeName))
    problems.push(
      `--object-type ${JSON.stringify(objectTypeName)}: starts with a letter or "_", then letters, digits, "_" or "-"`,
    );
  if (problems.length > 0) throw new UsageError(problems.join("; "));
  const region = flags.region ?? env.AWS_REGION ?? DEFAULT_REGION;
  const client = new CustomerProfilesClient({
    region,
    ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
  });
  const DomainName = flags.domain;
  const wanted = profilesObjectTypeDefinition(flags.key);
  const call = async <T>(what: string, send: () => Promise<T>): Promise<T> => {
    try {
      return await send();
    } catch (error: unknown) {
      throw new ProfilesError(
        `Customer Profiles ${what} failed in region ${region}: ${errorName(error)}; check the credentials, the network, --region or AWS_ENDPOINT_URL_CUSTOMER_PROFILES`,
        { cause: error },
      );
    }
  };
  try {
    try {
      await client.send(new GetDomainCommand({ DomainName }));
    } catch (error: unknown) {
      if (errorName(error) === "ResourceNotFoundException")
        throw new UsageError(
          `no Customer Profiles domain ${DomainName} in region ${region}: create it first (aws customer-profiles create-domain --domain-name ${DomainName} --default-expiration-days 366), or check --region`,
        );
      throw new ProfilesError(
        `Customer Profiles GetDomain failed in region ${region}: ${errorName(error)}; check the credentials, the network, --region or AWS_ENDPOINT_URL_CUSTOMER_PROFILES`,
        { cause: error },
      );
    }

    // Key names are the domain's: another type's key of the same name must mean the same thing.
    const others: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await call("ListProfileObjectTypes", () =>
        client.send(
          new ListProfileObjectTypesCommand({
            DomainName,
            ...(NextToken === undefined ? {} : { NextToken }),
          }),
        ),
      );
      for (const item of page.Items ?? [])
        if (item.ObjectTypeName !== undefined && item.ObjectTypeName !== objectTypeName)
          others.push(item.ObjectTypeName);
      NextToken = page.NextToken;
    } while (NextToken !== undefined);
    const sharing: string[] = [];
    for (const other of others) {
      const type = await call("GetProfileObjectType", () =>
        client.send(new GetProfileObjectTypeCommand({ DomainName, ObjectTypeName: other })),
      );
      for (const name of [flags.key, PROFILES_UNIQUE_KEY]) {
        const key = type.Keys?.[name];
        if (key === undefined) continue;
        const identifiers = key.flatMap((entry) => entry.StandardIdentifiers ?? []);
        const meaning = name === flags.key ? "PROFILE" : "UNIQUE";
        if (!identifiers.includes(meaning))
          throw new UsageError(
            `object type ${other} of domain ${DomainName} defines key ${name} as ${identifiers.join("+") || "no identifier"}, not as a ${meaning} key: pia's objects would not land on the profiles it finds; ${name === flags.key ? "give --key the key your profiles are found by" : "remove that key from it"}`,
          );
        if (name === flags.key) sharing.push(other);
      }
    }

    let existing: GetProfileObjectTypeResponse | undefined;
    try {
      existing = await client.send(
        new GetProfileObjectTypeCommand({ DomainName, ObjectTypeName: objectTypeName }),
      );
    } catch (error: unknown) {
      if (errorName(error) !== "ResourceNotFoundException")
        throw new ProfilesError(
          `Customer Profiles GetProfileObjectType failed in region ${region}: ${errorName(error)}`,
          {
            cause: error,
          },
        );
    }
    const summary = `PROFILE key ${flags.key} on userId, UNIQUE key ${PROFILES_UNIQUE_KEY} on id, profile creation allowed`;
    const shared =
      sharing.length === 0
        ? `no other object type defines key ${flags.key}: a user gets a profile of pia's own unless your profiles get that key too`
        : `key ${flags.key} is also defined by ${sharing.join(", ")}: pia's objects land on those profiles`;
    if (existing !== undefined) {
      const found = differences(existing, wanted);
      if (found.length > 0)
        throw new UsageError(
          `object type ${objectTypeName} exists in domain ${DomainName} with another definition (${found.join("; ")}): pia changes no type it did not create as it is; choose another --object-type, or delete that type if nothing else uses it`,
        );
      out.write(
        `found object type ${objectTypeName} in domain ${DomainName} as pia needs it (${summary}); nothing changed\n${shared}\n`,
      );
      return "found";
    }
    await call("PutProfileObjectType", () =>
      client.send(new PutProfileObjectTypeCommand({ DomainName, ObjectTypeName: objectTypeName, ...wanted })),
    );
    out.write(`created object type ${objectTypeName} in domain ${DomainName} (${summary})\n${shared}\n`);
    return "created";
  } finally {
    client.destroy();
  }
}
