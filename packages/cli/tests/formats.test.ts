import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { MAX_RECORD_BYTES, SKIP_REASONS } from "@pia/core";
import { isoWithOffset, mulberry32 } from "@pia/sample";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/runCli.js";

async function pia(...argv: string[]) {
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const stream = (into: Buffer[]) => {
    const pass = new PassThrough();
    pass.on("data", (chunk: Buffer) => into.push(chunk));
    return pass as unknown as NodeJS.WriteStream;
  };
  const code = await runCli(argv, {
    stdout: stream(chunks.stdout),
    stderr: stream(chunks.stderr),
    now: () => Date.UTC(2030, 0, 1),
  });
  return { code, stderr: Buffer.concat(chunks.stderr).toString("utf8") };
}

/** One record of the generated input, before it is written in a format. */
type Spec = {
  readonly kind:
    | "event"
    | "no_user"
    | "bad_timestamp"
    | "bad_metric"
    | "bad_event"
    | "bad_json"
    | "too_large";
  readonly id?: string;
  readonly app: string;
  readonly user: string;
  readonly type: string;
  readonly ts: number;
  /** Minutes east of UTC of the local time Segment and the app write. */
  readonly offset: number;
  readonly attributes: Record<string, string>;
  readonly metrics: Record<string, number>;
  readonly arrival: number;
};

const MAPPING = [
  "userId: user.id",
  "eventType: name",
  "timestamp: at",
  "timestampUnit: iso",
  "attributes: props",
  "metrics: values",
  "eventId: id",
  "appId: app",
].join("\n");

// A window of one UTC day: events at 23:30-02:00 the day before belong to it.
const RULES = [
  "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key,MetricName",
  "aggregator,purchase,na,999,greater,2,na,999,no,9999-99-99,9999-99-99,three-purchases,",
  "aggregator,purchase,product,chair,na,999,greater,1.2,yes,9999-99-99,9999-99-99,chair-cents,price",
  "date,purchase,na,999,greater,0,na,999,no,2021-03-15,2021-03-15,ides-buyer,",
  "date,pageview,na,999,equal,2,na,999,no,2021-03-15,2021-03-15,two-views-on-the-15th,",
].join("\n");

/** Seeded records with every outcome: redeliveries, each skip reason, ignored events, offsets across midnight. */
function generate(seed: number, count: number): Spec[] {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const specs: Spec[] = [];
  const kinds = ["no_user", "bad_timestamp", "bad_metric", "bad_event", "bad_json", "too_large"] as const;
  for (let i = 0; i < count; i++) {
    const roll = random();
    if (roll < 0.1 && specs.length > 0) {
      const earlier = pick(specs);
      specs.push({ ...earlier, arrival: earlier.arrival + 60_000 });
      continue;
    }
    const type = pick(["purchase", "purchase", "pageview", "_session.start", "trk_three-purchases"]);
    const ts = Date.UTC(2021, 2, 14, 20) + Math.floor(random() * 36 * 3_600_000);
    specs.push({
      kind: roll < 0.25 ? (kinds[i % kinds.length] as Spec["kind"]) : "event",
      ...(random() < 0.5 ? { id: `e-${i}` } : {}),
      app: pick(["shop", "blog"]),
      user: pick(["ana", "ben", "cy", "dee"]),
      type,
      ts,
      offset: pick([0, -120, 120, -330, 600]),
      attributes: type === "purchase" ? { product: pick(["chair", "table"]) } : { page: "home" },
      metrics: type === "purchase" ? { price: pick([0.1, 0.2, 0.3, 1.05]), quantity: 1 } : {},
      arrival: ts + 500,
    });
  }
  return specs;
}

const PAD = "x".repeat(MAX_RECORD_BYTES);

function pinpointLine(spec: Spec): string {
  const record: Record<string, unknown> = {
    ...(spec.id === undefined ? {} : { event_id: spec.id }),
    event_type: spec.type,
    event_timestamp: spec.kind === "bad_timestamp" ? String(spec.ts) : spec.ts,
    arrival_timestamp: spec.arrival,
    application: { app_id: spec.app },
    endpoint: { Id: `ep-${spec.user}`, User: spec.kind === "no_user" ? {} : { UserId: spec.user } },
    attributes: spec.kind === "too_large" ? { ...spec.attributes, pad: PAD } : spec.attributes,
    metrics: spec.kind === "bad_metric" ? { ...spec.metrics, price: "NaN" } : spec.metrics,
  };
  if (spec.kind === "bad_event") delete record.event_type;
  const line = JSON.stringify(record);
  return spec.kind === "bad_json" ? line.slice(0, -1) : line;
}

