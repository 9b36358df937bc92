/**
 * Deterministic, realistic sample data: Pinpoint event-stream records or the same events as Segment
 * track calls (NDJSON), and a rules CSV.
 *
 * Everything here is driven by one small seeded PRNG, so the same options give byte-identical
 * output on every machine and Node version.
 */
import { CSV_COLUMNS, DAY_MS } from "@pia/core";
import { NON_FINITE, segmentLine, toSegmentCall } from "./toSegmentCall.js";

export interface SampleEventsOptions {
  readonly users: number;
  readonly events: number;
  readonly seed: number;
  /** First day of the data, `YYYY-MM-DD` (UTC). Default `2021-01-01`. */
  readonly from?: string;
  /** Number of days the event timestamps spread over. Default 181 (2021-01-01..2021-06-30). */
  readonly days?: number;
  /**
   * `pinpoint` (default) or `segment`: the same events, malformed lines of the same skip reasons and
   * redeliveries, so both files give the same notifications.
   */
  readonly format?: SampleFormat;
}

export const SAMPLE_FORMATS = ["pinpoint", "segment"] as const;
export type SampleFormat = (typeof SAMPLE_FORMATS)[number];

export interface SampleRulesOptions {
  /** Generate this many rules from templates; absent: the hand-picked default set. */
  readonly rules?: number;
  readonly seed?: number;
}

export const SAMPLE_APP_IDS = [
  "a1b2c3d4e5f60718293a4b5c6d7e8f90",
  "0f9e8d7c6b5a49382716059483726150",
] as const;

