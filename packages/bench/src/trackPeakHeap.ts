/**
 * Samples the V8 heap every `intervalMs` until stopped and returns the peak seen, in bytes. The
 * engine reads its input through async iteration, so the timer gets its turns during a run.
 */
export function trackPeakHeap(intervalMs = 25): { stop(): number } {
  let peak = process.memoryUsage().heapUsed;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().heapUsed);
    },
  };
}
