import {openTerminal} from '../scripts/terminal.js';
import type {Row} from './table.js';

/** From launching the built CLI in a real terminal to the overview showing server numbers. */
export async function benchStartup(url: string): Promise<Row[]> {
	const rows: Row[] = [];
	for (const [columns, lines] of [
		[80, 24],
		[200, 50],
	] as const) {
		const samples: number[] = [];
		for (let i = 0; i < 5; i++) {
			const started = Date.now();
			const term = openTerminal([url], {columns, rows: lines});
			try {
				await term.waitFor(/Connections\s+\S+ \d+ \/ \d+ usable/, 30_000);
				samples.push(Date.now() - started);
			} finally {
				term.kill();
			}
		}
		samples.sort((a, b) => a - b);
		rows.push([`${columns}x${lines}, median of 5`, String(samples[2])]);
	}
	return rows;
}
