// bench/chart.ts: an SVG bar chart of Stevedore/distribution ratios, written by hand (no chart
// library): one horizontal bar per metric, a dashed line at 1.0x across all rows, and on each row a
// red tick at that metric's target. Bars that reach their target (or 1.0x without one) are green.

export interface Bar {
  label: string;
  ratio: number;
  target?: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function ratioChart(title: string, subtitle: string, bars: Bar[]): string {
  const row = 22;
  const labelW = 260;
  const plotW = 520;
  const top = 58;
  const height = top + bars.length * row + 40;
  const width = labelW + plotW + 80;
  const max = Math.max(1.2, ...bars.map((b) => Math.max(b.ratio, b.target ?? 0) * 1.1));
  const x = (r: number) => Math.round((labelW + (Math.min(r, max) / max) * plotW) * 10) / 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="38" fill="#555">${esc(subtitle)}</text>`,
  ];
  // Grid: a light line at every whole ratio, labelled below the plot.
  for (let r = 0; r <= max; r += max > 8 ? 2 : 1) {
    out.push(`<line x1="${x(r)}" y1="${top - 6}" x2="${x(r)}" y2="${top + bars.length * row}" stroke="#eee"/>`);
    out.push(`<text x="${x(r)}" y="${top + bars.length * row + 16}" text-anchor="middle" fill="#555">${r}x</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * row;
    const goal = b.target ?? 1;
    const colour = b.ratio >= goal ? '#3a9a4a' : '#e08a2c';
    out.push(`<text x="${labelW - 8}" y="${y + row / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`);
    out.push(`<rect x="${labelW}" y="${y + 4}" width="${Math.max(0, x(b.ratio) - labelW)}" height="${row - 8}" fill="${colour}"/>`);
    out.push(`<text x="${x(b.ratio) + 4}" y="${y + row / 2 + 4}">${b.ratio.toFixed(2)}x</text>`);
    if (b.target !== undefined) {
      out.push(`<line x1="${x(b.target)}" y1="${y + 1}" x2="${x(b.target)}" y2="${y + row - 1}" stroke="#c0392b" stroke-width="3">`);
      out.push(`<title>target ${b.target}x</title></line>`);
    }
  });
  out.push(
    `<line x1="${x(1)}" y1="${top - 6}" x2="${x(1)}" y2="${top + bars.length * row}" stroke="#333" stroke-dasharray="4 3"/>`,
    `<text x="${labelW + plotW + 8}" y="${top + bars.length * row + 32}" text-anchor="end" fill="#555">dashed: 1.0x (parity); red tick: the metric's target</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}
