import { randomUUID } from "node:crypto";
import { lambdaContext } from "@pia/aws";
import type { ScheduledEvent } from "aws-lambda";
import { type FaultState, newFaultState } from "./faults.js";
import type { LambdaHandler } from "./LambdaHandler.js";

export interface LocalScheduleOptions {
  readonly handler: LambdaHandler<ScheduledEvent, void>;
  readonly functionName: string;
  readonly region: string;
  /** Runs at the same `now` before a failure is thrown. */
  readonly maxRuns?: number;
  /** This source's fault counters (default: its own); the handler's clients inject them. */
  readonly faultState?: FaultState;
}

/**
 * The schedule (EventBridge) that invokes the timeseries function, run when its owner says, at the
 * time it gives. On AWS a failed run is finished by the next one; here the next runs come at once,
 * at the same `now`, so that a run returns only once its work is done.
 */
export class LocalSchedule {
  readonly #options: LocalScheduleOptions;
  readonly #faultState: FaultState;

  constructor(options: LocalScheduleOptions) {
    this.#options = options;
    this.#faultState = options.faultState ?? newFaultState();
  }

  get faultState(): FaultState {
    return this.#faultState;
  }

  /** Invokes the handler with the scheduled event of `now` (epoch ms) until a run succeeds. */
  async run(now: number): Promise<void> {
    const { handler, functionName, region, maxRuns = 10 } = this.#options;
    const event: ScheduledEvent = {
      version: "0",
      id: randomUUID(),
      "detail-type": "Scheduled Event",
      source: "aws.events",
      account: "000000000000",
      time: new Date(now).toISOString(),
      region,
      resources: [],
      detail: {},
    };
    for (let run = 1; ; run++) {
      // Faults strike the first run only, like a transient failure.
      this.#faultState.armed = run === 1;
      try {
        await handler(event, lambdaContext(functionName));
        return;
      } catch (error: unknown) {
        if (run >= maxRuns) throw error;
      } finally {
        this.#faultState.armed = false;
      }
    }
  }
}
