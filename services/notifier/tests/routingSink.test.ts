import type { NotificationMessage } from "@pia/aws";
import { describe, expect, it } from "vitest";
import type { Sink } from "../src/ports.js";
import { buildRoutingSink } from "../src/sinks/routingSink.js";

const message = (id: string, sink?: NotificationMessage["sink"]): NotificationMessage => ({
  id,
  notification: {
    appId: "a",
    userId: "u",
    ruleId: "r",
    type: "event",
    name: "trk_x",
    at: "2021-01-01T00:00:00.000Z",
  },
  ...(sink === undefined ? {} : { sink }),
});

function recording(name: string, seen: string[]): Sink {
  return {
    name,
    deliver: async (batch) =>
      batch.map(({ id }) => {
        seen.push(`${name}:${id}`);
        return { id, status: "delivered" as const };
      }),
  };
}

describe("buildRoutingSink", () => {
  it("sends each message to its rule's sink, or to the default", async () => {
    const seen: string[] = [];
    const sink = buildRoutingSink("file", {
      file: recording("file", seen),
      webhook: recording("webhook", seen),
    });
    const results = await sink.deliver([message("1"), message("2", "webhook"), message("3", "file")]);
    expect(seen.sort()).toEqual(["file:1", "file:3", "webhook:2"]);
    expect(results.map((result) => result.status)).toEqual(["delivered", "delivered", "delivered"]);
  });

  it("refuses for good a message for a sink the stage has not configured", async () => {
    const sink = buildRoutingSink("file", { file: recording("file", []) });
    const [result] = await sink.deliver([message("9", "pinpoint")]);
    expect(result).toMatchObject({ id: "9", status: "permanent" });
    expect(result?.status === "permanent" && result.error).toMatch(/"pinpoint" is not configured/);
  });
});
