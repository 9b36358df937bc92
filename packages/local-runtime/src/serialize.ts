/**
 * A lane that runs tasks one at a time, in the order they are given: `LocalPipeline`'s `feed`,
 * `drain` and `runSchedule` do not queue concurrent calls, and a collection endpoint and a
 * schedule timer call them whenever they like. A task's failure is its caller's; the lane goes on.
 */
export function serialize(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const result = tail.then(task);
    tail = result.catch(() => undefined);
    return result;
  };
}
