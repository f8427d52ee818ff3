import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {alertJson, alertLine, runOnAlert} from '../source/alerts/notify.js';
import {AlertTracker, cacheWindowMinMs, evaluate, replicaLagOver, type FleetReadings} from '../source/alerts/rules.js';
import {defaultAlertThresholds, parseSize, readFleetFlags} from '../source/alerts/settings.js';
import {detectCapabilities} from '../source/db/capabilities.js';
import {redactTarget, resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import {findLatencyEntries, fingerprint, intervalLatency, sampleLatency, type PrimarySample} from '../source/db/sampler.js';
import {statementsSchema} from '../source/db/statements.js';
import {appQueries} from '../source/db/app-queries.js';
import {Fleet} from '../source/fleet/fleet.js';
import type {ReplicaSample} from '../source/db/replication.js';
import {replicaLag} from '../source/screens/replication.js';
import {testDatabase, waitFor} from './helpers/db.js';
import {sessionPool} from './helpers/backends.js';

const t = defaultAlertThresholds;
const base: PrimarySample = {
	at: 0,
	database: {hit: 0, read: 0},
	heap: {hit: 0, read: 0},
	index: {hit: 0, read: 0},
	xacts: 0,
	clients: 10,
	usable: 100,
	hangingActive: 0,
	hangingIdleTx: 0,
	lockWaits: 0,
	longestLockWaitMs: null,
	inactiveSlots: [],
	standbys: [],
};
const readings = (patch: Partial<PrimarySample> = {}, more: Partial<FleetReadings> = {}): FleetReadings => ({
	primary: {name: 'primary', sample: {...base, ...patch}, history: [{...base, ...patch}]},
	replicas: [],
	hanging: {activeMs: 30_000, idleTxMs: 60_000},
	...more,
});
const kinds = (r: FleetReadings) => evaluate(r, t).map(a => a.kind);

test('the runbook defaults, and thresholds from flags', () => {
	assert.equal(t.connectionUse, 0.8);
	assert.equal(t.cacheHit, 0.95);
	assert.equal(t.jobListP95Ms, 100);
	assert.equal(t.applicationListP95Ms, 50);
	assert.equal(t.maxLagMs, 10_000);
	const f = readFleetFlags({replica: ['postgresql://a/b', 'postgresql://c/d'], maxLag: '30s', connectionAlert: '90%', slotWalAlert: '16MB', waitingAlert: '3', bell: true});
	assert.deepEqual(f.replicas, ['postgresql://a/b', 'postgresql://c/d']);
	assert.equal(f.alerts.maxLagMs, 30_000);
	assert.equal(f.alerts.connectionUse, 0.9);
	assert.equal(f.alerts.slotRetainedBytes, 16 * 1024 ** 2);
	assert.equal(f.alerts.pgbouncerWaiting, 3);
	assert.equal(f.bell, true);
	assert.equal(parseSize('500kB', 'x'), 512_000);
	assert.throws(() => readFleetFlags({connectionAlert: '180'}), /--connection-alert: "180" is not a percentage from 0 to 100/);
	assert.throws(() => readFleetFlags({maxLag: 'soon'}), /--max-lag: "soon" is not a duration/);
	assert.equal(t.maxLagBytes, 256 * 1024 ** 2);
	assert.equal(readFleetFlags({maxLagBytes: '16MB'}).alerts.maxLagBytes, 16 * 1024 ** 2);
	assert.throws(() => readFleetFlags({maxLagBytes: 'lots'}), /--max-lag-bytes: "lots" is not a size/);
});

test('each rule fires past its threshold and not at it', () => {
	assert.deepEqual(kinds(readings({clients: 80})), [], '80 % is the target, not over it');
	assert.deepEqual(kinds(readings({clients: 81})), ['connections']);
	assert.deepEqual(kinds(readings({hangingActive: 1})), ['hanging']);
	assert.deepEqual(kinds(readings({hangingIdleTx: 2})), ['hanging']);
	assert.deepEqual(kinds(readings({lockWaits: 1, longestLockWaitMs: 12_000})), ['locks']);
	assert.deepEqual(kinds(readings({inactiveSlots: [{name: 's', retainedBytes: 2 * 1024 ** 3}]})), ['slot']);
	assert.deepEqual(kinds(readings({inactiveSlots: [{name: 's', retainedBytes: 1024}]})), [], 'under --slot-wal-alert');
	assert.deepEqual(kinds(readings({standbys: [{name: 'r', client: null, replayLagMs: 11_000}]})), ['replica-lag'], "the primary's view when no --replica is given");
	const replica = (lagMs: number | null, inRecovery = true) => ({name: 'replica-1', sample: {lagMs, inRecovery, paused: false} as never});
	assert.deepEqual(kinds(readings({}, {replicas: [replica(10_001)]})), ['replica-lag']);
	assert.deepEqual(kinds(readings({}, {replicas: [replica(10_000)]})), []);
	assert.deepEqual(kinds(readings({}, {replicas: [replica(0, false)]})), ['replica-lag'], 'a promoted replica');
	// no commit replayed since it started: no time lag, but the bytes received and not replayed are known
	const behind = (bytes: number | null) => ({name: 'replica-1', sample: {lagMs: null, replayBehindBytes: bytes, noCommitReplayed: true, inRecovery: true, paused: false} as never});
	assert.deepEqual(kinds(readings({}, {replicas: [behind(t.maxLagBytes)]})), [], 'at --max-lag-bytes, not over it');
	assert.deepEqual(evaluate(readings({}, {replicas: [behind(t.maxLagBytes + 1)]}), t).map(a => a.text), ['replica-1 256 MB received, not replayed, no commit replayed since it started (> 256 MB)']);
	assert.deepEqual(kinds(readings({}, {replicas: [behind(null)]})), [], 'nothing received by streaming: nothing to judge by');
	assert.deepEqual(kinds(readings({}, {replicas: [{name: 'replica-1', down: 'connection refused'}]})), ['target-down']);
	const bouncer = (waiting: number) => ({name: 'pgbouncer', sample: {at: 0, pools: [], waiting, maxwaitSeconds: 2, servers: []}});
	assert.deepEqual(kinds(readings({}, {pgbouncer: bouncer(0)})), []);
	assert.deepEqual(kinds(readings({}, {pgbouncer: bouncer(1)})), ['pgbouncer-waiting']);
});

test('replica lag: the Replication screen is red exactly when the alert fires, a standby recent in time but far behind in bytes included', () => {
	const sample = (lagMs: number | null, replayBehindBytes: number | null, noCommitReplayed = false) => ({lagMs, replayBehindBytes, noCommitReplayed, inRecovery: true, paused: false}) as ReplicaSample;
	const alerted = (s: ReplicaSample) => evaluate(readings({}, {replicas: [{name: 'replica-1', sample: s}]}), t);
	// under both limits; time over; bytes over with no time lag; bytes over with a recent commit; at the limits; nothing known
	const cases = [sample(1000, 1024), sample(t.maxLagMs + 1, 0), sample(null, t.maxLagBytes + 1, true), sample(1000, 5 * 1024 ** 3), sample(t.maxLagMs, t.maxLagBytes), sample(null, null, true), sample(0, 0, true)];
	assert.deepEqual(
		cases.map(s => alerted(s).length === 1),
		[false, true, true, true, false, false, false],
	);
	for (const s of cases) assert.equal(replicaLag(s, t.maxLagMs, t.maxLagBytes).over, alerted(s).length === 1, `screen and alert agree on ${JSON.stringify(s)}`);
	const far = sample(1000, 5 * 1024 ** 3);
	assert.deepEqual(alerted(far).map(a => a.text), ['replica-1 5.0 GB received, not replayed (> 256 MB)']);
	assert.equal(replicaLag(far, t.maxLagMs, t.maxLagBytes).text, '1.0s (max 10s); 5.0 GB behind (max 256 MB)');
	assert.equal(replicaLagOver(far, t), 'bytes');
	assert.equal(replicaLagOver(sample(t.maxLagMs + 1, 5 * 1024 ** 3), t), 'time', 'the time first, when both are over');
});

test('cache: below 95 % over the window, once the window has a minute in it', () => {
	const s = (at: number, hit: number, read: number): PrimarySample => ({...base, at, database: {hit, read}});
	const cold = [s(0, 0, 0), s(cacheWindowMinMs - 1000, 90, 10)];
	assert.deepEqual(evaluate({...readings(), primary: {name: 'primary', sample: cold[1], history: cold}}, t), [], 'under a minute of history');
	const history = [s(0, 0, 0), s(cacheWindowMinMs, 90, 10)];
	const [alert] = evaluate({...readings(), primary: {name: 'primary', sample: history[1], history}}, t);
	assert.equal(alert?.kind, 'cache');
	assert.equal(alert?.text, 'cache hit 90.0% over 1m00s (< 95%)');
	const good = [s(0, 0, 0), s(cacheWindowMinMs, 99, 1)];
	assert.deepEqual(evaluate({...readings(), primary: {name: 'primary', sample: good[1], history: good}}, t), []);
});

test('latency: the interval mean and spread from two pg_stat_statements samples; the p95 estimate fires over the target', () => {
	// 100 calls at 50 ms and 100 at 150 ms: mean 100, population sd 50
	const older = {at: 0, queries: {job_list: {calls: 10, totalMs: 100, sumSquares: 1000}}};
	const newer = {at: 1, queries: {job_list: {calls: 210, totalMs: 100 + 100 * 50 + 100 * 150, sumSquares: 1000 + 100 * 50 ** 2 + 100 * 150 ** 2}}};
	const l = intervalLatency(newer, older, 'job_list')!;
	assert.equal(l.calls, 200);
	assert.equal(l.meanMs, 100);
	assert.equal(l.stddevMs, 50);
	assert.ok(Math.abs(l.p95Ms - 182.25) < 1e-9);
	assert.equal(intervalLatency(older, newer, 'job_list'), undefined, 'a reset: counters went backwards');
	const [alert] = evaluate(readings({}, {primary: {name: 'primary', sample: base, history: [base], latency: {job_list: l}}}), t);
	assert.equal(alert?.text, 'job list p95≈182ms (mean 100ms, 200 calls; > 100ms)');
	// pg_stat_statements' text for the query, constants replaced, is recognised
	assert.equal(fingerprint(appQueries.application_list.sql.replace('LIMIT 50', 'LIMIT $2')), fingerprint(appQueries.application_list.sql));
});

test('the tracker: since when, one start and one stop; an unread target keeps its alerts', () => {
	const tracker = new AlertTracker();
	const a = {key: 'replica-1:lag', target: 'replica-1', kind: 'replica-lag' as const, text: 'lag'};
	assert.deepEqual(tracker.update([a], 1000).map(e => e.event), ['start']);
	assert.deepEqual(tracker.update([{...a, text: 'lag 2'}], 2000), [], 'still firing: no new start');
	assert.equal(tracker.list()[0]!.since, 1000);
	assert.equal(tracker.list()[0]!.text, 'lag 2');
	assert.deepEqual(tracker.update([], 3000, new Set(['replica-1'])), [], 'unreachable is not recovered');
	const stop = tracker.update([], 4000);
	assert.deepEqual(stop.map(e => e.event), ['stop']);
	assert.match(alertLine(stop[0]!), /^\S+ \S+ STOP {2}replica-1 lag 2 \(fired for 3 s\)$/);
	assert.deepEqual(alertJson(stop[0]!), {event: 'stop', at: new Date(4000).toISOString(), since: new Date(1000).toISOString(), key: 'replica-1:lag', target: 'replica-1', kind: 'replica-lag', text: 'lag 2'});
});

test('--on-alert runs the command with the alert as JSON on stdin', async () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'on-alert-'));
	after(() => fs.rmSync(dir, {recursive: true, force: true}));
	const out = path.join(dir, 'alert.json');
	const reports: string[] = [];
	const e = {event: 'start' as const, at: 5000, alert: {key: 'primary:hanging', target: 'primary', kind: 'hanging' as const, text: '1 hanging', since: 5000}};
	runOnAlert(`cat > ${out}`, e, line => reports.push(line));
	const json = await waitFor(() => (fs.existsSync(out) && fs.readFileSync(out, 'utf8').endsWith('\n') ? fs.readFileSync(out, 'utf8') : ''), {message: 'the command wrote its stdin'});
	assert.deepEqual(JSON.parse(json), alertJson(e));
	runOnAlert('exit 3', e, line => reports.push(line));
	await waitFor(() => reports.length > 0, {message: 'a failing command is reported'});
	assert.deepEqual(reports, ['--on-alert exited with 3']);
});

