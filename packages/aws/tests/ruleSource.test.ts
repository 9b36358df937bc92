import type { Rule } from "@pia/core";
import { describe, expect, it, vi } from "vitest";
import type { BackfillBoundary } from "../src/backfill.js";
import {
  type CachedRuleSourceOptions,
  cachedRuleSet,
  InvalidStoredRulesError,
  validateStoredRules,
} from "../src/ruleSource.js";
import { parseRuleItems } from "../src/rulesTable/items.js";

function rule(id: string): Rule {
  return {
    id,
    event: "purchase",
    count: { op: ">", value: 3 },
    action: { type: "attribute", name: `n_${id}`, value: "Ready" },
    reset: false,
    enabled: true,
  };
}

/** A load whose calls are counted and whose answers are set per call. */
function loader(...answers: (readonly Rule[] | Error)[]) {
  const load = vi.fn(async () => {
    const answer = answers[Math.min(load.mock.calls.length - 1, answers.length - 1)];
    if (answer instanceof Error) throw answer;
    return answer ?? [];
  });
  return load;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The cache over a source of rules alone, read back as rules (most tests need no backfills). */
function cachedRuleSource(load: () => Promise<readonly Rule[]>, options: CachedRuleSourceOptions = {}) {
  const set = cachedRuleSet(async () => ({ rules: await load(), backfills: new Map() }), options);
  return async () => (await set()).rules;
}

describe("cachedRuleSet", () => {
  it("serves the backfills loaded with the rules for as long as those rules", async () => {
    let clock = 0;
    const first = new Map<string, BackfillBoundary>([["k#1", { boundary: 5, settledAt: 6, mode: "notify" }]]);
    const load = vi
      .fn()
      .mockResolvedValueOnce({ rules: [rule("a")], backfills: first })
      .mockResolvedValueOnce({ rules: [rule("a")], backfills: new Map() });
    const set = cachedRuleSet(load, { ttlMs: 100, now: () => clock });
    expect((await set()).backfills).toBe(first);
    clock = 99;
    expect((await set()).backfills).toBe(first);
    clock = 100;
    expect((await set()).backfills.size).toBe(0);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("serves the loaded rules for ttlMs, then loads again", async () => {
    let clock = 1_000;
    const load = loader([rule("a")], [rule("b")]);
    const rules = cachedRuleSource(load, { ttlMs: 60_000, now: () => clock });

    expect(await rules()).toEqual([rule("a")]);
    clock += 59_999;
    expect(await rules()).toEqual([rule("a")]);
    expect(load).toHaveBeenCalledTimes(1);
    clock += 1;
    expect(await rules()).toEqual([rule("b")]);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("defaults to a 60 s TTL", async () => {
    let clock = 0;
    const load = loader([rule("a")]);
    const rules = cachedRuleSource(load, { now: () => clock });
    await rules();
    clock = 59_999;
    await rules();
    expect(load).toHaveBeenCalledTimes(1);
    clock = 60_000;
    await rules();
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("ages the rules from the start of their load", async () => {
    let clock = 0;
    const pending = deferred<readonly Rule[]>();
    const load = vi.fn(() => pending.promise);
    const rules = cachedRuleSource(load, { ttlMs: 100, now: () => clock });
    const first = rules();
    clock = 80;
    pending.resolve([rule("a")]);
    await first;
    clock = 100;
    await rules();
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("shares one in-flight load between concurrent callers", async () => {
    const pending = deferred<readonly Rule[]>();
    const load = vi.fn(() => pending.promise);
    const rules = cachedRuleSource(load, { now: () => 0 });

    const callers = [rules(), rules(), rules()];
    pending.resolve([rule("a")]);
    const results = await Promise.all(callers);

    expect(load).toHaveBeenCalledTimes(1);
    expect(results).toEqual([[rule("a")], [rule("a")], [rule("a")]]);
    expect(results[1]).toBe(results[0]);
  });

  it("shares a failure with the concurrent callers, caches nothing, and loads again on the next call", async () => {
    const pending = deferred<readonly Rule[]>();
    const load = vi.fn(() => pending.promise);
    const rules = cachedRuleSource(load, { now: () => 0 });

    const callers = [rules(), rules()];
    pending.reject(new Error("ProvisionedThroughputExceededException"));
    for (const caller of callers)
      await expect(caller).rejects.toThrow("ProvisionedThroughputExceededException");
    expect(load).toHaveBeenCalledTimes(1);

    load.mockResolvedValueOnce([rule("a")]);
    expect(await rules()).toEqual([rule("a")]);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("does not serve stale rules when a reload fails: it rethrows, so the batch is retried", async () => {
    let clock = 0;
    const load = loader([rule("a")], new Error("network down"), [rule("b")]);
    const rules = cachedRuleSource(load, { ttlMs: 10, now: () => clock });

    expect(await rules()).toEqual([rule("a")]);
    clock = 10;
    await expect(rules()).rejects.toThrow("network down");
    expect(await rules()).toEqual([rule("b")]);
    expect(load).toHaveBeenCalledTimes(3);
  });

  it("survives a load that throws synchronously", async () => {
    let calls = 0;
    const rules = cachedRuleSource(
      () => {
        calls++;
        if (calls === 1) throw new Error("sync failure");
        return Promise.resolve([rule("a")]);
      },
      { now: () => 0 },
    );
    await expect(rules()).rejects.toThrow("sync failure");
    expect(await rules()).toEqual([rule("a")]);
  });

  it("validates the loaded rules and does not cache invalid ones", async () => {
    const corrupted = { ...rule("broken"), count: { op: ">", value: -1 } } as unknown as Rule;
    const load = loader([rule("fine"), corrupted], [rule("fine")]);
    const rules = cachedRuleSource(load, { now: () => 0, source: "rules table pia-dev-rules" });

    const error = await rules().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidStoredRulesError);
    expect((error as Error).message).toMatch(
      /^rules table pia-dev-rules: 1 invalid stored rule \("broken"\).*\n {2}rule "broken": count\.value: /,
    );
    expect(await rules()).toEqual([rule("fine")]);
  });

  it("applies the defaults of canonical rules", async () => {
    const partial = {
      id: "p",
      event: "view",
      count: { op: ">=", value: 1 },
      action: { type: "event", name: "trk_p" },
    };
    const rules = cachedRuleSource(async () => [partial as unknown as Rule], { now: () => 0 });
    expect(await rules()).toEqual([{ ...partial, reset: false, enabled: true }]);
  });
});

describe("validateStoredRules", () => {
  it("names invalid rules by id, and a rule without a usable id by its position", () => {
    const longId = "x".repeat(129);
    const numericId = { ...rule("n"), id: 42 };
    const error = (() => {
      try {
        validateStoredRules([rule(longId), rule("twice"), rule("twice"), numericId], "rules");
      } catch (e: unknown) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidStoredRulesError);
    expect((error as InvalidStoredRulesError).ruleIds).toEqual([longId, "twice"]);
    const lines = (error as Error).message.split("\n");
    expect(lines[0]).toMatch(/^rules: 3 invalid stored rules \("x+", "twice"\); fix the rules file/);
    expect(lines.slice(1)).toEqual([
      `  rule "${longId}": id: the rule id is 129 characters long; use at most 128`,
      '  rule "twice": id: duplicate id "twice": rules[1] has it too; every rule needs its own id',
      '  rules[3].id: must be text, got 42; quote it: "42"',
    ]);
  });

  it("returns valid rules unchanged", () => {
    expect(validateStoredRules([rule("a"), rule("b")], "rules")).toEqual([rule("a"), rule("b")]);
  });
});

describe("stored rules with a filter on __proto__", () => {
  it("are refused, not read back as a rule that counts every event", () => {
    const stored = JSON.stringify({ ...rule("vip"), where: { placeholder: "vip" } }).replace(
      "placeholder",
      "__proto__",
    );
    const error = (() => {
      try {
        parseRuleItems([{ sk: "vip", rule: stored }], "rules");
      } catch (e: unknown) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidStoredRulesError);
    expect((error as InvalidStoredRulesError).ruleIds).toEqual(["vip"]);
    expect((error as Error).message).toMatch(
      /rule "vip": where\.__proto__: the attribute name "__proto__" is reserved/,
    );
  });
});