/** The kinds of malformed line the generator writes, one per docs/rules.md section 2 skip path. */
export const MALFORMED_KINDS = [
  "truncated_json", // bad_json
  "json_array", // bad_event
  "missing_event_type", // bad_event
  "string_timestamp", // bad_timestamp
  "nan_metric", // bad_metric
  "null_metric", // bad_metric
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

const MINUTE_MS = 60_000;
const SESSION_GAP_MS = 30 * MINUTE_MS;

// ---------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a tiny 32-bit PRNG; plenty for sample data, and fully deterministic. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  private readonly next: () => number;
  constructor(seed: number) {
    // Mix the seed a little so that seeds 1, 2, 3… do not start from neighbouring states.
    this.next = mulberry32(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35);
  }
  float(): number {
    return this.next();
  }
  /** Whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Whole number in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
  /** Pick by weight: `[[item, weight], …]`. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, weight] of items) total += weight;
    let r = this.next() * total;
    for (const [item, weight] of items) {
      r -= weight;
      if (r < 0) return item;
    }
    const last = items[items.length - 1];
    if (last === undefined) throw new Error("weighted pick from an empty list");
    return last[0];
  }
  hex(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += "0123456789abcdef"[this.int(16)];
    return out;
  }
  uuid(): string {
    return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${"89ab"[this.int(4)]}${this.hex(3)}-${this.hex(12)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Users, endpoints, devices

interface DeviceProfile {
  readonly make: string;
  readonly model: string;
  readonly platform: string;
  readonly versions: readonly string[];
  readonly channel: string;
  readonly sdk: { readonly name: string; readonly version: string };
}

const DEVICES: readonly DeviceProfile[] = [
  {
    make: "Apple",
    model: "iPhone",
    platform: "iOS",
    versions: ["16.7", "17.2", "17.4"],
    channel: "APNS",
    sdk: { name: "aws-amplify", version: "5.3.0" },
  },
  {
    make: "Google",
    model: "Pixel 7",
    platform: "Android",
    versions: ["13", "14"],
    channel: "GCM",
    sdk: { name: "aws-sdk-android", version: "2.73.0" },
  },
  {
    make: "samsung",
    model: "SM-G991B",
    platform: "Android",
    versions: ["12", "13"],
    channel: "GCM",
    sdk: { name: "aws-sdk-android", version: "2.73.0" },
  },
  {
    make: "Mozilla",
    model: "Firefox",
    platform: "Web",
    versions: ["121.0"],
    channel: "EMAIL",
    sdk: { name: "aws-amplify", version: "5.3.0" },
  },
  {
    make: "Google",
    model: "Chrome",
    platform: "Web",
    versions: ["120.0.6099"],
    channel: "EMAIL",
    sdk: { name: "aws-amplify", version: "5.3.0" },
  },
];

const LOCALES = [
  { code: "en_US", country: "US", language: "en" },
  { code: "en_GB", country: "GB", language: "en" },
  { code: "de_DE", country: "DE", language: "de" },
  { code: "fr_FR", country: "FR", language: "fr" },
  { code: "es_ES", country: "ES", language: "es" },
  { code: "ja_JP", country: "JP", language: "ja" },
] as const;

interface Endpoint {
  readonly id: string;
  readonly appId: string;
  readonly cognitoId: string;
  readonly device: DeviceProfile;
  readonly platformVersion: string;
  readonly locale: (typeof LOCALES)[number];
  readonly address: string;
  readonly status: string;
  readonly optOut: string;
  readonly effectiveDate: string;
  readonly interests: readonly string[];
  session?: { id: string; start: number; last: number };
}

interface User {
  readonly id: string;
  readonly plan: string;
  readonly endpoints: readonly Endpoint[];
}

const INTERESTS = ["furniture", "lighting", "outdoor", "courses", "video"] as const;

function makeUsers(random: Random, count: number, start: number): User[] {
  const users: User[] = [];
  for (let i = 0; i < count; i++) {
    const id = `customer-${1000 + i}`;
    const primaryApp = random.chance(0.7) ? SAMPLE_APP_IDS[0] : SAMPLE_APP_IDS[1];
    const endpointCount = random.weighted([
      [1, 60],
      [2, 30],
      [3, 10],
    ] as const);
    const endpoints: Endpoint[] = [];
    for (let e = 0; e < endpointCount; e++) {
      const device = random.pick(DEVICES);
      const appId =
        e === 0 || random.chance(0.85)
          ? primaryApp
          : SAMPLE_APP_IDS[primaryApp === SAMPLE_APP_IDS[0] ? 1 : 0];
      endpoints.push({
        id: random.uuid(),
        appId,
        cognitoId: `us-east-1:${random.uuid()}`,
        device,
        platformVersion: random.pick(device.versions),
        locale: random.pick(LOCALES),
        address: device.channel === "EMAIL" ? `${id}@example.com` : "device-token-redacted",
        status: random.chance(0.95) ? "ACTIVE" : "INACTIVE",
        optOut: random.chance(0.92) ? "NONE" : "ALL",
        effectiveDate: new Date(start - random.range(1, 400) * DAY_MS - random.int(DAY_MS)).toISOString(),
        interests: random.chance(0.5) ? [random.pick(INTERESTS)] : [],
      });
    }
    users.push({
      id,
      plan: random.weighted([
        ["free", 70],
        ["pro", 22],
        ["gold", 8],
      ] as const),
      endpoints,
    });
  }
  return users;
}

/**
 * Zipf-like activity: the user at activity rank r gets weight 1 / (r + 3)^1.05, ranks shuffled so
 * the busiest users are spread over the id range. Returns cumulative weights for binary search.
 */
function activityTable(random: Random, count: number): Float64Array {
  const ranks = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const a = ranks[i] as number;
    ranks[i] = ranks[j] as number;
    ranks[j] = a;
  }
  const cumulative = new Float64Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    total += 1 / ((ranks[i] as number) + 3) ** 1.05;
    cumulative[i] = total;
  }
  return cumulative;
}

function pickIndex(cumulative: Float64Array, r: number): number {
  const target = r * (cumulative[cumulative.length - 1] as number);
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cumulative[mid] as number) <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------------
// Event content

