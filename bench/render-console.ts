import '../source/runtime-env.js';
import fs from 'node:fs';
import type {Queryable} from '../source/db/monitor.js';
import type {Loader} from '../source/store/poller.js';
import type {StatementsData, StatementsReady, Statement} from '../source/db/statements.js';
import type {ConnectionsData} from '../source/db/connections.js';

// The console as the bin runs it (real App, real Ink render() on this process's
// terminal, the real poller), with the two big screens fed by synthetic
// loaders: no PostgreSQL on this machine holds 10,000 sessions. Every refresh
// brings 10,000 sessions never seen before (new pids, durations, states), read
// through the real Connections loader (its row mapping, summary and lock
// tree), so nothing the console memoises survives a refresh. It records when
// each key's bytes arrived, when new data entered the store, and when each
// frame was written to the terminal, and appends them to BENCH_RENDER_LOG as
// each frame is written, for bench/render.ts (which waits for a key's frame
// before sending the next key). Bundled like the bin (scripts/bundle.ts), so its Ink
// is the bin's, patches included. No JSX here: see cli.tsx.

/** at: wall-clock ms; cpu: the whole process's user+system µs so far */
export type RenderEvent =
	/** a key's bytes became readable on stdin */
	| {kind: 'key'; at: number; cpu: number}
	/** a frame (or the part of it that changed) was written to the terminal */
	| {kind: 'frame'; at: number; cpu: number; bytes: number}
	/** a refresh's data entered the store; synthetic: µs spent making up its rows */
	| {kind: 'data'; at: number; cpu: number; screen: string; synthetic: number};

/** Wall-clock ms with µs resolution: comparable with the harness's clock in another process. */
const now = () => performance.timeOrigin + performance.now();
const cpuNow = () => {
	const c = process.cpuUsage();
	return c.user + c.system;
};

const sessions = Number(process.env.BENCH_RENDER_SESSIONS ?? 10_000);
const statementCount = Number(process.env.BENCH_RENDER_STATEMENTS ?? 5000);
let pending: RenderEvent[] = [];
/** written after the frame, so the write is not part of what is timed */
function flush() {
	if (process.env.BENCH_RENDER_LOG && pending.length) fs.appendFileSync(process.env.BENCH_RENDER_LOG, pending.map(e => `${JSON.stringify(e)}\n`).join(''));
	pending = [];
}
let synthetic = 0;

function timedSynthetic<T>(make: () => T): T {
	const c = cpuNow();
	const value = make();
	synthetic = cpuNow() - c;
	return value;
}

let refresh = 0;
/** the lock waiters of the last activityRows(), as the waiters statement returns them */
let waits: Array<{pid: number; blocked_by: number[]; wait_ms: string}> = [];
const states = ['active', 'idle', 'idle', 'idle in transaction', 'idle', 'active', 'idle in transaction (aborted)', 'idle'];

/** pg_stat_activity as the Connections statement returns it, 10,000 sessions none of which was in the last refresh. */
function activityRows() {
	refresh++;
	waits = [];
	const base = 100_000 + (refresh % 50) * sessions;
	const seed = refresh * 7919;
	return Array.from({length: sessions}, (_, i) => {
		const pid = base + i;
		const r = (i * 2654435761 + seed) >>> 0;
		const state = states[r % states.length]!;
		// epoch seconds, as the Connections statement sends them: this refresh's minute of 2026-01-01, a µs per session
		const start = Date.UTC(2026, 0, 1, 0, refresh % 60) / 1000 + i / 1e6;
		// one in a hundred waits on a lock held by a session before it: a lock tree of queues
		const waiting = i % 100 === 7;
		const s = (r % 9_000_000) / 100_000;
		const now = start + 600 + s;
		if (waiting) waits.push({pid, blocked_by: [base + i - 1 - (r % 5)], wait_ms: String((s * 1000) / 4)});
		return {
			pid,
			datname: 'intowork',
			usename: i % 10 === 0 ? 'intowork_admin' : 'intowork_app',
			application_name: `intowork-api-${r % 40}`,
			client_addr: `10.0.${(i >> 8) & 255}.${i & 255}`,
			client_hostname: null,
			client_port: 40_000 + (r % 20_000),
			backend_type: 'client backend',
			state,
			wait_event_type: waiting ? 'Lock' : state === 'idle' ? 'Client' : null,
			wait_event: waiting ? 'transactionid' : state === 'idle' ? 'ClientRead' : null,
			now,
			backend_start: start,
			xact_start: state.startsWith('idle in') || state === 'active' ? now - s : null,
			query_start: now - s / 2,
			state_change: now - s / 3,
			query: `SELECT j.id, j.title FROM jobs j WHERE j.status = $1 AND j.location = $2 /* ${r % 997} */`,
			leader_pid: null,
			superuser: false,
		};
	});
}

function statement(n: number): Statement {
	// each refresh adds calls at a rate of its own, so the interval view's numbers are all new
	const calls = 10_000 - n + refresh * ((n * 31) % 17);
	return {
		key: `10/${1_000_000 + n}/true`,
		userid: 10,
		role: 'intowork_app',
		queryid: String(1_000_000 + n),
		toplevel: true,
		text: `SELECT * FROM job_applications WHERE candidate_id = $1 AND status = $2 /* variant ${n} */`,
		calls,
		totalMs: calls * (3.1 + (n % 13)),
		meanMs: 3.1 + (n % 13),
		maxMs: 40 + (n % 100),
		stddevMs: 2,
		rows: calls * 20,
		sharedHit: calls * 1000,
		sharedRead: calls * (n % 7),
		ioMs: 0,
	};
}

