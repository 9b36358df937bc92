import {
  type CustomerProfilesClient,
  PutProfileObjectCommand,
  SearchProfilesCommand,
  UpdateProfileCommand,
} from "@aws-sdk/client-customer-profiles";
import { type NotificationMessage, type RetryOptions, retryUnprocessed } from "@pia/aws";
import type { DeliveryResult, Sink } from "../ports.js";
import { toProfileObject } from "../profiles/objectType.js";
import { describeSdkError, type SdkError } from "./sdkError.js";

export interface CustomerProfilesSinkConfig extends RetryOptions {
  /** The Customer Profiles domain. */
  readonly domainName: string;
  /**
   * The search key that holds the user id: the PROFILE key of pia's object type, named as the key
   * the app's own profiles are found by, so that one user has one profile.
   */
  readonly keyName: string;
  /** pia's object type (`profilesObjectTypeDefinition`), which notifications are put as. */
  readonly objectTypeName: string;
}

/** Customer Profiles' limits on attribute keys and values, and search values (characters). */
export const MAX_PROFILE_TEXT = 255;
/** Customer Profiles' limit on a profile object (PutProfileObject's `Object`, characters). */
export const MAX_PROFILE_OBJECT = 256_000;

/** Errors that can never succeed as sent (beyond these, any other 4xx but 429). */
const PERMANENT_ERRORS = new Set([
  "BadRequestException",
  "ResourceNotFoundException",
  "AccessDeniedException",
]);

/** Errors that say "slow down" or "try later" (beyond 429, 5xx and errors without an AWS answer). */
const TRANSIENT_ERRORS = new Set(["ThrottlingException", "InternalServerException", "TimeoutError"]);

function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  if (PERMANENT_ERRORS.has(error.name)) return false;
  const sdk = error as SdkError;
  if (TRANSIENT_ERRORS.has(error.name) || sdk.$retryable !== undefined) return true;
  const status = sdk.$metadata?.httpStatusCode;
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  return sdk.$fault !== "client" && (status === undefined || status < 400);
}

type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly status: "retry" | "permanent"; readonly error: string };

/** What the lookup of one user's profile found: its id, or none yet. */
type Lookup = Outcome<string | undefined>;

/** Why a notification can never be written as it is, or undefined. No user id or value in it. */
function checkLimits(message: NotificationMessage, object: string): string | undefined {
  const { notification } = message;
  if (notification.userId.length > MAX_PROFILE_TEXT)
    return `the user id is longer than ${MAX_PROFILE_TEXT} characters, Customer Profiles' limit on a search value`;
  if (object.length > MAX_PROFILE_OBJECT)
    return `the notification's profile object is longer than ${MAX_PROFILE_OBJECT} characters, Customer Profiles' limit`;
  if (notification.type !== "attribute") return undefined;
  if (notification.name.length > MAX_PROFILE_TEXT)
    return `the attribute name is longer than ${MAX_PROFILE_TEXT} characters, Customer Profiles' limit on attribute keys`;
  if (notification.value === undefined) return "an attribute notification without a value";
  if (notification.value.length > MAX_PROFILE_TEXT)
    return `the attribute value is longer than ${MAX_PROFILE_TEXT} characters, Customer Profiles' limit on attribute values`;
  return undefined;
}

/**
 * Applies notifications to Amazon Connect Customer Profiles, Pinpoint's successor for user data,
 * through pia's object type (`../profiles/objectType.ts`: a PROFILE key `keyName` on the user id, a
 * UNIQUE key on the notification id, profile creation allowed):
 *
 * - an event action: PutProfileObject puts the notification as an object of `objectTypeName`
 *   (`toProfileObject`). Customer Profiles ties it to the profile the key finds, or creates one; an
 *   event trigger on the type can start a Connect outbound campaign. No search is needed.
 * - an attribute action: SearchProfiles on `keyName` finds the profile, and UpdateProfile sets
 *   `Attributes: { [name]: value }` on it. `value: ""` (a rolling window's exit) removes the
 *   attribute: UpdateProfile removes a value given as an empty string; a user without a profile
 *   then has nothing to remove, and none is created. A user without a profile first gets one: the
 *   notification is put as an object (which creates the profile, or merges onto the one another
 *   writer created meanwhile: the PROFILE key keeps one profile per user id), then the profile is
 *   searched again. Not found yet is `retry`; more than one profile for the key is `permanent` (the
 *   key must identify one profile; the sink will not guess which). Lookups are made once per user
 *   per `deliver` call.
 *
 * Customer Profiles' limits are checked before any call, each a `permanent` error: attribute
 * names and values, and the user id (a search value), at most 255 characters; an object at most
 * 256,000. Throttling (`ThrottlingException`, HTTP 429) and 5xx are tried again after exponential
 * backoff with full jitter, at most `maxAttempts` calls each, then answered `retry`.
 * `BadRequestException`, `ResourceNotFoundException`, `AccessDeniedException` and other 4xx are
 * `permanent`. Users are handled `concurrency` at a time (default 4), each user's notifications in
 * batch order. Errors carry AWS error codes and HTTP statuses only, never a user id, a value or
 * AWS's message.
 */
