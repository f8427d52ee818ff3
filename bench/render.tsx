import React from 'react';
import {render} from 'ink-testing-library';
import {App} from '../source/app.js';
import type {Capabilities} from '../source/db/capabilities.js';
import {buildLockTree, summarize, type Backend, type ConnectionsData} from '../source/db/connections.js';
import type {Statement, StatementsReady} from '../source/db/statements.js';
import type {Queryable} from '../source/db/monitor.js';
import {JobRegistry} from '../source/jobs/registry.js';
import {RingBuffer} from '../source/ring-buffer.js';
import {createAppStore, defaultThresholds, type AppState} from '../source/store/store.js';
import type {ScreenId} from '../source/keymap.js';
import type {Row} from './table.js';
import {defaultConfig} from '../source/config.js';

// Rendering alone: the store is filled with synthetic rows and the shell is
// paused, so what is timed is the real components, not the server.
const noServer: Queryable = {query: () => Promise.reject(new Error('the render benchmark has no server'))};

async function frameChange(lastFrame: () => string | undefined, before: string | undefined): Promise<void> {
	while (lastFrame() === before) await new Promise(resolve => setImmediate(resolve));
}

async function timeScreen(screen: ScreenId, caps: Capabilities, state: Partial<AppState>, columns: number, rows: number): Promise<Row> {
	const store = createAppStore({target: 'bench:***@synthetic:5432/intowork', caps, screen, paused: true, connection: {status: 'live', attempt: 0}, ...state});
	const started = performance.now();
	const app = render(<App services={{store, db: noServer, target: {host: 'synthetic', port: 5432, user: 'bench', database: 'intowork', source: 'argument'}, config: defaultConfig, jobs: new JobRegistry(), refreshNow: () => undefined, quit: () => undefined}} />);
	store.setState({size: {columns, rows}});
	await frameChange(app.lastFrame, undefined);
	const first = performance.now() - started;
	const samples: number[] = [];
	for (let i = 0; i < 50; i++) {
		const before = app.lastFrame();
		const t = performance.now();
		app.stdin.write('\u001B[B');
		await frameChange(app.lastFrame, before);
		samples.push(performance.now() - t);
	}
	app.unmount();
	samples.sort((a, b) => a - b);
	return [`${screen}, ${columns}x${rows}`, first.toFixed(1), `${samples[25]!.toFixed(2)} (p95 ${samples[47]!.toFixed(2)})`];
}

function syntheticBackend(i: number): Backend {
	const start = `2026-01-01T00:00:00.${String(i).padStart(6, '0')}Z`;
	return {
		key: `${100_000 + i}@${start}`,
		pid: 100_000 + i,
		backendStart: start,
		queryStart: start,
		database: 'intowork',
		user: 'intowork_app',
		application: `intowork-api-${i % 40}`,
		clientAddr: `10.0.${(i >> 8) & 255}.${i & 255}`,
		clientHost: null,
		clientPort: 40_000 + (i % 20_000),
		backendType: 'client backend',
		state: i % 4 === 0 ? 'active' : 'idle',
		waitEventType: null,
		waitEvent: null,
		backendMs: 600_000,
		xactMs: i % 4 === 0 ? i : null,
		queryMs: i,
		stateMs: i,
		lockWaitMs: null,
		query: `SELECT j.id, j.title FROM jobs j WHERE j.status = $1 AND j.location = $2 /* ${i} */`,
		blockedBy: [],
		leaderPid: null,
		own: false,
		hidden: false,
	};
}

function syntheticStatement(n: number): Statement {
	return {
		key: `10/${n}/top`,
		userid: 10,
		role: 'intowork_app',
		queryid: String(1_000_000 + n),
		toplevel: true,
		text: `SELECT * FROM job_applications WHERE candidate_id = $1 AND status = $2 /* variant ${n} */`,
		calls: 10_000 - n,
		totalMs: (10_000 - n) * 3.1,
		meanMs: 3.1,
		maxMs: 40,
		stddevMs: 2,
		rows: 20,
		sharedHit: 1000,
		sharedRead: n % 7,
		ioMs: 0,
	};
}

export async function benchRender(caps: Capabilities): Promise<Row[]> {
	const backends = Array.from({length: 10_000}, (_, i) => syntheticBackend(i));
	const connections: ConnectionsData = {
		backends,
		summary: summarize(backends, 0, {maxConnections: 12_000, reserved: 3}),
		lockTree: buildLockTree(backends),
		thresholds: defaultThresholds,
	};
	const statements: StatementsReady = {
		kind: 'ready',
		caps: caps.statements,
		probe: {serverTime: Date.now(), dbid: 1, database: 'intowork', version: '1.10', schema: 'public', preloaded: true, preload: 'pg_stat_statements', startedAt: Date.now() - 3_600_000, ioTiming: true},
		version: '1.10',
		schema: 'public',
		statements: Array.from({length: 5000}, (_, n) => syntheticStatement(n)),
		load: RingBuffer.empty(120),
		hiddenTexts: 0,
	};
	const at = Date.now();
	const rows: Row[] = [];
	for (const [columns, lines] of [
		[80, 24],
		[200, 50],
	] as const) {
		rows.push(await timeScreen('connections', caps, {data: {connections: {value: connections, at}}}, columns, lines));
		// cumulative: the interval view needs a second sample
		rows.push(await timeScreen('statements', caps, {data: {statements: {value: statements, at}}, ui: {statements: {mode: 'cumulative'}}}, columns, lines));
	}
	return rows;
}
