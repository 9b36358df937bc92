import type { Machine } from "./describeMachine.js";
import type { LimitJudgement } from "./judgeLimitingResource.js";
import type { EngineBenchResult } from "./measureEngine.js";
import type { ScaleCell } from "./measureEngineScale.js";
import type { PipelineBenchDetails, PipelineBenchResult } from "./measurePipeline.js";
import type { RollingBenchResult } from "./measureRolling.js";
import { formatFigure, formatRatio, pipelineRows } from "./pipelineRows.js";

export interface ReportInput {
  readonly generatedAt: Date;
  readonly quick: boolean;
  readonly machine: Machine;
  readonly heapLimitMB: number;
  /** The command that wrote the report, and the equivalent commands of its parts. */
  readonly commands: readonly string[];
  readonly pipeline: { readonly result: PipelineBenchResult; readonly details: PipelineBenchDetails };
  readonly scanStride: number;
  readonly rolling: RollingBenchResult;
  readonly engine: EngineBenchResult;
  readonly scale: readonly ScaleCell[];
  readonly judgement: LimitJudgement;
  /** The chart's file name, relative to the report. */
  readonly chart: string;
  readonly totalSeconds: number;
}

const n = (value: number, digits = 0) =>
  value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function table(header: readonly string[], rows: readonly (readonly string[])[], alignRight = true): string {
  const align = header.map((_, i) => (i === 0 || !alignRight ? "---" : "---:"));
  return [header, align, ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

function rollingSection(input: ReportInput): string {
  const r = input.rolling;
  const { fixed, rolling } = r.perThousandEvents;
  const ratio = (a: number, b: number) => (b === 0 ? "—" : n(a / b, 2));
  const s = r.schedule;
  const notes = r.notifications;
  return [
    `## Rolling windows against fixed ones`,
    "",
    `${n(r.events)} sample records (${n(r.users)} users, over ${r.days} days from 2021-01-01), fed a day at a time to two local pipelines: the ten default rules, and the same rules with \`window: { last: ${r.window} }\` instead of their date window (or none). After each day the schedule runs at the day's end (${s.runs} runs, the last a window after the records). Both pipelines delivered exactly what \`pia simulate\` gives on the same records: fixed ${n(notes.fixed)} (simulate ${n(notes.simulatedFixed)}), rolling ${n(notes.rolling)} (simulate ${n(notes.simulatedRolling)}).`,
    "",
    table(
      ["applying events, per 1,000 events", "fixed windows", `last ${r.window}`, "rolling / fixed"],
      [
        [
          "DynamoDB requests",
          n(fixed.requests, 1),
          n(rolling.requests, 1),
          ratio(rolling.requests, fixed.requests),
        ],
        [
          "read units (RCU)",
          n(fixed.readUnits, 1),
          n(rolling.readUnits, 1),
          ratio(rolling.readUnits, fixed.readUnits),
        ],
        [
          "write units (WCU)",
          n(fixed.writeUnits, 1),
          n(rolling.writeUnits, 1),
          ratio(rolling.writeUnits, fixed.writeUnits),
        ],
      ],
    ),
    "",
    "A rolling rule writes one small window item per matching event (about one write unit) beside its fixed-size summary, and reads window items back only when one of them can expire before the event being applied; a user's next event with nothing expiring reads none.",
    "",
    table(
      ["the rolling schedule's runs", "in all", "per 1,000 due states", "per 1,000 notifications decided"],
      [
        [
          "DynamoDB requests",
          n(s.cost.requests),
          n(s.perThousandDue.requests, 1),
          n(s.perThousandDecided.requests, 1),
        ],
        [
          "read units (RCU)",
          n(s.cost.readUnits),
          n(s.perThousandDue.readUnits, 1),
          n(s.perThousandDecided.readUnits, 1),
        ],
        [
          "write units (WCU)",
          n(s.cost.writeUnits),
          n(s.perThousandDue.writeUnits, 1),
          n(s.perThousandDecided.writeUnits, 1),
        ],
      ],
    ),
    "",
    `The runs found ${n(s.statesDue)} states due (an event of theirs had expired) and decided ${n(s.decided)} notifications, ${n(s.exits)} of them exits. The cost follows the due states, not the users: a run with nothing due costs one query per shard. Most due states decide nothing (an expiry that changes no membership), so the cost per notification is about ${n(s.statesDue / Math.max(1, s.decided), 1)} times the cost per due state here.`,
    "",
    `Delay from an exit's instant to its notification: the schedule's period (\`rate(5 minutes)\` by default, \`PIA_ROLLING_SCHEDULE\`) plus the run. A run that decided something took ${n(s.runMs.median)} ms from its start to its notifications written to the file sink (median; ${n(s.runMs.max)} ms at most) on this machine, so an exit is delivered at most about 5 minutes after its instant; its \`at\` is the exact instant either way.`,
  ].join("\n");
}

function pipelineSection(input: ReportInput): string {
  const { result, details } = input.pipeline;
  const { original } = details;
  const rows = pipelineRows(result, details).map((row) => [
    // Markdown drops leading spaces: keep the indent of the breakdown rows visible.
    row.label.startsWith("  ") ? `&nbsp;&nbsp;${row.label.trim()}` : row.label,
    formatFigure(row.ours, row.digits),
    formatFigure(row.original, row.digits),
    formatRatio(row),
  ]);
  const perEvent = (value: number) => value / result.events;
  const hours = original.hourlyRuns;
  return [
    "## The pipeline against the original design",
    "",
    `${n(result.events)} sample records (${n(result.users)} users, seed 42, event times over 2021-01-01..2021-06-30) and the ten default rules of \`pia sample\`, through both designs on DynamoDB Local. Every DynamoDB call of either design goes through the same counting middleware (\`tallyDynamoDb\`: \`ReturnConsumedCapacity: TOTAL\` on every call, each request counted). Ours delivered ${n(result.notifications)} notifications (\`pia simulate\` on the same records: ${n(details.simulatedNotifications)}).`,
    "",
    table(["per 1,000 events", "ours", "original", "ours / original"], rows),
    "",
    `![DynamoDB cost per 1,000 events, ours against the original design](${input.chart})`,
    "",
    `Ours is the local pipeline (\`runLocalPipeline\`, as \`pia local\`: the four services' real handlers, Kinesis and stream batches of 1,000, the schedule run once at 2021-07-01). Its wall time includes starting DynamoDB Local and the local SQS; the original's includes starting its DynamoDB Local and creating its tables; both run on this machine, one after the other.`,
    "",
    `The original's hourly scans dominate its reads here: ${n(hours)} hourly runs over the ${n(hours)} hours the records span (${n(result.events / Math.max(1, hours), 1)} events per hour), each a full Scan of a time-series table that only grows. Their cost per event falls as the event rate rises (a scan costs the same whatever arrived that hour) but rises with the table's age; the per-event work alone already costs ${n(perEvent(result.original.ddb.requests - original.scanCost.requests), 1)} requests per event against ours ${n(perEvent(result.ddb.requests), 2)}. ${input.scanStride === 1 ? "Every hourly Scan was run." : `One hourly Scan in ${input.scanStride} was run for real (${n(original.scansRun)} scans); the runs between are charged the last real one's measured requests and read units (the table grows by about ${n(100 / Math.max(1, original.scansRun), 1)}% of its final size between two real scans, so this undercounts slightly, in the original's favour).`}`,
    "",
    "### How the original design is modelled",
    "",
    "The original (the 2021 AWS sample: Python Lambdas, rules in Honeycode, the tables `kinesis_pinpoint_aggregator` and `kinesis_pinpoint_timeseries`) is replayed by `replayOriginalDesign` on its own tables in DynamoDB Local, records in arrival order:",
    "",
    `- per custom event with a user (${n(original.processed)} of ${n(original.records)} records): the rules read from Honeycode twice (counted as rule lookups, no DynamoDB cost) and one PutItem into the time-series table (it kept every event, with no TTL);`,
    `- when the event matches a lifetime rule (${n(original.aggregated)} events; the original applied only the last matching rule): one GetItem of the user's aggregate, three UpdateItems (count, sum, status flag) and two GetItems to evaluate it, all eventually consistent;`,
    "- with any window rule, a second Lambda every 60 minutes: a full, paginated Scan of the time-series table, one per hour of event time from the first event's hour to the last's (the schedule interleaved with the records);",
    "- records the original could not handle (malformed, no user) blocked its shard for good; here they are skipped at no cost, as are system (`_`) and `trk_` events. The hourly run's own Honeycode reads, its Pinpoint calls and the reset of reset rules are not counted: every omission favours the original.",
  ].join("\n");
}

function engineSection(input: ReportInput): string {
  const e = input.engine;
  return [
    "## The engine",
    "",
    `\`pia simulate\`'s engine over ${n(e.events)} sample records (users = N / 50) with ${n(e.rules)} generated rules, against a loop that only reads the lines and \`JSON.parse\`s them; best of two rounds in one process.`,
    "",
    table(
      ["events", "rules", "engine events/s", "parse-only events/s", "ratio (goal >= 0.5)", "peak RSS (MB)"],
      [
        [
          n(e.events),
          n(e.rules),
          n(e.eventsPerSecond),
          n(e.parseOnlyEventsPerSecond),
          e.ratio.toFixed(2),
          n(e.peakRssMB),
        ],
      ],
    ),
  ].join("\n");
}

function scaleSection(input: ReportInput): string {
  const rows = input.scale.map((cell) => [
    n(cell.events),
    n(cell.rules),
    n(cell.eventsPerSecond),
    n(cell.seconds, 1),
    n(cell.peakRssMB),
    n(cell.peakHeapMB),
    n(cell.notifications),
  ]);
  const growth = input.judgement.growth.map((g) => [
    n(g.rules),
    `${n(g.fromEvents)} -> ${n(g.toEvents)}`,
    `${g.timeFactor.toFixed(1)}x`,
    `${g.heapFactor.toFixed(1)}x`,
    n(g.heapPerMillionMB),
    g.eventsAtHeapLimit === undefined ? "never" : `${n(g.eventsAtHeapLimit / 1e6, 1)} million`,
  ]);
  return [
    "## Scale curve",
    "",
    `The engine once over each input (one cold pass; users = N / 50), each cell in a child process of its own so its peak memory is its own. Peak RSS includes Node and tsx (${n(Math.min(...input.scale.map((cell) => cell.peakRssMB)))} MB at the smallest cell); peak heap is sampled every 25 ms. Node's heap limit on this machine: ${n(input.heapLimitMB)} MB.`,
    "",
    table(
      ["events", "rules", "events/s", "seconds", "peak RSS (MB)", "peak heap (MB)", "notifications"],
      rows,
    ),
    "",
    table(
      ["rules", "events", "time grew", "heap grew", "heap MB per million events", "heap limit reached at"],
      growth,
    ),
    "",
    input.judgement.statement,
  ].join("\n");
}

/** `docs/benchmarks.md`: every figure from the run described in `input`. */
export function renderReport(input: ReportInput): string {
  const m = input.machine;
  return `${[
    "# Benchmarks",
    "",
    `Generated by \`${input.commands[0]}\` on ${input.generatedAt.toISOString().slice(0, 16).replace("T", " ")} UTC (${input.quick ? "quick grid" : "full grid"}, ${Math.round(input.totalSeconds)} s). Every figure below was measured by that run; regenerate the file, do not edit it.`,
    "",
    "## Machine",
    "",
    table(
      ["", ""],
      [
        ["CPU", m.cpu],
        ["cores", String(m.cores)],
        ["memory", `${m.memoryGB} GB`],
        ["Node", m.node],
        ["OS", m.os],
      ],
      false,
    ),
    "",
    "The machine may have been shared with other work while it ran: times vary from run to run. Request and capacity counts hardly do: the original's are the same on every run, ours move by a few requests per 10,000 events with how the stream's records fall into batches.",
    "",
    "## Commands",
    "",
    "```sh",
    ...input.commands,
    "```",
    "",
    "The report calls, in one process, the functions behind the commands after the first (each scale cell in a child process of its own, as shown).",
    "",
    pipelineSection(input),
    "",
    rollingSection(input),
    "",
    engineSection(input),
    "",
    scaleSection(input),
    "",
    "## Raw figures",
    "",
    "```json",
    JSON.stringify(
      { pipeline: input.pipeline.result, rolling: input.rolling, engine: input.engine, scale: input.scale },
      null,
      2,
    ),
    "```",
  ].join("\n")}\n`;
}
