import { describe, expect, it } from "vitest";
import { renderCostChart } from "../src/renderCostChart.js";

interface Bar {
  readonly series: string;
  readonly group: string;
  readonly value: number;
  readonly y: number;
  readonly height: number;
}

function barsOf(svg: string): Bar[] {
  return [...svg.matchAll(/<rect class="bar" ([^>]*)\/>/g)].map((match) => {
    const attribute = (name: string) => {
      const found = new RegExp(`${name}="([^"]*)"`).exec(match[1] ?? "");
      if (found?.[1] === undefined) throw new Error(`bar without ${name}: ${match[0]}`);
      return found[1];
    };
    return {
      series: attribute("data-series"),
      group: attribute("data-group"),
      value: Number(attribute("data-value")),
      y: Number(attribute("y")),
      height: Number(attribute("height")),
    };
  });
}

describe("renderCostChart", () => {
  const groups = [
    { label: "requests", ours: 118, original: 6_120 },
    { label: "read units (RCU)", ours: 346, original: 40_000 },
    { label: "write units (WCU)", ours: 1_040, original: 650 },
  ];
  const svg = renderCostChart("cost per 1,000 events", groups);
  const bars = barsOf(svg);

  it("draws one bar per group and series, carrying its value", () => {
    expect(bars.map((bar) => `${bar.group}/${bar.series}=${bar.value}`)).toEqual([
      "requests/ours=118",
      "requests/original=6120",
      "read units (RCU)/ours=346",
      "read units (RCU)/original=40000",
      "write units (WCU)/ours=1040",
      "write units (WCU)/original=650",
    ]);
  });

  it.each(groups)("makes the bars of $label proportional to their values on a shared baseline", (group) => {
    const ours = bars.find((bar) => bar.group === group.label && bar.series === "ours");
    const original = bars.find((bar) => bar.group === group.label && bar.series === "original");
    if (ours === undefined || original === undefined) throw new Error("missing bar");
    expect(Math.max(ours.height, original.height)).toBe(200);
    expect(ours.height / original.height).toBeCloseTo(group.ours / group.original, 3);
    expect(ours.y + ours.height).toBe(original.y + original.height);
  });

  it("draws zero-height bars for a group of zeros and escapes text", () => {
    const other = renderCostChart("a <b> & c", [{ label: "x & y", ours: 0, original: 0 }]);
    expect(barsOf(other).map((bar) => bar.height)).toEqual([0, 0]);
    expect(other).toContain("a &#60;b&#62; &#38; c");
    expect(other).not.toContain("<b>");
    expect(other.startsWith("<svg ")).toBe(true);
    expect(other.trimEnd().endsWith("</svg>")).toBe(true);
  });
});
