import type { NotificationMessage } from "@pia/aws";
import type { Sink } from "@pia/notifier";
import { describe, expect, it } from "vitest";
import { teeSink } from "../src/teeSink.js";

const message = (id: string): NotificationMessage => ({
  id,
  notification: {
    appId: "a",
    userId: "u",
    ruleId: "r",
    type: "event",
    name: "trk_x",
    at: "2021-01-01T00:00:00.000Z",
  },
});

describe("teeSink", () => {
  it("answers with the chosen sink's results and writes to the file only what it delivered", async () => {
    const written: string[] = [];
    const primary: Sink = {
      name: "webhook",
      deliver: async (batch) =>
        batch.map(({ id }) =>
          id === "b" ? { id, status: "retry" as const, error: "503" } : { id, status: "delivered" as const },
        ),
    };
    const file: Sink = {
      name: "file",
      deliver: async (batch) =>
        batch.map(({ id }) => {
          written.push(id);
          return { id, status: "delivered" as const };
        }),
    };
    const results = await teeSink(primary, file).deliver([message("a"), message("b")]);
    expect(results.map((result) => result.status)).toEqual(["delivered", "retry"]);
    expect(written).toEqual(["a"]);
  });
});
