import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {defaultAlertThresholds} from '../source/alerts/settings.js';
import type {AlertEvent} from '../source/alerts/rules.js';
import {detectCapabilities} from '../source/db/capabilities.js';
import {redactTarget, resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import {loadReplication} from '../source/db/replication.js';
import {Fleet, openSecondaryTargets} from '../source/fleet/fleet.js';
import {PgServer, cacheRoot, freePort} from '../source/demo/pg-server.js';
import {startReplica} from '../source/demo/replica.js';
import {defaultConfig} from '../source/config.js';
import {defaultThresholds} from '../source/store/store.js';
import {testDatabase, waitFor} from './helpers/db.js';

// A real standby of the test cluster (pg_basebackup of PostgreSQL 15), its lag made by pausing replay.

const db = await testDatabase();
const primaryServer = new PgServer({dataDir: db.info.dataDir, port: db.info.port, user: db.info.user, password: db.info.password});
const base = path.join(cacheRoot(), 'test', `replica-${process.pid}`);
const slot = `t_replica_${process.pid}`;
const inactiveSlot = `t_inactive_${process.pid}`;
const replica = await startReplica({primary: primaryServer, dataDir: path.join(base, 'data'), port: await freePort(), slot, name: 'replica-test'});
const replicaUrl = replica.url(db.name);

const target = resolveTarget({dsn: db.url, env: {}});
const monitor = new Monitor(target);
await monitor.connect();
const caps = await detectCapabilities(monitor);
const events: AlertEvent[] = [];
const fleet = new Fleet([{name: 'primary', kind: 'primary', target, redacted: redactTarget(target), monitor, caps}, ...openSecondaryTargets({replicas: [replicaUrl]})], {
	intervalMs: () => 250,
	hanging: () => ({activeMs: defaultThresholds.hangingActiveMs, idleTxMs: defaultThresholds.hangingIdleTxMs}),
	alerts: {...defaultAlertThresholds, maxLagMs: 1000, slotRetainedBytes: 1},
});
fleet.on('alert', e => events.push(e));
await fleet.start();

const replicaClient = new pg.Client({connectionString: replicaUrl});
replicaClient.on('error', () => undefined);
await replicaClient.connect();

after(async () => {
	await replicaClient.query('SELECT pg_wal_replay_resume()').catch(() => undefined);
	await replicaClient.end().catch(() => undefined);
	await fleet.stop();
	await monitor.close();
	await replica.stop();
	await db.client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ANY($1)', [[slot, inactiveSlot]]).catch(() => undefined);
	fs.rmSync(base, {recursive: true, force: true});
});

const replicaStatus = () => fleet.state().targets.find(t => t.name === 'replica-1')!;
const firing = (key: string) => fleet.state().alerts.some(a => a.key === key);
const write = () => db.client.query('UPDATE jobs SET views_count = views_count + 1 WHERE id = 1');

test('the replica is a target of its own: in recovery, streaming, caught up', async () => {
	// a commit replayed, so that pg_last_xact_replay_timestamp() has a value
	await write();
	const r = (await waitFor(() => {
		const s = replicaStatus().replica;
		return s?.inRecovery && s.lagMs === 0 && s.replayDelayMs !== null && s.receiver?.status === 'streaming' ? s : undefined;
	}, {timeout: 20_000, message: 'replica caught up and streaming'}))!;
	assert.equal(r.paused, false);
	assert.equal(r.hotStandbyFeedback, 'off');
	assert.match(r.maxStandbyStreamingDelay, /^30s$/);
	assert.deepEqual(r.conflicts, {tablespace: 0, lock: 0, snapshot: 0, bufferpin: 0, deadlock: 0});
	assert.equal(replicaStatus().connection.status, 'live');
	// and the primary sees it in pg_stat_replication, streaming through its slot
	const data = (await waitFor(async () => {
		const d = await loadReplication({db: monitor, caps, thresholds: defaultThresholds, config: defaultConfig}, undefined);
		return d.standbys.some(s => s.application === 'replica-test' && s.state === 'streaming') ? d : undefined;
	}, {message: 'the standby in pg_stat_replication'}))!;
	assert.equal(data.inRecovery, false);
	assert.ok(data.slots.some(s => s.name === slot && s.active && s.walStatus === 'reserved'), 'the standby\'s slot is active');
});

test('pausing replay makes lag appear and grow, and fires the lag alert; resuming clears both', async () => {
	// On a busy machine replay can fall past --max-lag 1s on its own before this test: the alerts counted are this pause's.
	await waitFor(() => replicaStatus().replica?.lagMs === 0 && !firing('replica-1:lag'), {timeout: 20_000, message: 'the replica caught up, no lag alert'});
	const before = events.length;
	await replicaClient.query('SELECT pg_wal_replay_pause()');
	const first = (await waitFor(async () => {
		await write();
		const s = replicaStatus().replica;
		return s?.paused && (s.lagMs ?? 0) > 0 ? s : undefined;
	}, {timeout: 20_000, interval: 200, message: 'lag while replay is paused'}))!;
	assert.ok((first.replayBehindBytes ?? 0) > 0, 'received WAL waits to be replayed');
	await waitFor(() => firing('replica-1:lag'), {timeout: 20_000, message: 'the lag alert past --max-lag 1s'});
	const alert = fleet.state().alerts.find(a => a.key === 'replica-1:lag')!;
	assert.match(alert.text, /^replica-1 lag [\d.]+s \(replay paused\) \(> 1\.0s\)$/);
	const later = (await waitFor(() => {
		const s = replicaStatus().replica;
		return s && (s.lagMs ?? 0) > (first.lagMs ?? 0) ? s : undefined;
	}, {message: 'the lag grows'}))!;
	assert.ok(later.lagMs! > first.lagMs!);
	// the primary's own measure agrees: the standby has not replayed what it was sent
	const d = await loadReplication({db: monitor, caps, thresholds: defaultThresholds, config: defaultConfig}, undefined);
	assert.ok((d.standbys.find(s => s.application === 'replica-test')?.replayBytes ?? 0) > 0);

	await replicaClient.query('SELECT pg_wal_replay_resume()');
	await waitFor(() => replicaStatus().replica?.lagMs === 0 && !replicaStatus().replica?.paused, {timeout: 20_000, message: 'lag back to 0'});
	await waitFor(() => !firing('replica-1:lag'), {message: 'the lag alert stops'});
	assert.deepEqual(
		events.slice(before).filter(e => e.alert.key === 'replica-1:lag').map(e => e.event),
		['start', 'stop'],
	);
});

test('an inactive slot shows the WAL it retains, with the fix, and fires until it is dropped', async () => {
	await db.client.query('SELECT pg_create_physical_replication_slot($1, true)', [inactiveSlot]);
	// some WAL past the slot's restart point
	for (let i = 0; i < 20; i++) await write();
	const data = (await waitFor(async () => {
		const d = await loadReplication({db: monitor, caps, thresholds: defaultThresholds, config: defaultConfig}, undefined);
		const s = d.slots.find(x => x.name === inactiveSlot);
		return s && !s.active && (s.retainedBytes ?? 0) > 0 ? d : undefined;
	}, {message: 'retained WAL on the inactive slot'}))!;
	const s = data.slots.find(x => x.name === inactiveSlot)!;
	assert.equal(s.walStatus, 'reserved');
	assert.equal(s.type, 'physical');
	await waitFor(() => firing(`primary:slot:${inactiveSlot}`), {message: 'the slot alert'});
	assert.match(fleet.state().alerts.find(a => a.key === `primary:slot:${inactiveSlot}`)!.text, new RegExp(`^inactive slot ${inactiveSlot} retains \\d+(\\.\\d)? [kM]?B of WAL \\(> 1 B\\)$`));
	await db.client.query('SELECT pg_drop_replication_slot($1)', [inactiveSlot]);
	await waitFor(() => !firing(`primary:slot:${inactiveSlot}`), {message: 'the slot alert stops'});
});

test('a replica that goes down is reported as down without holding up the primary, and comes back', async () => {
	const before = fleet.state().targets.find(t => t.name === 'primary')!.at!;
	await replica.stop();
	await waitFor(() => firing('replica-1:down'), {timeout: 20_000, message: 'the down alert'});
	assert.equal(replicaStatus().connection.status, 'reconnecting');
	await waitFor(() => (fleet.state().targets.find(t => t.name === 'primary')!.at ?? 0) > before + 500, {message: 'the primary still sampled'});
	await replica.start();
	await waitFor(() => replicaStatus().connection.status === 'live' && !firing('replica-1:down'), {timeout: 30_000, message: 'the replica back'});
});
