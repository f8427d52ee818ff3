import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {asInstalled, openCommand, type Terminal} from '../scripts/terminal.js';
import type {RenderEvent} from './render-console.js';
import type {Row} from './table.js';

// Rendering in a real terminal: the console's own App and Ink, in a tmux pane,
// fed 10,000 sessions (5,000 statements) that are all new on every refresh
// (bench/render-console.ts). Timed inside the console: from a refresh's data
// entering the store, and from a key's bytes becoming readable on stdin, to the
// frame's last byte written to the pty; checked once from outside (tmux
// send-keys until capture-pane shows the change).

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'render-console.js');
const installed = asInstalled();
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const wall = () => performance.timeOrigin + performance.now();

/** nearest rank */
function pct(xs: readonly number[], p: number): number {
	if (xs.length === 0) return Number.NaN;
	const sorted = [...xs].sort((a, b) => a - b);
	return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}
const ms = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(1));

type Of<K extends RenderEvent['kind']> = Extract<RenderEvent, {kind: K}>;
type Sample = {label: string; wall: number; cpu: number; fromSend: number; refreshBetween: boolean};
type Phase = {screen: string; from: number; to: number};

export type RenderOptions = {
	/** seconds of refreshes measured per screen and size */
	seconds: number;
	/** a directory for --cpu-prof profiles of the console, when profiling */
	profileDir?: string;
	log(line: string): void;
};

export type RenderResult = {refresh: Row[]; keys: Row[]; outside: Row[]};

/** The console's events, as it appends them to its log after each frame. */
class EventLog {
	readonly events: RenderEvent[] = [];
	private read = 0;
	constructor(readonly file: string) {}
	update(): RenderEvent[] {
		let text = '';
		try {
			text = fs.readFileSync(this.file, 'utf8');
		} catch {
			return this.events;
		}
		const complete = text.lastIndexOf('\n') + 1;
		for (const line of text.slice(this.read, complete).split('\n')) if (line) this.events.push(JSON.parse(line) as RenderEvent);
		this.read = complete;
		return this.events;
	}
	/** The first event of `kind` at or after `at`, before `until`. */
	first<K extends RenderEvent['kind']>(kind: K, at: number, until = Infinity): Of<K> | undefined {
		return this.events.find((e): e is Of<K> => e.kind === kind && e.at >= at && e.at < until);
	}
}

/**
 * Keys one at a time: each sent once the last one's frame is on the terminal, then 100–300 ms later
 * (so a refresh's frame falls between some of them), timed from its bytes on stdin to its frame.
 */
async function press(term: Terminal, events: EventLog, samples: Sample[], label: string, keys: string[], literal = false) {
	for (const key of keys) {
		const before = wall();
		if (literal) term.type(key);
		else term.send(key);
		const sent = wall();
		let arrived: Of<'key'> | undefined;
		let frame: Of<'frame'> | undefined;
		while (!frame && wall() - before < 20_000) {
			await sleep(15);
			events.update();
			arrived = events.first('key', before);
			frame = arrived && events.first('frame', arrived.at);
		}
		if (arrived && frame) samples.push({label, wall: frame.at - arrived.at, cpu: (frame.cpu - arrived.cpu) / 1000, fromSend: frame.at - sent, refreshBetween: events.first('data', before, frame.at) !== undefined});
		await sleep(100 + Math.random() * 200);
	}
}

const repeat = (key: string, n: number) => Array.from({length: n}, () => key);