const PAGES = ["home", "pricing", "docs", "blog"] as const;
const REFERRERS = ["google", "newsletter", "twitter", "direct"] as const;
const COURSES = ["typescript-101", "aws-basics", "sql-for-analysts", "design-systems"] as const;
const QUERIES = [
  "oak chair",
  "standing desk",
  "floor lamp",
  "corner sofa",
  "dining table",
  "how to reset password",
];
const VIDEOS = ["intro-01", "assembly-chair", "lamp-setup", "webinar-2021-02"] as const;
const CAMPAIGNS = ["spring", "winter-sale", "newsletter"] as const;
/** Prices in cents; turned into numbers with two decimals (12999 -> 129.99). */
const PRODUCT_PRICES = {
  chair: [7999, 8999, 12999, 14950, 19999],
  table: [18995, 24900, 39999],
  lamp: [1999, 3450, 4999],
  sofa: [59900, 89999, 124999],
} as const;
type Product = keyof typeof PRODUCT_PRICES;
const PRODUCTS = Object.keys(PRODUCT_PRICES) as Product[];

type CustomEvent = "pageview" | "lesson_completed" | "purchase" | "add_to_cart" | "search" | "video_watched";
const CUSTOM_MIX: readonly (readonly [CustomEvent, number])[] = [
  ["pageview", 40],
  ["lesson_completed", 12],
  ["purchase", 6],
  ["add_to_cart", 12],
  ["search", 15],
  ["video_watched", 15],
];
const SYSTEM_EVENTS = [
  "_session.start",
  "_session.stop",
  "_userauth.sign_in",
  "_monetization.purchase",
] as const;
const OWN_EVENTS = ["trk_aggregatorlesson_completed", "trk_pageview_pricing"] as const;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Content {
  attributes: Record<string, string>;
  metrics?: Record<string, number>;
  eventId?: string;
}

function price(random: Random, product: Product): number {
  return random.pick(PRODUCT_PRICES[product]) / 100;
}

function customContent(random: Random, type: CustomEvent): Content {
  switch (type) {
    case "pageview": {
      const attributes: Record<string, string> = { page: random.pick(PAGES) };
      if (random.chance(0.3)) attributes.referrer = random.pick(REFERRERS);
      return { attributes };
    }
    case "lesson_completed":
      return { attributes: { course: random.pick(COURSES), lesson: String(random.range(1, 12)) } };
    case "purchase": {
      const product = random.pick(PRODUCTS);
      const attributes: Record<string, string> = { product };
      if (random.chance(0.4)) attributes.campaign = random.pick(CAMPAIGNS);
      const content: Content = {
        attributes,
        metrics: {
          price: price(random, product),
          quantity: random.weighted([
            [1, 70],
            [2, 20],
            [3, 10],
          ] as const),
        },
      };
      if (random.chance(0.1)) content.eventId = random.uuid();
      return content;
    }
    case "add_to_cart": {
      const product = random.pick(PRODUCTS);
      return { attributes: { product }, metrics: { price: price(random, product) } };
    }
    case "search":
      return { attributes: { query: random.pick(QUERIES) } };
    case "video_watched":
      return { attributes: { video: random.pick(VIDEOS) }, metrics: { seconds: random.range(15, 1800) } };
  }
}

function systemContent(random: Random, type: (typeof SYSTEM_EVENTS)[number]): Content {
  if (type === "_monetization.purchase") {
    const product = random.pick(PRODUCTS);
    return {
      attributes: { _currency: "USD", _product_id: `com.example.${product}`, _store: "Apple" },
      metrics: { _item_price: price(random, product), _quantity: 1 },
    };
  }
  return { attributes: {} };
}

// ---------------------------------------------------------------------------------------------
// Records

interface RecordSpec {
  readonly type: string;
  readonly timestamp: number;
  readonly user: User;
  readonly endpoint: Endpoint;
  readonly content: Content;
  readonly anonymous?: "no_endpoint" | "no_user_id";
}

function sessionFor(random: Random, endpoint: Endpoint, timestamp: number): { id: string; start: number } {
  const session = endpoint.session;
  if (session !== undefined && timestamp >= session.start && timestamp - session.last <= SESSION_GAP_MS) {
    session.last = Math.max(session.last, timestamp);
    return session;
  }
  const fresh = { id: random.uuid(), start: timestamp - random.int(90_000), last: timestamp };
  endpoint.session = fresh;
  return fresh;
}

