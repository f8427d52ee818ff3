import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {executeKill, toKillTarget} from '../source/actions/kill.js';
import {detectCapabilities} from '../source/db/capabilities.js';
import {loadConnections} from '../source/db/connections.js';
import {resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import {defaultThresholds} from '../source/store/store.js';
import {startCluster, stopCluster} from './helpers/cluster.js';
import {waitFor} from './helpers/db.js';
import {defaultConfig} from '../source/config.js';

// PostgreSQL 16 reworded the permission errors of pg_cancel_backend and
// pg_terminate_backend; 18 is the newest server the console meets.
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-kill-18-'));
process.env.INTOWORK_DB_STATE = stateDir;
const server = await startCluster(18, {template: false});
const url = server.url();
const as = (role: string) => server.url('postgres', role, role);
const clients: pg.Client[] = [];
// clients first, then the server they are connected to
after(async () => {
	await Promise.all(clients.map(c => c.end().catch(() => undefined)));
	await stopCluster(server);
	fs.rmSync(stateDir, {recursive: true, force: true});
});

const admin = new pg.Client({connectionString: url});
admin.on('error', () => undefined);
clients.push(admin);
await admin.connect();
await admin.query("CREATE ROLE app LOGIN PASSWORD 'app'; CREATE ROLE watcher LOGIN PASSWORD 'watcher'; GRANT pg_monitor TO watcher");

async function sleeper(url: string, application: string) {
	const c = new pg.Client({connectionString: url, application_name: application});
	c.on('error', () => undefined);
	await c.connect();
	clients.push(c);
	const done = c.query('SELECT pg_sleep(120)').then(
		() => undefined,
		(e: Error & {code?: string}) => e,
	);
	return {c, done};
}

test('PostgreSQL 18: the list, the identity-checked signals and both kinds of permission denied', async () => {
	const victim = await sleeper(as('app'), 'v18-app');
	const su = await sleeper(url, 'v18-superuser');
	const monitor = new Monitor(resolveTarget({dsn: url, env: {}}));
	await monitor.connect();
	try {
		const caps = await detectCapabilities(monitor);
		assert.equal(caps.major, 18);
		const data = await waitFor(async () => {
			const d = await loadConnections({db: monitor, caps, thresholds: defaultThresholds, config: defaultConfig, ownPid: monitor.state.backendPid}, undefined);
			return ['v18-app', 'v18-superuser'].every(a => d.backends.some(b => b.application === a && b.state === 'active')) ? d : undefined;
		});
		assert.ok(data);
		const target = (application: string) => toKillTarget(data.backends.find(b => b.application === application)!);
		const watcher = {target: resolveTarget({dsn: as('watcher'), env: {}}), options: {via: 'cli' as const, role: 'watcher'}};
		const denied = await executeKill(watcher.target, 'terminate', [target('v18-app'), target('v18-superuser')], watcher.options);
		assert.deepEqual(
			denied.map(o => [o.result, o.detail?.split(';')[0]]),
			[
				['denied', 'GRANT pg_signal_backend TO "watcher"'],
				['denied', "a superuser's session: only a superuser may cancel or terminate it (connect as a superuser to do it)"],
			],
		);
		const own = {via: 'cli' as const, role: 'postgres'};
		const [cancelled] = await executeKill(resolveTarget({dsn: url, env: {}}), 'cancel', [target('v18-app')], own);
		assert.equal(cancelled!.result, 'cancelled');
		assert.equal((await victim.done)?.code, '57014');
		const [terminated] = await executeKill(resolveTarget({dsn: url, env: {}}), 'terminate', [target('v18-superuser')], own);
		assert.equal(terminated!.result, 'terminated');
		assert.equal((await su.done)?.code, '57P01');
	} finally {
		await monitor.close();
	}
});