export function buildCustomerProfilesSink(
  client: CustomerProfilesClient,
  config: CustomerProfilesSinkConfig,
): Sink {
  const keyName = config.keyName;
  const concurrency = Math.max(1, config.concurrency ?? 4);

  /** Runs `operation`, trying it again after a backoff while it fails transiently. */
  async function call<T>(what: string, operation: () => Promise<T>): Promise<Outcome<T>> {
    let outcome: Outcome<T> | undefined;
    let reason = `Customer Profiles ${what} did not succeed`;
    await retryUnprocessed(
      [what],
      async (pending) => {
        try {
          outcome = { ok: true, value: await operation() };
          return [];
        } catch (error: unknown) {
          reason = `Customer Profiles ${what} failed: ${describeSdkError(error)}`;
          if (!isTransient(error)) {
            outcome = { ok: false, status: "permanent", error: reason };
            return [];
          }
          return pending;
        }
      },
      config,
    );
    return outcome ?? { ok: false, status: "retry", error: `${reason}; retries exhausted` };
  }

  async function findProfile(userId: string): Promise<Lookup> {
    const found = await call("SearchProfiles", () =>
      client.send(
        new SearchProfilesCommand({
          DomainName: config.domainName,
          KeyName: keyName,
          Values: [userId],
          MaxResults: 2,
        }),
      ),
    );
    if (!found.ok) return found;
    const ids = (found.value.Items ?? []).flatMap(({ ProfileId }) =>
      ProfileId === undefined ? [] : [ProfileId],
    );
    if (ids.length > 1 || found.value.NextToken !== undefined) {
      return {
        ok: false,
        status: "permanent",
        error: `more than one profile for the user under key ${keyName} (the key must identify one profile)`,
      };
    }
    return { ok: true, value: ids[0] };
  }

  function putObject(object: string): Promise<Outcome<unknown>> {
    return call("PutProfileObject", () =>
      client.send(
        new PutProfileObjectCommand({
          DomainName: config.domainName,
          ObjectTypeName: config.objectTypeName,
          Object: object,
        }),
      ),
    );
  }

  /** The user's profile, created through the object type when there is none. */
  async function profileFor(userId: string, object: string, lookup: Lookup): Promise<Lookup> {
    if (!lookup.ok || lookup.value !== undefined) return lookup;
    const put = await putObject(object);
    if (!put.ok) return put;
    const again = await findProfile(userId);
    if (again.ok && again.value === undefined) {
      return {
        ok: false,
        status: "retry",
        error: `the profile created for the user is not found under key ${keyName} yet`,
      };
    }
    return again;
  }

  async function deliverUser(
    userId: string,
    messages: readonly NotificationMessage[],
    results: Map<string, DeliveryResult>,
  ): Promise<void> {
    let lookup: Lookup | undefined;
    for (const message of messages) {
      const { id, notification } = message;
      const object = JSON.stringify(toProfileObject(message));
      const refused = checkLimits(message, object);
      if (refused !== undefined) {
        results.set(id, { id, status: "permanent", error: refused });
        continue;
      }
      let outcome: Outcome<unknown>;
      if (notification.type === "event") {
        outcome = await putObject(object);
      } else {
        const value = notification.value ?? "";
        lookup ??= await findProfile(userId);
        if (lookup.ok && lookup.value === undefined && value === "") {
          // Removing an attribute from a user without a profile: there is nothing to remove.
          results.set(id, { id, status: "delivered" });
          continue;
        }
        lookup = await profileFor(userId, object, lookup);
        const profileId = lookup.ok ? lookup.value : undefined;
        if (!lookup.ok || profileId === undefined) {
          outcome = lookup.ok ? { ok: false, status: "retry", error: "no profile for the user" } : lookup;
          // A transient failure is not kept: the user's next notification tries again.
          if (!lookup.ok && lookup.status === "retry") lookup = undefined;
        } else {
          outcome = await call("UpdateProfile", () =>
            client.send(
              new UpdateProfileCommand({
                DomainName: config.domainName,
                ProfileId: profileId,
                Attributes: { [notification.name]: value },
              }),
            ),
          );
        }
      }
      results.set(
        id,
        outcome.ok ? { id, status: "delivered" } : { id, status: outcome.status, error: outcome.error },
      );
    }
  }

  return {
    name: "customer-profiles",
    async deliver(batch) {
      const byUser = new Map<string, NotificationMessage[]>();
      for (const message of batch) {
        const messages = byUser.get(message.notification.userId);
        if (messages === undefined) byUser.set(message.notification.userId, [message]);
        else messages.push(message);
      }
      const results = new Map<string, DeliveryResult>();
      const users = [...byUser.entries()];
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let index = next++; index < users.length; index = next++) {
          const entry = users[index];
          if (entry !== undefined) await deliverUser(entry[0], entry[1], results);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, worker));
      return batch.map(
        ({ id }) =>
          results.get(id) ?? { id, status: "retry", error: "Customer Profiles sink lost the result" },
      );
    },
  };
}
