import '../source/runtime-env.js';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {detectCapabilities} from '../source/db/capabilities.js';
import {resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import {startDemo} from '../source/demo/demo.js';
import {cacheRoot, freePort} from '../source/demo/pg-server.js';
import {screenOrder, screens} from '../source/screens/registry.js';
import {defaultThresholds} from '../source/store/store.js';
import type {Loader} from '../source/store/poller.js';
import {printTable, type Row} from './table.js';
import {benchRender} from './render.js';
import {benchStartup} from './startup.js';
import {benchBackup} from './backup.js';
import {benchMigration} from './migration.js';
import {benchMemoryTerminal, benchPaced, benchPeer} from './peer.js';
import {defaultConfig} from '../source/config.js';
import {loadOverview, type Overview} from '../source/db/overview.js';
import {benchFleet} from './fleet.js';

// The console's cost to the server it watches, measured as the server sees
// it: pg_stat_statements filtered to a role only the benchmark's console uses.
const benchRole = 'intowork_bench';
const refreshes = Number(process.env.BENCH_REFRESHES ?? 60);
// `npm run bench -- backup migration` runs only those sections
const sections = process.argv.slice(2);
const wanted = (name: string) => sections.length === 0 || sections.includes(name);

async function main() {
	const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
	log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`);
	// A demo of its own, so the user's demo (and its migration state) is untouched.
	const demo = await startDemo({cacheDir: path.join(cacheRoot(), 'bench'), port: await freePort(), workload: true, log, replica: wanted('screens'), pgbouncer: wanted('screens')});
	const admin = new pg.Client({connectionString: demo.url});
	await admin.connect();
	await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${benchRole}') THEN CREATE ROLE ${benchRole} LOGIN PASSWORD '${benchRole}'; END IF; END $$`);
	await admin.query(`GRANT pg_monitor TO ${benchRole}`);
	await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${benchRole}`);
	const roleOid = (await admin.query<{oid: number}>(`SELECT oid FROM pg_roles WHERE rolname = $1`, [benchRole])).rows[0]!.oid;
	const benchUrl = demo.url.replace(/\/\/[^@]+@/, `//${benchRole}:${benchRole}@`);

	const monitor = new Monitor(resolveTarget({dsn: benchUrl, env: {}}));
	await monitor.connect();
	const caps = await detectCapabilities(monitor);
	const ctx = {db: monitor, caps, thresholds: defaultThresholds, config: defaultConfig, ownPid: monitor.state.backendPid};

	/** One refresh's statements and server time as pg_stat_statements sees them, for the bench role only, on `server`. */
	async function measure(title: string, refresh: () => Promise<unknown>, server = admin): Promise<Row> {
		// warm-up: first loads of a screen prepare plans and fill caches
		for (let i = 0; i < 3; i++) await refresh();
		await server.query('SELECT pg_stat_statements_reset($1, 0, 0)', [roleOid]);
		const cpu = process.cpuUsage();
		const started = Date.now();
		for (let i = 0; i < refreshes; i++) await refresh();
		const wall = Date.now() - started;
		const used = process.cpuUsage(cpu);
		const s = (
			await server.query<{calls: string; ms: number}>(
				`SELECT coalesce(sum(calls), 0) AS calls, coalesce(sum(total_exec_time), 0) AS ms FROM pg_stat_statements WHERE userid = $1 AND query NOT LIKE '%pg_stat_statements_reset%'`,
				[roleOid],
			)
		).rows[0]!;
		return [title, (Number(s.calls) / refreshes).toFixed(1), (s.ms / refreshes).toFixed(2), ((used.user + used.system) / 1000 / refreshes).toFixed(2), (wall / refreshes).toFixed(1)];
	}

	const perScreen: Row[] = [];
	for (const id of wanted('screens') ? screenOrder : []) {
		// every screen's data in turn: the bench measures cost, not what the data is
		const load = screens[id].load as Loader<unknown> | undefined;
		if (!load) continue;
		let previous: unknown;
		perScreen.push(await measure(screens[id].title, async () => (previous = await load(ctx, previous))));
	}
	if (wanted('screens')) perScreen.push(...(await benchFleet({ctx, monitor, caps, measure, demo, benchRole})));
	if (wanted('screens')) printTable(`Per refresh, ${refreshes} refreshes per screen, demo database under its workload`, ['screen', 'statements', 'server ms', 'client CPU ms', 'wall ms'], perScreen);

	const memory: Row[] = [];
	const overview = loadOverview;
	let previous: Overview | undefined;
	const gc = (globalThis as {gc?: () => void}).gc;
	for (let i = 1; i <= (wanted('memory') ? 10_000 : 0); i++) {
		previous = await overview(ctx, previous);
		if (i === 1000 || i === 10_000) {
			gc?.();
			memory.push([`after ${i.toLocaleString('en')} refreshes`, `${(process.memoryUsage().rss / 2 ** 20).toFixed(1)} MiB`, `${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB`]);
		}
	}
	if (wanted('memory')) printTable('Memory of the monitoring loop (overview loader, back to back)', ['', 'RSS', 'heap used'], memory);

	if (wanted('render')) {
		const render = await benchRender(benchUrl, {seconds: Number(process.env.BENCH_RENDER_SECONDS ?? 20), profileDir: process.env.BENCH_RENDER_PROFILE, log});
		printTable(
			'Refresh → frame in a real terminal (tmux), every refresh 10,000 new sessions or 5,000 statements, at 1 s: from the data entering the store to the frame written',
			['case', 'refreshes', 'p50 ms', 'p95 ms', 'CPU ms p50', 'frame KiB', 'process CPU ms per refresh', 'of it synthetic rows'],
			render.refresh,
		);
		printTable(
			'Key press → frame in the same terminals (ms): from the key readable on stdin to its frame written, the CPU the process spent in between, and from tmux send-keys returning',
			['keys', 'n', 'p50', 'p95', 'CPU p95', 'from send p95', 'a refresh between'],
			render.keys,
		);
		printTable('The outside view once: tmux send-keys to capture-pane showing the change, beside the inside figure for the same keys', ['keys', 'n', 'capture-pane p50', 'p95', 'inside p50', 'inside p95'], render.outside);
	}
	if (wanted('startup')) printTable('Start to first full screen (built CLI in tmux)', ['case', 'ms'], await benchStartup(benchUrl));
	if (wanted('backup')) printTable('Backup throughput against a bare pg_dump of the same database (target: within 10 %)', ['', ''], await benchBackup(demo.url));
	if (wanted('migration')) printTable('Migration under a write workload (target: no write waits over 1 s, no errors)', ['', ''], await benchMigration(demo.url));

	if (wanted('peer')) {
		const peer = await benchPeer(demo.url, {
			seconds: Number(process.env.BENCH_PEER_SECONDS ?? 20),
			screens: process.env.BENCH_PEER_SCREENS?.toLowerCase().split(',').filter(Boolean),
			detail: process.env.BENCH_PEER_DETAIL === '1',
			appUrl: demo.appUrl,
			log,
		});
		if (peer) {
			printTable(
				`Beside pg_activity, same run, same database and load, refresh every 1 s, 200x50 terminal (server ms includes planning)`,
				['screen', 'statements', 'server ms', 'of which planning', 'server ratio', 'client CPU ms', 'CPU ratio', 'refreshes/s', 'RSS MiB'],
				peer.perScreen,
			);
			if (peer.startup.length > 0) printTable('First screen with data, same load, median of 5', ['', 'ms', 'CPU ms before it'], peer.startup);
			printTable('Machine', ['', ''], peer.rss);
		}
	}

	if (wanted('paced')) {
		const seconds = Number(process.env.BENCH_PACED_SECONDS ?? 60);
		printTable(`The real console at --interval 250ms on Connections, then paused (p), ${seconds} s each, 200x50 terminal`, ['', ''], await benchPaced(demo.url, {seconds, appUrl: demo.appUrl, log}));
	}

	// half an hour: only when asked for by name (npm run bench -- memory-terminal)
	if (sections.includes('memory-terminal')) {
		const minutes = Number(process.env.BENCH_MEMORY_MINUTES ?? 30);
		printTable(
			`The real console in a terminal at 250 ms on Connections, ${minutes} minutes`,
			['', 'RSS MiB', 'CPU % of a core since start', 'interval achieved'],
			await benchMemoryTerminal(demo.url, {minutes, appUrl: demo.appUrl, log}),
		);
	}

	await monitor.close();
	await admin.end();
	await demo.stop();
}

await main();
