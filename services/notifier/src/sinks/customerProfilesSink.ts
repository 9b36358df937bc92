import {
  type CustomerProfilesClient,
  PutProfileObjectCommand,
  SearchProfilesCommand,
  UpdateProfileCommand,
} from "@aws-sdk/client-customer-profiles";
import { type NotificationMessage, type RetryOptions, retryUnprocessed } from "@pia/aws";
import type { DeliveryResult, Sink } from "../ports.js";
import { describeSdkError, type SdkError } from "./sdkError.js";

export interface CustomerProfilesSinkConfig extends RetryOptions {
  /** The Customer Profiles domain. */
  readonly domainName: string;
  /**
   * The search key that holds the user id (default `userId`). It must be a key of the domain (a
   * standard one such as `_email`, or one an object type defines) that identifies one profile.
   */
  readonly keyName?: string;
  /** The object type that event actions are put as (PutProfileObject). */
  readonly objectTypeName: string;
}

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

/** What the lookup of one user's profile found (kept for the rest of the `deliver` call). */
type Lookup = Outcome<string>;

/**
 * Applies notifications to Amazon Connect Customer Profiles, Pinpoint's successor for user data:
 *
 * - the user's profile is found with SearchProfiles (`keyName` = the user id); no profile is
 *   `permanent` ("no profile for the user under key …"), and so is more than one (the key must
 *   identify one profile; the sink will not guess which). Lookups are made once per user per
 *   `deliver` call.
 * - an attribute action: UpdateProfile sets `Attributes: { [name]: value }` on that profile.
 * - an event action: PutProfileObject puts an object of type `objectTypeName`:
 *   `{"profileId","userId","eventName","ruleId","at","id"}` (`id` is the same for every send of one
 *   firing: an object type keyed on it makes a repeated put overwrite, not add).
 *
 * Throttling (`ThrottlingException`, HTTP 429) and 5xx are tried again after exponential backoff
 * with full jitter, at most `maxAttempts` calls each, then answered `retry`. `BadRequestException`,
 * `ResourceNotFoundException`, `AccessDeniedException` and other 4xx are `permanent`. Users are
 * handled `concurrency` at a time (default 4), each user's notifications in batch order. Errors
 * carry AWS error codes and HTTP statuses only, never a user id, a value or AWS's message.
 */
export function buildCustomerProfilesSink(
  client: CustomerProfilesClient,
  config: CustomerProfilesSinkConfig,
): Sink {
  const keyName = config.keyName ?? "userId";
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
    const [profileId] = ids;
    if (profileId === undefined) {
      return { ok: false, status: "permanent", error: `no profile for the user under key ${keyName}` };
    }
    if (ids.length > 1 || found.value.NextToken !== undefined) {
      return {
        ok: false,
        status: "permanent",
        error: `more than one profile for the user under key ${keyName} (the key must identify one profile)`,
      };
    }
    return { ok: true, value: profileId };
  }

  async function apply(message: NotificationMessage, profileId: string): Promise<DeliveryResult> {
    const { id, notification } = message;
    let outcome: Outcome<unknown>;
    if (notification.type === "attribute") {
      const value = notification.value;
      if (value === undefined)
        return { id, status: "permanent", error: "an attribute notification without a value" };
      outcome = await call("UpdateProfile", () =>
        client.send(
          new UpdateProfileCommand({
            DomainName: config.domainName,
            ProfileId: profileId,
            Attributes: { [notification.name]: value },
          }),
        ),
      );
    } else {
      const object = {
        profileId,
        userId: notification.userId,
        eventName: notification.name,
        ruleId: notification.ruleId,
        at: notification.at,
        id,
      };
      outcome = await call("PutProfileObject", () =>
        client.send(
          new PutProfileObjectCommand({
            DomainName: config.domainName,
            ObjectTypeName: config.objectTypeName,
            Object: JSON.stringify(object),
          }),
        ),
      );
    }
    return outcome.ok ? { id, status: "delivered" } : { id, status: outcome.status, error: outcome.error };
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
          if (entry === undefined) continue;
          const [userId, messages] = entry;
          const profile = await findProfile(userId);
          for (const message of messages) {
            const result: DeliveryResult = profile.ok
              ? await apply(message, profile.value)
              : { id: message.id, status: profile.status, error: profile.error };
            results.set(message.id, result);
          }
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
