/** One panel of the chart: a cost per 1,000 events for ours and for the original. */
export interface CostGroup {
  readonly label: string;
  readonly ours: number;
  readonly original: number;
}

const PANEL_WIDTH = 220;
const PLOT_HEIGHT = 200;
const BAR_WIDTH = 60;
const TOP = 80;
const COLORS = { ours: "#2f9e44", original: "#868e96" } as const;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const round2 = (value: number) => Math.round(value * 100) / 100;

function formatRatio(ratio: number): string {
  return ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2);
}

function formatValue(value: number): string {
  return value.toLocaleString("en-US", { maximumFractionDigits: value < 10 ? 1 : 0 });
}

/**
 * A plain SVG bar chart, one panel per group with its own linear scale from 0 (the larger bar of
 * a panel is full height), so that a group whose figures differ a hundredfold still reads; every
 * bar is labelled with its value. Bars carry `data-series`, `data-group` and `data-value`.
 */
export function renderCostChart(title: string, groups: readonly CostGroup[]): string {
  const width = Math.max(1, groups.length) * PANEL_WIDTH + 40;
  const height = TOP + PLOT_HEIGHT + 56;
  const baseline = TOP + PLOT_HEIGHT;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="24" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<rect x="20" y="36" width="12" height="12" fill="${COLORS.ours}"/><text x="38" y="46">ours</text>`,
    `<rect x="90" y="36" width="12" height="12" fill="${COLORS.original}"/><text x="108" y="46">original design</text>`,
    `<text x="230" y="46" fill="#555555">each panel has its own scale, from 0</text>`,
  ];
  groups.forEach((group, index) => {
    const left = 20 + index * PANEL_WIDTH;
    const max = Math.max(group.ours, group.original);
    parts.push(
      `<line x1="${left + 20}" y1="${baseline}" x2="${left + PANEL_WIDTH - 20}" y2="${baseline}" stroke="#333333"/>`,
    );
    (["ours", "original"] as const).forEach((series, slot) => {
      const value = group[series];
      const barHeight = max > 0 ? round2((value / max) * PLOT_HEIGHT) : 0;
      const top = round2(baseline - barHeight);
      const x = left + 40 + slot * (BAR_WIDTH + 20);
      parts.push(
        `<rect class="bar" data-series="${series}" data-group="${escapeXml(group.label)}" data-value="${value}" x="${x}" y="${top}" width="${BAR_WIDTH}" height="${barHeight}" fill="${COLORS[series]}"/>`,
        `<text x="${x + BAR_WIDTH / 2}" y="${round2(top - 6)}" text-anchor="middle">${formatValue(value)}</text>`,
      );
    });
    parts.push(
      `<text x="${left + PANEL_WIDTH / 2}" y="${baseline + 22}" text-anchor="middle" font-weight="bold">${escapeXml(group.label)}</text>`,
    );
    if (group.original > 0) {
      parts.push(
        `<text x="${left + PANEL_WIDTH / 2}" y="${baseline + 40}" text-anchor="middle" fill="#555555">ours / original: ${formatRatio(group.ours / group.original)}</text>`,
      );
    }
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
