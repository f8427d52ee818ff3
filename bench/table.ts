export type Row = string[];

/** A plain-text table, so the numbers paste into the readme as they are. */
export function printTable(title: string, header: Row, rows: Row[]): void {
	const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)));
	const line = (r: Row) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
	process.stdout.write(`\n${title}\n\n${line(header)}\n|${widths.map((w, i) => (i === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|\n${rows.map(line).join('\n')}\n`);
}