function segmentCall(spec: Spec): Record<string, unknown> {
  const call: Record<string, unknown> = {
    type: "track",
    event: spec.type,
    ...(spec.kind === "no_user" ? {} : { userId: spec.user }),
    anonymousId: `anon-${spec.user}`,
    properties: {
      ...(spec.kind === "too_large" ? { pad: PAD } : {}),
      ...spec.attributes,
      ...spec.metrics,
      ...(spec.kind === "bad_metric" ? { price: "__INFINITE__" } : {}),
    },
    context: { app: { namespace: spec.app } },
    timestamp: spec.kind === "bad_timestamp" ? spec.ts : isoWithOffset(spec.ts, spec.offset),
    sentAt: new Date(spec.arrival).toISOString(),
    ...(spec.id === undefined ? {} : { messageId: spec.id }),
  };
  if (spec.kind === "bad_event") delete call.event;
  return call;
}

const segmentText = (value: unknown) => JSON.stringify(value).replaceAll('"__INFINITE__"', "1e999");

/** Segment lines; runs of good calls go into batch envelopes, as Segment's libraries flush them. */
function segmentLines(specs: readonly Spec[]): string[] {
  const lines: string[] = [];
  let batch: unknown[] = [];
  const flush = () => {
    if (batch.length > 0) lines.push(segmentText({ batch, sentAt: "2021-03-16T00:00:00Z" }));
    batch = [];
  };
  specs.forEach((spec, index) => {
    if (spec.kind === "bad_json") {
      flush();
      lines.push(segmentText(segmentCall(spec)).slice(0, -1));
    } else if (spec.kind === "too_large" || index % 3 === 0) {
      flush();
      lines.push(segmentText(segmentCall(spec)));
    } else {
      batch.push(segmentCall(spec));
      if (batch.length === 4) flush();
    }
  });
  flush();
  return lines;
}