/** Builds a record with the key order of a real Pinpoint event-stream record. */
function buildRecord(random: Random, spec: RecordSpec): JsonObject {
  const { endpoint, user, content } = spec;
  const session = sessionFor(random, endpoint, spec.timestamp);
  // Most records arrive within seconds; some devices were offline for a while.
  const delay = random.chance(0.97) ? random.range(150, 6_000) : random.range(60_000, 6 * 3_600_000);
  const record: JsonObject = { event_type: spec.type };
  if (content.eventId !== undefined) record.event_id = content.eventId;
  record.event_timestamp = spec.timestamp;
  record.arrival_timestamp = spec.timestamp + delay;
  record.event_version = "3.1";
  record.application = {
    app_id: endpoint.appId,
    cognito_identity_pool_id: `us-east-1:${endpoint.appId.slice(0, 8)}-2222-3333-4444-555555555555`,
    sdk: { ...endpoint.device.sdk },
  };
  record.client = { client_id: endpoint.id, cognito_id: endpoint.cognitoId };
  record.device = {
    locale: { ...endpoint.locale },
    make: endpoint.device.make,
    model: endpoint.device.model,
    platform: { name: endpoint.device.platform, version: endpoint.platformVersion },
  };
  record.session = { session_id: session.id, start_timestamp: session.start };
  record.attributes = { ...content.attributes };
  if (content.metrics !== undefined) record.metrics = { ...content.metrics };
  if (spec.anonymous !== "no_endpoint") {
    const userPart: JsonObject = {};
    if (spec.anonymous !== "no_user_id") userPart.UserId = user.id;
    userPart.UserAttributes = { plan: [user.plan] };
    const endpointPart: JsonObject = {
      Id: endpoint.id,
      ApplicationId: endpoint.appId,
      ChannelType: endpoint.device.channel,
      Address: endpoint.address,
      EndpointStatus: endpoint.status,
      OptOut: endpoint.optOut,
      EffectiveDate: endpoint.effectiveDate,
      Attributes: { interests: [...endpoint.interests] },
      User: userPart,
    };
    record.endpoint = endpointPart;
  }
  record.awsAccountId = "123456789012";
  return record;
}

function malformedLine(
  random: Random,
  kind: MalformedKind,
  record: JsonObject,
  format: SampleFormat,
): string {
  const write = (value: Json) =>
    format === "segment" && !Array.isArray(value) && typeof value === "object" && value !== null
      ? segmentLine(toSegmentCall(value))
      : JSON.stringify(value);
  switch (kind) {
    case "truncated_json": {
      const line = write(record);
      // Any proper prefix of an object's JSON text is invalid JSON (the closing brace is last).
      return line.slice(0, random.range(20, line.length - 2));
    }
    case "json_array":
      return format === "segment" ? `[${write(record)}]` : JSON.stringify([record]);
    case "missing_event_type": {
      const { event_type: _dropped, ...rest } = record;
      return write(rest);
    }
    case "string_timestamp":
      if (format === "segment") {
        // An epoch number where Segment wants an ISO date-time: the same bad_timestamp.
        return segmentLine({ ...toSegmentCall(record), timestamp: record.event_timestamp ?? null });
      }
      return JSON.stringify({ ...record, event_timestamp: String(record.event_timestamp) });
    case "nan_metric":
    case "null_metric": {
      const metrics = record.metrics;
      const base = typeof metrics === "object" && metrics !== null && !Array.isArray(metrics) ? metrics : {};
      // Segment properties take any value, so only a number JSON cannot hold is a bad metric there.
      const bad = format === "segment" ? NON_FINITE : kind === "nan_metric" ? "NaN" : null;
      // Keep the metric's name; only its value is broken.
      const name = Object.keys(base)[0] ?? "price";
      return write({ ...record, metrics: { ...base, [name]: bad } });
    }
  }
}

function parseDay(day: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const ms = match === null ? Number.NaN : Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day) {
    throw new RangeError(`from must be a real YYYY-MM-DD date, got ${JSON.stringify(day)}`);
  }
  return ms;
}

