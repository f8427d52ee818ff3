import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {stopLeftoverPostmaster} from '../source/demo/pg-server.js';
import {findPgbouncer} from '../source/demo/pgbouncer.js';
import {screenIds, screenKey, type ScreenId} from '../source/keymap.js';
import {screens} from '../source/screens/registry.js';
import {cliPath, openTerminal, type Terminal} from '../scripts/terminal.js';
import {waitFor} from './helpers/db.js';
import {demoPlace, escape, see} from './helpers/operator.js';
import {assertFits, sortMarks, verdicts} from './helpers/screen-fit.js';

// The demo with a real streaming replica and a real pgBouncer, in a real terminal (tmux):
// replay paused on the replica shows as growing lag and an alert on every screen; resumed, it clears.
// Beside it, the headless `watch --json` prints the alert's start and stop.

const {base, env, port, dsn} = await demoPlace('e2e-multi');
const cache = env.INTOWORK_DB_CACHE;
const intervalS = 1;
const maxLagS = 3;
// Hanging, idle-in-transaction and lock-wait thresholds past the test's length: the demo's workload makes
// those on purpose, and here only the replica's alert is under test.
const quiet = ['--hanging-after', '1h', '--idle-tx-after', '1h', '--lock-wait-after', '1h'];
const args = ['--demo', '--demo-scale', '0.02', '--demo-port', String(port), '--demo-replica', '--demo-pgbouncer', '--max-lag', `${maxLagS}s`, '--interval', `${intervalS}s`, ...quiet];
const replicaData = path.join(cache, 'demo-pg15', 'replica', 'data');