async function main() {
	const [dsn = '', screen = 'connections', interval = '1000'] = process.argv.slice(2);
	const [{default: React}, {render}, {App}, {startPoller}, {createAppStore}, {loaders}, {loadConnections}, {intervalStatements}, {Monitor}, {resolveTarget}, {detectCapabilities}, {defaultConfig}, {JobRegistry}, {RingBuffer}] =
		await Promise.all([
			import('react'),
			import('ink'),
			import('../source/app.js'),
			import('../source/store/poller.js'),
			import('../source/store/store.js'),
			import('../source/screens/registry.js'),
			import('../source/db/connections.js'),
			import('../source/db/statements.js'),
			import('../source/db/monitor.js'),
			import('../source/db/dsn.js'),
			import('../source/db/capabilities.js'),
			import('../source/config.js'),
			import('../source/jobs/registry.js'),
			import('../source/ring-buffer.js'),
		]);
	// a real server for what is not synthetic: the capabilities the poller reads again every 15 s
	const monitor = new Monitor(resolveTarget({dsn, env: {}}));
	await monitor.connect();
	const caps = await detectCapabilities(monitor);
	// the Connections loader's two statements: the sessions, then (waitersSql) the lock waiters among them
	const activity: Queryable = {query: async (sql: string) => (sql.includes('pg_blocking_pids') ? {rows: waits} : {rows: timedSynthetic(activityRows)}) as never};
	const connections: Loader<ConnectionsData> = (ctx, previous) => loadConnections({...ctx, db: activity}, previous);
	const statements: Loader<StatementsData> = async (_ctx, previous) => {
		const list = timedSynthetic(() => {
			refresh++;
			return Array.from({length: statementCount}, (_, n) => statement(n));
		});
		const serverTime = Date.now();
		const ready = previous?.kind === 'ready' ? previous : undefined;
		const seconds = ready ? (serverTime - ready.probe.serverTime) / 1000 : 0;
		const interval = ready && seconds > 0 ? {seconds, statements: intervalStatements(list, ready.statements, seconds)} : undefined;
		const sum = (f: (s: {msPerSecond: number; callsPerSecond: number}) => number) => interval?.statements.reduce((n, s) => n + f(s), 0) ?? 0;
		const load = RingBuffer.from(ready?.load, 120);
		const data: StatementsReady = {
			kind: 'ready',
			caps: caps.statements,
			probe: {serverTime, dbid: 1, database: 'intowork', version: '1.10', schema: 'public', preloaded: true, preload: 'pg_stat_statements', startedAt: serverTime - 3_600_000, ioTiming: true},
			version: '1.10',
			schema: 'public',
			statements: list,
			interval,
			load: interval ? load.push({at: serverTime, msPerSecond: sum(s => s.msPerSecond), callsPerSecond: sum(s => s.callsPerSecond)}) : load,
			hiddenTexts: 0,
		};
		return data;
	};

	const store = createAppStore({
		target: 'bench:***@synthetic:5432/intowork',
		intervalMs: Number(interval),
		caps,
		connection: monitor.state,
		screen: screen as 'connections' | 'statements',
		size: {columns: process.stdout.columns || 80, rows: process.stdout.rows || 24},
	});
	monitor.on('state', connection => store.setState({connection}));
	store.subscribe((s, prev) => {
		for (const id of ['connections', 'statements'] as const) {
			if (s.data[id]?.value !== prev.data[id]?.value) pending.push({kind: 'data', at: now(), cpu: cpuNow(), screen: id, synthetic});
		}
	});
	// the earliest a key is seen: the event that makes Ink read stdin
	const emit = process.stdin.emit;
	process.stdin.emit = function (this: typeof process.stdin, event: string | symbol, ...args: unknown[]) {
		if (event === 'readable') pending.push({kind: 'key', at: now(), cpu: cpuNow()});
		return (emit as (...a: unknown[]) => boolean).call(this, event, ...args);
	} as typeof emit;
	// Ink writes a frame between the synchronized-output brackets: the frame is on the terminal once the closing one is
	const endSync = '\u001B[?2026l';
	let bytes = 0;
	const write = process.stdout.write;
	process.stdout.write = function (this: typeof process.stdout, chunk: unknown, ...rest: unknown[]) {
		// a terminal write is synchronous on Linux: when it returns, the bytes are in the pty
		const done = (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
		if (chunk === endSync) {
			pending.push({kind: 'frame', at: now(), cpu: cpuNow(), bytes});
			bytes = 0;
			flush();
		} else bytes += typeof chunk === 'string' ? chunk.length : (chunk as Uint8Array).length;
		return done;
	} as typeof write;

	const poller = startPoller(store, monitor, {...loaders(), connections: {load: connections}, statements: {load: statements}}, defaultConfig);
	process.stdout.write('\u001B[?1049h\u001B[H');
	const jobs = new JobRegistry();
	const instance: ReturnType<typeof render> = render(React.createElement(App, {services: {store, db: monitor, target: monitor.target, config: defaultConfig, jobs, refreshNow: poller.refreshNow, quit: () => instance.unmount()}}), {
		exitOnCtrlC: false,
		patchConsole: true,
	});
	await instance.waitUntilExit();
	poller.stop();
	process.stdout.write = write;
	process.stdout.write('\u001B[?1049l');
	await monitor.close();
	flush();
}

await main();
