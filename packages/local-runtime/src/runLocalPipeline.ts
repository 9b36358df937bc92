import { LocalPipeline, type LocalPipelineOptions, type LocalRunSummary } from "./LocalPipeline.js";

export interface LocalRunOptions extends LocalPipelineOptions {
  /** Raw records, one Pinpoint event-stream JSON each (blank lines are not records). */
  readonly lines: AsyncIterable<string> | Iterable<string>;
  /** The schedule's clock, epoch ms. */
  readonly now: number;
}

/**
 * One run of the pipeline on a stack of its own, for an input known in advance (`pia local`, the
 * benchmarks): starts a `LocalPipeline`, feeds it `lines`, drains it, runs the schedule at `now`,
 * and stops it, whether that succeeds or throws. Callers that keep the pipeline running own a
 * `LocalPipeline` instead.
 */
export async function runLocalPipeline(options: LocalRunOptions): Promise<LocalRunSummary> {
  const pipeline = await LocalPipeline.start(options);
  try {
    await pipeline.feed(options.lines);
    await pipeline.drain();
    await pipeline.runSchedule(options.now);
    return await pipeline.summary();
  } finally {
    await pipeline.stop();
  }
}
