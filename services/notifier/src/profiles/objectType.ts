import type { NotificationMessage } from "@pia/aws";
import definition from "./objectType.json" with { type: "json" };

/**
 * pia's Customer Profiles object type: one object per notification. Written once, in
 * `objectType.json`, because three readers need the same definition: the sink (the objects it
 * puts), `pia profiles setup` (PutProfileObjectType on an existing domain) and the notifier's
 * `serverless.yml` (the `AWS::CustomerProfiles::ObjectType` it creates, through
 * `serverless.sinks.cjs`).
 *
 * - A PROFILE key, named as the key the app's own profiles are found by (`PROFILES_KEY`), on the
 *   user id: an object lands on the profile that key finds, and Customer Profiles keeps every
 *   object with the same user id on one profile.
 * - A UNIQUE key on the notification id: a redelivered notification replaces its object instead of
 *   adding a second one.
 * - `AllowProfileCreation`: a user without a profile gets one, instead of a dead letter.
 */
export const DEFAULT_PROFILES_OBJECT_TYPE: string = definition.defaultName;

/** The UNIQUE key's name; the PROFILE key (`PROFILES_KEY`) must be another. */
export const PROFILES_UNIQUE_KEY: string = definition.uniqueKey;

/** Key names: the API's pattern, at most 64 characters. */
export const PROFILES_KEY_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** Object type names: the API's pattern, at most 255 characters. */
export const PROFILES_OBJECT_TYPE_PATTERN = /^[a-zA-Z_][a-zA-Z_0-9-]{0,254}$/;

/** A fresh value each call (mutable, as the SDK's input types are). */
export interface ProfilesObjectTypeDefinition {
  Description: string;
  AllowProfileCreation: true;
  Fields: Record<string, { Source: string; ContentType: "STRING" }>;
  Keys: Record<string, { StandardIdentifiers: ("PROFILE" | "UNIQUE")[]; FieldNames: string[] }[]>;
}

/** The object type's settings (PutProfileObjectType's, beside the domain and the name). */
export function profilesObjectTypeDefinition(profileKey: string): ProfilesObjectTypeDefinition {
  return {
    Description: definition.description,
    AllowProfileCreation: true,
    Fields: Object.fromEntries(
      definition.fields.map((field) => [
        field,
        { Source: `_source.${field}`, ContentType: "STRING" as const },
      ]),
    ),
    Keys: {
      [profileKey]: [{ StandardIdentifiers: ["PROFILE"], FieldNames: [definition.profileKeyField] }],
      [definition.uniqueKey]: [{ StandardIdentifiers: ["UNIQUE"], FieldNames: [definition.uniqueKeyField] }],
    },
  };
}

/** The object a notification is put as: its fields (docs/rules.md section 5) and its `id`. */
export function toProfileObject({ id, notification }: NotificationMessage): Record<string, string> {
  return {
    id,
    userId: notification.userId,
    appId: notification.appId,
    ruleId: notification.ruleId,
    type: notification.type,
    name: notification.name,
    ...(notification.value === undefined ? {} : { value: notification.value }),
    at: notification.at,
  };
}