after(async () => {
	await stopLeftoverPostmaster(replicaData, 20_000);
	await stopLeftoverPostmaster(path.join(cache, 'demo-pg15', 'data'), 20_000);
	const pidFile = path.join(cache, 'demo-pg15', 'pgbouncer', 'pgbouncer.pid');
	const pid = Number.parseInt(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8') : '', 10);
	if (Number.isFinite(pid)) {
		try {
			process.kill(pid, 'SIGTERM');
		} catch {
			// already gone
		}
	}
	fs.rmSync(base, {recursive: true, force: true});
});

/** A screen by its key, once it shows its tab, verdicts and marked sort column; then checked where it stands at that size. */
async function visit(term: Terminal, id: ScreenId, size: {columns: number; rows: number}, patterns: RegExp[] = []): Promise<string> {
	term.send(screenKey(id));
	const screen = await see(term, [new RegExp(escape(`${screenKey(id)} ${screens[id].title}`)), ...(verdicts[id] ?? []), ...(sortMarks[id] ?? []), ...patterns]);
	assertFits(screen, {...size, screen: id, scope: id});
	return screen;
}

const lagOf = (screen: string) => {
	const m = /lag ([\d.]+)s \(max 3\.0s\)/.exec(screen);
	return m ? Number(m[1]) : undefined;
};

test('demo with a replica and pgBouncer: paused replay is growing lag and an alert on every screen; resumed, it clears; watch --json prints both', {timeout: 360_000, skip: findPgbouncer() ? false : 'pgbouncer is not installed (apt-get install pgbouncer)'}, async () => {
	const term = openTerminal(args, {columns: 200, rows: 50, env});
	const watchOut: string[] = [];
	let watch: ReturnType<typeof spawn> | undefined;
	const replicaClient = () => {
		const replicaPort = fs.readFileSync(path.join(replicaData, 'postmaster.pid'), 'utf8').split('\n')[3]!.trim();
		return `postgresql://postgres:postgres@127.0.0.1:${replicaPort}/intowork`;
	};
	let replica: pg.Client | undefined;
	try {
		// header: each target's state on one line, the alert strip under it
		await see(term, [/● live/, /primary ● · replica-1 ● lag [\d.]+(ms|s) · pgbouncer ● \d+ waiting/, /✓ no alerts/, /Cache hit ratio/], 120_000);
		const replicaUrl = replicaClient();
		replica = new pg.Client({connectionString: replicaUrl});
		replica.on('error', () => undefined);
		await replica.connect();

		// the app traffic really goes through pgBouncer
		await see(term, [/pgbouncer ● \d+ waiting/]);
		const wide = {columns: 200, rows: 50};
		await visit(term, 'pgbouncer', wide, [/Pools \(SHOW POOLS\): \d+/, /intowork\s+intowork_app\s+\d+\s+\d+\s+\d+/, /default_pool_size 20/]);

		await visit(term, 'replication', wide, [/Standbys \(pg_stat_replication\): 1/, /intowork-demo-replica\s+127\.0\.0\.1\s+streaming/, /intowork_demo_replica\s+physical\s+active pid \d+/, /replica-1 postgres:\*\*\*@127\.0\.0\.1:\d+\/intowork · in recovery/]);

		watch = spawn(process.execPath, [cliPath, 'watch', '--json', '--dsn', dsn, '--replica', replicaUrl, '--max-lag', `${maxLagS}s`, '--interval', `${intervalS}s`, ...quiet], {env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env}, stdio: ['ignore', 'pipe', 'pipe']});
		watch.stdout!.on('data', d => watchOut.push(...String(d).split('\n').filter(Boolean)));
		let watchErr = '';
		watch.stderr!.on('data', d => (watchErr += String(d)));
		await waitFor(() => /watching primary/.test(watchErr), {timeout: 30_000, message: 'watch started'});

		// a commit replayed first: until the standby has replayed one, its replay timestamp (and so its lag) is unknown
		await see(term, [/replica-1 ● lag [\d.]+m?s/], 60_000);
		await replica.query('SELECT pg_wal_replay_pause()');
		const paused = Date.now();
		// the demo's workload keeps committing on the primary; the standby receives and does not replay
		const first = await see(term, [/REPLAY PAUSED/, /lag [\d.]+s \(max 3\.0s\)/]);
		const lag1 = lagOf(first)!;
		const grown = await waitFor(async () => {
			const s = await see(term, [/REPLAY PAUSED/]);
			return (lagOf(s) ?? 0) > lag1 ? s : undefined;
		}, {timeout: 15_000, message: 'the lag grows'});
		assert.ok(lagOf(grown!)! > lag1);
		// past --max-lag, the alert is on the strip within two refreshes
		const alerting = await see(term, [/▲ 1 alert: replica-1 lag [\d.]+s \(replay paused\) \(> 3\.0s\) since \d\d:\d\d:\d\d/, /replica-1 ● lag [\d.]+s paused/], (maxLagS + 2 * intervalS) * 1000 + 10_000);
		assert.ok(Date.now() - paused < (maxLagS + 2 * intervalS) * 1000 + 10_000, 'fired in time');
		assert.match(alerting, /Replicas \(--replica\): 1/);
		// and on every screen, each whole at 200x50 beside the fleet's strips
		for (const id of screenIds) {
			const screen = await visit(term, id, wide, [/▲ 1 alert: replica-1 lag/]);
			// the tab line: under the header, one lower while the job strip shows (visiting Migration starts its duplicate count)
			const tabs = screen.split('\n').slice(2, 4).find(l => /^ 1 /.test(l)) ?? '';
			assert.match(tabs, new RegExp(`${screenKey(id)} `));
		}

		await replica.query('SELECT pg_wal_replay_resume()');
		term.send(screenKey('replication'));
		await see(term, [/✓ no alerts/, /replica-1 ● lag 0ms/], 20_000);
		const lines = await waitFor(() => {
			const events = watchOut.map(l => JSON.parse(l) as {event: string; key: string; kind: string; text: string; since: string});
			const mine = events.filter(e => e.key === 'replica-1:lag');
			return mine.length >= 2 ? mine : undefined;
		}, {timeout: 20_000, message: 'watch printed start and stop'});
		assert.deepEqual(lines!.map(e => e.event), ['start', 'stop']);
		assert.equal(lines![0]!.kind, 'replica-lag');
		assert.match(lines![0]!.text, /^replica-1 lag [\d.]+s \(replay paused\) \(> 3\.0s\)$/);

		watch.kill('SIGTERM');
		const code = await new Promise<number | null>(resolve => watch!.once('exit', c => resolve(c)));
		assert.equal(code, 0);
		// 80x24 over SSH, the fleet's two strips included: every screen still shows its verdicts, footer and sort column, no number cut
		term.resize(80, 24);
		for (const id of screenIds) await visit(term, id, {columns: 80, rows: 24});

		term.send('q');
		await see(term, [/\[exit 0\]/], 30_000);
	} finally {
		watch?.kill('SIGKILL');
		await replica?.end().catch(() => undefined);
		term.kill();
	}
});
