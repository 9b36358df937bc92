import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildFileSink } from "../src/sinks/fileSink.js";
import { EVENT, EXIT, message } from "./fixtures.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-file-sink-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, "utf8")).split("\n").filter((line) => line !== "");
}

describe("buildFileSink", () => {
  it("appends exactly the contract's fields in order, one line each, creating the directory", async () => {
    const path = join(dir, "nested", "deeper", "notifications.ndjson");
    const sink = buildFileSink(path);

    const results = await sink.deliver([message("fire-a", "user-1"), EVENT]);

    expect(sink.name).toBe("file");
    expect(results).toStrictEqual([
      { id: "fire-a", status: "delivered" },
      { id: "fire-e", status: "delivered" },
    ]);
    expect(await readFile(path, "utf8")).toBe(
      '{"appId":"app-1","userId":"user-1","ruleId":"big-spender","type":"attribute","name":"big_spender","value":"Ready","at":"2021-01-31T23:59:59.999Z"}\n' +
        '{"appId":"app-1","userId":"user-2","ruleId":"viewer","type":"event","name":"trk_viewer","at":"2024-03-15T10:30:00.123Z"}\n',
    );
  });

  it('writes an exit as it is: value "" (remove the attribute) and seq', async () => {
    const path = join(dir, "notifications.ndjson");

    expect(await buildFileSink(path).deliver([EXIT])).toStrictEqual([{ id: "fire-x", status: "delivered" }]);
    expect(await lines(path)).toStrictEqual([
      '{"appId":"app-1","userId":"user-3","ruleId":"active","type":"attribute","name":"active","value":"","at":"2024-03-15T10:30:00.123Z","seq":2}',
    ]);
  });

  it("appends to what the file already holds", async () => {
    const path = join(dir, "out.ndjson");
    await writeFile(path, "earlier\n");

    await buildFileSink(path).deliver([message("fire-a")]);

    expect(await lines(path)).toHaveLength(2);
    expect((await lines(path))[0]).toBe("earlier");
  });

  it("writes a message delivered twice once, and still answers delivered", async () => {
    const path = join(dir, "out.ndjson");
    const sink = buildFileSink(path);

    await sink.deliver([message("fire-a"), message("fire-b")]);
    const again = await sink.deliver([message("fire-b"), message("fire-c")]);

    expect(again.map(({ status }) => status)).toStrictEqual(["delivered", "delivered"]);
    expect((await lines(path)).map((line) => JSON.parse(line).userId)).toStrictEqual([
      "user-fire-a",
      "user-fire-b",
      "user-fire-c",
    ]);
  });

  it("writes an id repeated within one batch once", async () => {
    const path = join(dir, "out.ndjson");

    const results = await buildFileSink(path).deliver([message("fire-a"), message("fire-a")]);

    expect(results).toHaveLength(2);
    expect(await lines(path)).toHaveLength(1);
  });

  it("writes overlapping batches delivered at the same time once each", async () => {
    const path = join(dir, "out.ndjson");
    const sink = buildFileSink(path);

    await Promise.all([
      sink.deliver([message("fire-a"), message("fire-b")]),
      sink.deliver([message("fire-b"), message("fire-a")]),
      sink.deliver([message("fire-c")]),
    ]);

    const users = (await lines(path)).map((line) => JSON.parse(line).userId);
    expect(users.sort()).toStrictEqual(["user-fire-a", "user-fire-b", "user-fire-c"]);
  });

  it("asks to retry the batch when it cannot write, and keeps working for the next batch", async () => {
    const blocker = join(dir, "blocker");
    await writeFile(blocker, "a file where the directory should be");
    const sink = buildFileSink(join(blocker, "out.ndjson"));

    const results = await sink.deliver([message("fire-a"), message("fire-b")]);

    expect(results).toMatchObject([
      { id: "fire-a", status: "retry", error: expect.stringMatching(/cannot append.*(EEXIST|ENOTDIR)/) },
      { id: "fire-b", status: "retry" },
    ]);
    // The failure left the ids unwritten: once the path works, they are written.
    await rm(blocker);
    expect((await sink.deliver([message("fire-a")]))[0]?.status).toBe("delivered");
    expect(await lines(join(blocker, "out.ndjson"))).toHaveLength(1);
  });
});
