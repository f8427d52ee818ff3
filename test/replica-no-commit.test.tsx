import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {defaultAlertThresholds} from '../source/alerts/settings.js';
import {redactTarget, resolveTarget} from '../source/db/dsn.js';
import {startReplica} from '../source/demo/replica.js';
import {cacheRoot, freePort} from '../source/demo/pg-server.js';
import {attachFleet} from '../source/fleet/console.js';
import {Fleet, openSecondaryTargets} from '../source/fleet/fleet.js';
import {defaultThresholds} from '../source/store/store.js';
import {startCluster, stopCluster} from './helpers/cluster.js';
import {renderApp} from './helpers/render.js';

// A primary of this file's own, nothing writing to it (autovacuum off, no other test's commits), and a
// real streaming standby of it (pg_basebackup of PostgreSQL 15, as in replica.test.ts): the standby
// then starts with no commit to replay, so pg_last_xact_replay_timestamp() stays NULL until the first.
const primary = await startCluster(15, {template: false, settings: {autovacuum: 'off'}});
const base = path.join(cacheRoot(), 'test', `replica-no-commit-${process.pid}`);
const replica = await startReplica({primary, dataDir: path.join(base, 'data'), port: await freePort(), slot: `t_nocommit_${process.pid}`, name: 'replica-nocommit'});
after(async () => {
	await replica.stop();
	await stopCluster(primary);
	fs.rmSync(base, {recursive: true, force: true});
});

test('a replica with no commit replayed since it started: caught up says so; WAL behind shows its bytes and alerts on them', async () => {
	const app = await renderApp(primary.url(), {screen: 'replication', size: {columns: 200, rows: 40}});
	const target = resolveTarget({dsn: primary.url(), env: {}});
	const fleet = new Fleet([{name: 'primary', kind: 'primary', target, redacted: redactTarget(target), monitor: app.monitor, caps: app.store.getState().caps}, ...openSecondaryTargets({replicas: [replica.url()]})], {
		intervalMs: () => 250,
		hanging: () => ({activeMs: defaultThresholds.hangingActiveMs, idleTxMs: defaultThresholds.hangingIdleTxMs}),
		// any byte received and not replayed is over
		alerts: {...defaultAlertThresholds, maxLagBytes: 1},
	});
	attachFleet(fleet, app.store, {replicas: [replica.url()], alerts: fleet.state().thresholds, bell: false, demoReplica: false, demoPgbouncer: false}, () => undefined);
	const onReplica = new pg.Client({connectionString: replica.url()});
	onReplica.on('error', () => undefined);
	const onPrimary = new pg.Client({connectionString: primary.url()});
	await Promise.all([onReplica.connect(), onPrimary.connect()]);
	try {
		await fleet.start();
		const truth = async () => (await onReplica.query<{ts: Date | null; same: boolean}>('SELECT pg_last_xact_replay_timestamp() AS ts, pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS same')).rows[0]!;
		// streaming, everything received replayed, and not one commit among it
		const caughtUp = await app.waitForFrame(/replica-1 .*in recovery[\s\S]*lag 0 B: caught up, no commit replayed yet/, 'the caught-up replica without a commit replayed', 30_000);
		assert.deepEqual(await truth(), {ts: null, same: true}, 'the server agrees: no commit replayed, received = replayed');
		assert.match(caughtUp, /✓ no alerts/);

		// WAL arrives but is not replayed: its byte lag is known though no commit gives it a time
		await onReplica.query('SELECT pg_wal_replay_pause()');
		await onPrimary.query('CREATE TABLE nocommit (v int); INSERT INTO nocommit SELECT generate_series(1, 1000)');
		const behind = await app.waitForFrame(/lag \d+(\.\d)? [kM]?B behind \(max 1 B\); no time lag: no commit replayed since it started/, 'the bytes behind on the Replication screen', 30_000);
		assert.match(behind, /▲ 1 alert: replica-1 \d+(\.\d)? [kM]?B received, not replayed, no commit replayed since it started \(replay paused\) \(> 1 B\) since \d\d:\d\d:\d\d/);
		assert.match(behind, /replica-1 ● lag \d+(\.\d)? [kM]?B paused/, 'the targets line gives the bytes too');
		assert.deepEqual(await truth(), {ts: null, same: false}, 'the server agrees: received is past replayed, still no commit replayed');

		// replayed: a commit now times the lag, which is 0; the alert stops
		await onReplica.query('SELECT pg_wal_replay_resume()');
		const resumed = await app.waitForFrame(f => /lag 0ms \(max 10s\)/.test(f) && /✓ no alerts/.test(f), 'lag 0 timed by the replayed commit, the alert gone', 30_000);
		assert.doesNotMatch(resumed, /no commit replayed/);
	} finally {
		await onReplica.query('SELECT pg_wal_replay_resume()').catch(() => undefined);
		await Promise.all([onReplica.end(), onPrimary.end()]);
		await fleet.stop();
		await app.cleanup();
	}
});