function jsonLine(spec: Spec): string {
  const record: Record<string, unknown> = {
    ...(spec.id === undefined ? {} : { id: spec.id }),
    app: spec.app,
    user: spec.kind === "no_user" ? { plan: "free" } : { id: spec.user },
    name: spec.type,
    at: spec.kind === "bad_timestamp" ? "yesterday" : isoWithOffset(spec.ts, spec.offset),
    props: spec.kind === "too_large" ? { ...spec.attributes, pad: PAD } : spec.attributes,
    values: spec.kind === "bad_metric" ? { ...spec.metrics, price: "NaN" } : spec.metrics,
    deliveredAt: spec.arrival,
  };
  if (spec.kind === "bad_event") delete record.name;
  const line = JSON.stringify(record);
  return spec.kind === "bad_json" ? line.slice(0, -1) : line;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-formats-"));
  await writeFile(join(dir, "rules.csv"), RULES);
  await writeFile(join(dir, "mapping.yaml"), MAPPING);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function simulate(file: string, ...format: string[]) {
  const out = join(dir, `${file}.out`);
  const result = await pia(
    "simulate",
    "--rules",
    join(dir, "rules.csv"),
    "--events",
    join(dir, file),
    "--out",
    out,
    "--now",
    "2021-04-01",
    ...format,
  );
  expect(result.code, result.stderr).toBe(0);
  const notifications = (await readFile(out, "utf8"))
    .split("\n")
    .filter((line) => line !== "")
    .sort();
  return { notifications, stderr: result.stderr };
}

/** The summary's lines that must agree across formats: every count but the elapsed time. */
const counts = (stderr: string) =>
  stderr
    .split("\n")
    .filter((line) => /^(records read| {2}applied| {2}duplicate| {2}ignored| {2}skipped)/.test(line))
    .map((line) => line.replace(/ in [\d.]+ s$/, ""));

describe("the same events in the three formats", () => {
  it.each([1, 2, 3])("give the same notifications and counts (seed %i)", async (seed) => {
    const specs = generate(seed, 160);
    await writeFile(join(dir, `p${seed}.ndjson`), specs.map(pinpointLine).join("\n"));
    await writeFile(join(dir, `s${seed}.ndjson`), segmentLines(specs).join("\n"));
    await writeFile(join(dir, `j${seed}.ndjson`), specs.map(jsonLine).join("\n"));

    const pinpoint = await simulate(`p${seed}.ndjson`, "--format", "pinpoint");
    const auto = await simulate(`p${seed}.ndjson`);
    const segment = await simulate(`s${seed}.ndjson`, "--format", "segment");
    const segmentAuto = await simulate(`s${seed}.ndjson`);
    const json = await simulate(
      `j${seed}.ndjson`,
      "--format",
      "json",
      "--mapping",
      join(dir, "mapping.yaml"),
    );

    expect(pinpoint.notifications.length).toBeGreaterThan(0);
    for (const other of [auto, segment, segmentAuto, json]) {
      expect(other.notifications).toStrictEqual(pinpoint.notifications);
      expect(counts(other.stderr)).toStrictEqual(counts(pinpoint.stderr));
    }
    // Every skip reason is exercised.
    for (const reason of SKIP_REASONS) expect(pinpoint.stderr).toMatch(new RegExp(`${reason} \\d`));
  });

  it("counts a window by the UTC date of a time with an offset", async () => {
    const spec: Spec = {
      kind: "event",
      app: "shop",
      user: "ana",
      type: "purchase",
      ts: Date.parse("2021-03-15T01:30:00Z"),
      offset: -120,
      attributes: {},
      metrics: {},
      arrival: 0,
    };
    expect(segmentCall(spec).timestamp).toBe("2021-03-14T23:30:00.000-02:00");
    await writeFile(join(dir, "offset.ndjson"), segmentText(segmentCall(spec)));
    const { notifications } = await simulate("offset.ndjson");
    expect(notifications.map((line) => JSON.parse(line).ruleId)).toStrictEqual(["ides-buyer"]);
  });
});

describe("pia sample --format segment", () => {
  it("writes the same events as the Pinpoint sample: same notifications and counts", async () => {
    const runs = [];
    for (const format of ["pinpoint", "segment"]) {
      const out = join(dir, `sample-${format}`);
      const written = await pia(
        "sample",
        "--out",
        out,
        "--users",
        "60",
        "--events",
        "3000",
        "--format",
        format,
      );
      expect(written.code, written.stderr).toBe(0);
      runs.push(await simulate(`sample-${format}/events.ndjson`, "--format", format));
    }
    const [pinpoint, segment] = runs;
    expect(pinpoint?.notifications.length).toBeGreaterThan(0);
    expect(segment?.notifications).toStrictEqual(pinpoint?.notifications);
    expect(counts(segment?.stderr ?? "")).toStrictEqual(counts(pinpoint?.stderr ?? ""));
    expect(await readFile(join(dir, "sample-segment/events.ndjson"), "utf8")).toMatch(/"type":"track"/);
  });
});

describe("--format and --mapping usage", () => {
  it.each([
    [["--format", "json"], /--format json needs --mapping/],
    [["--mapping", "m.yaml"], /--mapping is read with --format json only/],
    [["--format", "csv"], /argument 'csv' is invalid/],
  ])("exits 2 for %j", async (flags, message) => {
    const result = await pia(
      "simulate",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, "rules.csv"),
      ...flags,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it("exits 2 for an invalid mapping, listing each key", async () => {
    await writeFile(
      join(dir, "bad.yaml"),
      "userId: ''\neventType: name\ntimestamp: at\ntimestampUnit: ns\nextra: 1\n",
    );
    const result = await pia(
      "simulate",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, "rules.csv"),
      "--format",
      "json",
      "--mapping",
      join(dir, "bad.yaml"),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/extra: is not a mapping key/);
    expect(result.stderr).toMatch(/userId: is empty/);
    expect(result.stderr).toMatch(/timestampUnit: must be one of ms, s, iso/);
  });
});

describe("pia local in each format", () => {
  const specs = generate(7, 60);
  const inputs: Record<string, { lines: () => string[]; flags: () => string[] }> = {
    pinpoint: { lines: () => specs.map(pinpointLine), flags: () => [] },
    segment: { lines: () => segmentLines(specs), flags: () => ["--format", "segment"] },
    json: {
      lines: () => specs.map(jsonLine),
      flags: () => ["--format", "json", "--mapping", join(dir, "mapping.yaml")],
    },
  };

  it.each(Object.keys(inputs))("gives what pia simulate gives (%s)", async (format) => {
    const input = inputs[format] as (typeof inputs)[string];
    const file = `local-${format}.ndjson`;
    await writeFile(join(dir, file), input.lines().join("\n"));
    const simulated = await simulate(file, ...input.flags());
    const out = join(dir, `local-${format}.out.ndjson`);
    const result = await pia(
      "local",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, file),
      "--out",
      out,
      "--now",
      "2021-04-01",
      ...input.flags(),
    );
    expect(result.code, result.stderr).toBe(0);
    const local = (await readFile(out, "utf8"))
      .split("\n")
      .filter((line) => line !== "")
      .sort();
    expect(simulated.notifications.length).toBeGreaterThan(0);
    expect(local).toStrictEqual(simulated.notifications);
  });
});