async function runSize(url: string, columns: number, rows: number, options: RenderOptions, result: RenderResult) {
	const size = `${columns}x${rows}`;
	const events = new EventLog(`${os.tmpdir()}/intowork-render-${process.pid}-${size}.jsonl`);
	fs.rmSync(events.file, {force: true});
	const flags = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : [];
	const term = openCommand([process.execPath, ...installed.nodeFlags, ...flags, entry, url, 'connections', '1000'], {columns, rows, name: 'bench-render', env: {...installed.env, BENCH_RENDER_LOG: events.file}});
	const phases: Phase[] = [];
	const samples: Sample[] = [];
	const outside: Array<{seen: number; inside?: number}> = [];
	try {
		await term.waitFor(/10000 sessions/, 120_000, 'the Connections screen with 10,000 sessions');
		options.log(`render ${size}: Connections ready, load average ${os.loadavg()[0]!.toFixed(2)}`);
		let from = wall();
		await sleep(options.seconds * 1000);
		phases.push({screen: 'connections', from, to: wall()});
		await press(term, events, samples, 'Down', repeat('Down', 20));
		await press(term, events, samples, 'PageDown', repeat('PageDown', 10));
		await press(term, events, samples, 'sort (s)', repeat('s', 10));
		await press(term, events, samples, "filter: '/' and typing", ['/']);
		await press(term, events, samples, "filter: '/' and typing", [...'api-1'], true);
		await press(term, events, samples, 'filter: Enter, Esc', ['Enter', 'Escape']);
		if (columns === 200) {
			// from outside: from send-keys until tmux shows a different screen (each capture-pane a tmux command of its own)
			for (let i = 0; i < 10; i++) {
				const previous = term.capture();
				const before = wall();
				term.send('Down');
				while (term.capture() === previous) await new Promise(resolve => setImmediate(resolve));
				const seen = wall();
				events.update();
				const arrived = events.first('key', before);
				const frame = arrived && events.first('frame', arrived.at);
				outside.push({seen: seen - before, inside: arrived && frame ? frame.at - arrived.at : undefined});
				await sleep(100 + Math.random() * 200);
			}
		}
		term.send('3');
		await term.waitFor(/calls/, 60_000, 'the Queries screen');
		// its interval view needs a second sample
		await sleep(2500);
		from = wall();
		await sleep(options.seconds * 1000);
		phases.push({screen: 'statements', from, to: wall()});
		await press(term, events, samples, 'Queries: Down', repeat('Down', 20));
		await press(term, events, samples, 'Queries: PageDown', repeat('PageDown', 10));
		await press(term, events, samples, 'Queries: sort (s)', repeat('s', 6));
		term.send('q');
		await term.waitFor(/^\[exit \d+\]$/m, 60_000, 'the console to quit');
		options.log(`render ${size}: done, load average ${os.loadavg()[0]!.toFixed(2)}`);
	} finally {
		term.kill();
	}
	events.update();
	fs.rmSync(events.file, {force: true});

	for (const phase of phases) {
		const data = events.events.filter((e): e is Of<'data'> => e.kind === 'data' && e.screen === phase.screen && e.at >= phase.from && e.at < phase.to);
		const latency: number[] = [];
		const cpu: number[] = [];
		const bytes: number[] = [];
		for (const [i, d] of data.entries()) {
			const frame = events.first('frame', d.at, data[i + 1]?.at);
			if (!frame) continue;
			latency.push(frame.at - d.at);
			cpu.push((frame.cpu - d.cpu) / 1000);
			bytes.push(frame.bytes);
		}
		// the whole process between the first and the last refresh's data: whole refreshes, each with its frame
		const n = data.length - 1;
		const perRefresh = n > 0 ? (data.at(-1)!.cpu - data[0]!.cpu) / 1000 / n : Number.NaN;
		const synthetic = n > 0 ? data.slice(1).reduce((s, d) => s + d.synthetic, 0) / 1000 / n : Number.NaN;
		result.refresh.push([
			`${phase.screen === 'connections' ? 'Connections, 10,000 sessions' : 'Queries, 5,000 statements'}, ${size}`,
			String(latency.length),
			ms(pct(latency, 0.5)),
			ms(pct(latency, 0.95)),
			ms(pct(cpu, 0.5)),
			(pct(bytes, 0.5) / 1024).toFixed(1),
			ms(perRefresh - synthetic),
			ms(synthetic),
		]);
	}

	const labels = [...new Set(samples.map(s => s.label))];
	for (const [label, of] of [...labels.map(l => [l, samples.filter(s => s.label === l)] as const), ['every key above', samples] as const]) {
		result.keys.push([
			`${label}, ${size}`,
			String(of.length),
			ms(pct(of.map(s => s.wall), 0.5)),
			ms(pct(of.map(s => s.wall), 0.95)),
			ms(pct(of.map(s => s.cpu), 0.95)),
			ms(pct(of.map(s => s.fromSend), 0.95)),
			String(of.filter(s => s.refreshBetween).length),
		]);
	}

	if (outside.length) {
		const inside = outside.flatMap(o => (o.inside === undefined ? [] : [o.inside]));
		const seen = outside.map(o => o.seen);
		result.outside.push([`Down, ${size}`, String(outside.length), ms(pct(seen, 0.5)), ms(pct(seen, 0.95)), ms(pct(inside, 0.5)), ms(pct(inside, 0.95))]);
	}
}

/** The real console rendering 10,000 sessions in tmux at 200x50 and 80x24. `url`: a server for its capabilities (the rows are synthetic). */
export async function benchRender(url: string, options: RenderOptions): Promise<RenderResult> {
	const result: RenderResult = {refresh: [], keys: [], outside: []};
	for (const [columns, rows] of [
		[200, 50],
		[80, 24],
	] as const)
		await runSize(url, columns, rows, options, result);
	return result;
}