// On a real server: hanging sessions and lock waits in this database fire and clear.
const db = await testDatabase();
const pool = sessionPool(db);
const target = resolveTarget({dsn: db.url, env: {}});
const monitor = new Monitor(target);
await monitor.connect();
const caps = await detectCapabilities(monitor);
const fleet = new Fleet([{name: 'primary', kind: 'primary', target, redacted: redactTarget(target), monitor, caps}], {
	intervalMs: () => 200,
	// the alerts, not the primary's 5 s cadence, are under test
	primaryEveryMs: 200,
	hanging: () => ({activeMs: 500, idleTxMs: 500}),
	alerts: {...t, lockWaitMs: 500},
});
await fleet.start();
after(async () => {
	await fleet.stop();
	await monitor.close();
});
const firing = (key: string) => fleet.state().alerts.find(a => a.key === key);

test('a hanging query and a lock wait fire on a real server and clear when they end', async () => {
	const chain = await pool.lockChain('alerts', 1);
	const locks = (await waitFor(() => firing('primary:locks'), {message: 'the lock-wait alert'}))!;
	assert.match(locks.text, /^1 lock wait > 500ms \(longest (\d+ms|[\d.]+s)\)$/);
	const hanging = (await waitFor(() => firing('primary:hanging'), {message: 'the hanging alert'}))!;
	// the blocker is idle in transaction, its waiter active: both past 500 ms
	assert.match(hanging.text, /^2 hanging \(1 active > 500ms, 1 idle in tx > 500ms\)$/);
	await chain.blocker.client.query('ROLLBACK');
	await chain.waiters[0]!.running.done;
	await waitFor(() => !firing('primary:locks') && !firing('primary:hanging'), {message: 'both clear'});
});