function requireWhole(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be a whole number >= ${min}, got ${value}`);
  }
}

/**
 * Yields exactly `events` NDJSON lines (without newline) that look like Pinpoint event-stream
 * records. Roughly: 0.5% malformed (every kind of MALFORMED_KINDS, in turn), 2% redeliveries
 * (an earlier line with a later arrival_timestamp), 3% anonymous, 10% system events, 0.5% `trk_`
 * events, the rest custom events; user activity is Zipf-like.
 */
export function* generateSampleEvents(options: SampleEventsOptions): Generator<string> {
  const { users: userCount, events, seed } = options;
  const days = options.days ?? 181;
  requireWhole("users", userCount, 1);
  requireWhole("events", events, 0);
  requireWhole("days", days, 1);
  const start = parseDay(options.from ?? "2021-01-01");
  const span = days * DAY_MS;
  const end = start + span - 1;

  const format = options.format ?? "pinpoint";
  const write = (record: JsonObject) =>
    format === "segment" ? segmentLine(toSegmentCall(record)) : JSON.stringify(record);
  const random = new Random(seed);
  const users = makeUsers(random, userCount, start);
  const activity = activityTable(random, userCount);
  /** Recent good custom-event records, for redeliveries. */
  const recent: JsonObject[] = [];
  const RECENT_MAX = 32;
  let recentNext = 0;
  let malformedCount = 0;

  for (let i = 0; i < events; i++) {
    // Roughly increasing time with jitter; sometimes minutes out of order.
    const base = start + Math.floor(((i + random.float()) * span) / events);
    const jitter = random.chance(0.9)
      ? random.range(-2 * MINUTE_MS, 2 * MINUTE_MS)
      : random.range(-20 * MINUTE_MS, 20 * MINUTE_MS);
    let timestamp = Math.min(end, Math.max(start, base + jitter));
    // Near midnight, some events land exactly on 00:00:00.000 or 23:59:59.999 UTC (window edges).
    const midnight = Math.round(timestamp / DAY_MS) * DAY_MS;
    if (Math.abs(timestamp - midnight) < 30 * MINUTE_MS && random.chance(0.1)) {
      const edge = random.chance(0.5) ? midnight : midnight - 1;
      if (edge >= start && edge <= end) timestamp = edge;
    }

    const user = users[pickIndex(activity, random.float())] as User;
    const endpoint = random.chance(0.6) ? (user.endpoints[0] as Endpoint) : random.pick(user.endpoints);
    const roll = random.float();

    if (roll < 0.005) {
      const kind = MALFORMED_KINDS[malformedCount % MALFORMED_KINDS.length] as MalformedKind;
      malformedCount++;
      const type =
        kind === "nan_metric" || kind === "null_metric"
          ? random.pick(["purchase", "add_to_cart", "video_watched"] as const)
          : random.weighted(CUSTOM_MIX);
      const record = buildRecord(random, {
        type,
        timestamp,
        user,
        endpoint,
        content: customContent(random, type),
      });
      yield malformedLine(random, kind, record, format);
      continue;
    }
    if (roll < 0.025 && recent.length > 0) {
      const original = random.pick(recent);
      const arrival = (original.arrival_timestamp as number) + random.range(1_000, 15 * MINUTE_MS);
      yield write({ ...original, arrival_timestamp: arrival });
      continue;
    }
    if (roll < 0.055) {
      const type = random.weighted(CUSTOM_MIX);
      const anonymous = random.chance(0.5) ? "no_endpoint" : "no_user_id";
      yield write(
        buildRecord(random, {
          type,
          timestamp,
          user,
          endpoint,
          content: customContent(random, type),
          anonymous,
        }),
      );
      continue;
    }
    if (roll < 0.155) {
      const type = random.weighted([
        [SYSTEM_EVENTS[0], 40],
        [SYSTEM_EVENTS[1], 35],
        [SYSTEM_EVENTS[2], 15],
        [SYSTEM_EVENTS[3], 10],
      ] as const);
      yield write(
        buildRecord(random, { type, timestamp, user, endpoint, content: systemContent(random, type) }),
      );
      continue;
    }
    if (roll < 0.16) {
      const type = random.pick(OWN_EVENTS);
      yield write(buildRecord(random, { type, timestamp, user, endpoint, content: { attributes: {} } }));
      continue;
    }
    const type = random.weighted(CUSTOM_MIX);
    const record = buildRecord(random, {
      type,
      timestamp,
      user,
      endpoint,
      content: customContent(random, type),
    });
    // A ring of the latest records: redeliveries come soon after the original, as from Kinesis retries.
    recent[recentNext] = record;
    recentNext = (recentNext + 1) % RECENT_MAX;
    yield write(record);
  }
}

// ---------------------------------------------------------------------------------------------
// Rules

/** The rules table header: the 12 columns of the original table and the optional MetricName. */
export const SAMPLE_RULES_HEADER = CSV_COLUMNS;

const NO_DATE = "9999-99-99";

/** The hand-picked default rules; each fires for some users of ~2,000 users x 50,000 events. */
const DEFAULT_RULES: readonly (readonly string[])[] = [
  // The three rules of examples/rules.csv.
  [
    "aggregator",
    "pageview",
    "na",
    "999",
    "greater",
    "3",
    "na",
    "999",
    "no",
    NO_DATE,
    NO_DATE,
    "aggregatorpageview",
    "na",
  ],
  [
    "aggregator",
    "lesson_completed",
    "na",
    "999",
    "equal",
    "5",
    "na",
    "999",
    "yes",
    NO_DATE,
    NO_DATE,
    "aggregatorlesson_completed",
    "na",
  ],
  [
    "date",
    "purchase",
    "product",
    "chair",
    "greater",
    "1",
    "greater",
    "180",
    "no",
    "2021-01-01",
    "2021-02-28",
    "datepurchase",
    "na",
  ],
  // A filtered lifetime rule.
  [
    "aggregator",
    "pageview",
    "page",
    "pricing",
    "greater",
    "3",
    "na",
    "999",
    "no",
    NO_DATE,
    NO_DATE,
    "pricing-visitor",
    "na",
  ],
  // A window sum rule on a named metric.
  [
    "date",
    "purchase",
    "product",
    "chair",
    "na",
    "999",
    "greater",
    "180",
    "no",
    "2021-03-01",
    "2021-04-30",
    "chair-spender",
    "price",
  ],
  // A closing rule: fewer than 3 add_to_cart in March (decided when the window has closed).
  [
    "date",
    "add_to_cart",
    "na",
    "999",
    "smaller",
    "3",
    "na",
    "999",
    "no",
    "2021-03-01",
    "2021-03-31",
    "march-light-cart",
    "na",
  ],
  // A closing rule with `equal`.
  [
    "date",
    "search",
    "na",
    "999",
    "equal",
    "2",
    "na",
    "999",
    "no",
    "2021-04-01",
    "2021-04-30",
    "april-two-searches",
    "na",
  ],
  // Both operators on a lifetime rule, summing price.
  [
    "aggregator",
    "purchase",
    "na",
    "999",
    "greater",
    "2",
    "greater",
    "400",
    "no",
    NO_DATE,
    NO_DATE,
    "loyal-buyer",
    "price",
  ],
  // A lifetime sum of seconds watched, with reset (fires an event each time).
  [
    "aggregator",
    "video_watched",
    "na",
    "999",
    "na",
    "999",
    "greater",
    "3600",
    "yes",
    NO_DATE,
    NO_DATE,
    "binge-watcher",
    "seconds",
  ],
  // A closing rule mixing operators (count > 1 and sum < 500), with the `less` synonym.
  [
    "date",
    "add_to_cart",
    "na",
    "999",
    "greater",
    "1",
    "less",
    "500",
    "no",
    "2021-05-01",
    "2021-05-31",
    "may-small-carts",
    "price",
  ],
];

interface RuleTemplate {
  readonly event: string;
  /** Possible filters; `null` = no filter. */
  readonly filters: readonly (readonly [string, string] | null)[];
  /** Metrics worth summing, with a typical per-event value. */
  readonly metrics: readonly (readonly [string, number])[];
}

const RULE_TEMPLATES: readonly RuleTemplate[] = [
  { event: "pageview", filters: [null, ...PAGES.map((page) => ["page", page] as const)], metrics: [] },
  {
    event: "purchase",
    filters: [null, ...PRODUCTS.map((p) => ["product", p] as const)],
    metrics: [
      ["price", 150],
      ["quantity", 1.4],
    ],
  },
  {
    event: "add_to_cart",
    filters: [null, ...PRODUCTS.map((p) => ["product", p] as const)],
    metrics: [["price", 150]],
  },
  { event: "lesson_completed", filters: [null, ...COURSES.map((c) => ["course", c] as const)], metrics: [] },
  { event: "search", filters: [null, ["query", "oak chair"]], metrics: [] },
  {
    event: "video_watched",
    filters: [null, ...VIDEOS.map((v) => ["video", v] as const)],
    metrics: [["seconds", 900]],
  },
];

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function generatedRule(random: Random, index: number): string[] {
  const template = RULE_TEMPLATES[index % RULE_TEMPLATES.length] as RuleTemplate;
  const filter = random.pick(template.filters);
  const key = `gen-${String(index + 1).padStart(4, "0")}-${template.event}${filter === null ? "" : `-${filter[1]}`}`;
  const isDate = random.chance(0.5);
  const metric =
    template.metrics.length > 0 && random.chance(0.6) ? random.pick(template.metrics) : undefined;
  const countWords = isDate ? ["greater", "equal", "smaller", "less"] : ["greater", "equal"];
  const sumWords = isDate ? ["greater", "smaller"] : ["greater"];

  let opC = "na";
  let targetC = "999";
  let opV = "na";
  let targetV = "999";
  let metricName = "na";
  // At least one operator; sometimes both.
  const useCount = metric === undefined || random.chance(0.6);
  if (useCount) {
    opC = random.pick(countWords);
    targetC = String(opC === "smaller" || opC === "less" ? random.range(1, 4) : random.range(1, 8));
  }
  if (metric !== undefined && (!useCount || random.chance(0.5))) {
    const [name, typical] = metric;
    opV = random.pick(sumWords);
    const target = typical * random.range(1, 6);
    // Two decimals sometimes, to exercise decimal targets.
    targetV = random.chance(0.3)
      ? (target + random.range(1, 99) / 100).toFixed(2)
      : String(Math.round(target));
    metricName = random.chance(0.7) ? name : "na";
  }
  const reset = !isDate && opC !== "equal" && random.chance(0.3) ? "yes" : "no";
  let from = NO_DATE;
  let to = NO_DATE;
  if (isDate) {
    const startDay = Date.UTC(2021, 0, 1) + random.int(160) * DAY_MS;
    from = isoDay(startDay);
    to = isoDay(Math.min(Date.UTC(2021, 5, 30), startDay + random.range(0, 60) * DAY_MS));
  }
  return [
    isDate ? "date" : "aggregator",
    template.event,
    filter === null ? "na" : filter[0],
    filter === null ? "999" : filter[1],
    opC,
    targetC,
    opV,
    targetV,
    reset,
    from,
    to,
    key,
    metricName,
  ];
}

/**
 * A 13-column rules CSV (the examples/rules.csv header plus `MetricName`), LF line ends.
 * Without `rules`: the hand-picked default set; with `rules: N`: N valid generated rules.
 */
export function generateSampleRulesCsv(options: SampleRulesOptions = {}): string {
  let rows: readonly (readonly string[])[];
  if (options.rules === undefined) {
    rows = DEFAULT_RULES;
  } else {
    requireWhole("rules", options.rules, 0);
    const random = new Random(options.seed ?? 1);
    rows = Array.from({ length: options.rules }, (_, i) => generatedRule(random, i));
  }
  return [SAMPLE_RULES_HEADER, ...rows].map((row) => `${row.map(csvCell).join(",")}\n`).join("");
}

// ---------------------------------------------------------------------------------------------
// Files