test('latency on a real server: the job list\'s entries are found by their text, then its calls counted by queryid', async () => {
	const schema = await statementsSchema(monitor);
	assert.ok(schema, 'pg_stat_statements is installed in the test database');
	const search = async (n: number) => {
		for (let i = 0; i < n; i++) await db.client.query(appQueries.job_list.sql, ['published', 'Paris', 'remote', i % 2 ? null : 'full_time']);
	};
	await search(1);
	const entries = await findLatencyEntries(monitor, schema);
	assert.deepEqual([...new Set(entries.values())], ['job_list']);
	const before = await sampleLatency(monitor, caps.statements.version!, schema, entries);
	await search(3);
	const after = await sampleLatency(monitor, caps.statements.version!, schema, entries);
	assert.equal(intervalLatency(after, before, 'job_list')?.calls, 3);
	assert.equal(intervalLatency(after, before, 'application_list'), undefined);
});

test('the primary is sampled every 5 s when the refresh is faster: its history grows by one sample, not by one per refresh', async () => {
	const slow = new Fleet([{name: 'primary', kind: 'primary', target, redacted: redactTarget(target), monitor, caps}], {
		intervalMs: () => 100,
		hanging: () => ({activeMs: 60_000, idleTxMs: 60_000}),
		alerts: t,
	});
	await slow.start();
	try {
		await waitFor(() => slow.state().history.toArray().length === 1, {message: 'the first sample, taken at once'});
		// twenty refreshes' worth of time at 100 ms
		await new Promise(resolve => setTimeout(resolve, 2000));
		assert.equal(slow.state().history.toArray().length, 1);
	} finally {
		await slow.stop();
	}
});

test('the checklist\'s unscored next phases, judged from the sampler', async () => {
	const {scaleItems} = await import('../source/checklist/scale.js');
	const none = scaleItems(undefined);
	assert.deepEqual(none.map(i => [i.title, i.verdict]), [
		['Phase 2: alerts configured', 'fail'],
		['Phase 4: replica lag under 10s', 'unknown'],
		['Phase 4: no slot retaining more than 1.0 GB', 'unknown'],
		['Phase 4: pgBouncer pool never waits', 'unknown'],
	]);
	const state = {...fleet.state(), paging: true};
	const [alerts, lag, slots, bouncer] = scaleItems(state);
	assert.equal(alerts!.verdict, 'pass');
	assert.equal(lag!.verdict, 'unknown', 'no replica streams from the test server');
	assert.equal(slots!.verdict, 'pass');
	assert.match(slots!.evidence, /^0 inactive slot\(s\), the most WAL held 0 B$/);
	assert.equal(bouncer!.verdict, 'unknown');
});
