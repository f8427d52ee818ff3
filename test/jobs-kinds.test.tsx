import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';
import pg from 'pg';
import {runBackup} from '../source/actions/backup/backup.js';
import {planKill} from '../source/actions/kill.js';
import {runLoadTest} from '../source/checklist/load-test.js';
import type {ConnectionsData} from '../source/db/connections.js';
import {resolveTarget} from '../source/db/dsn.js';
import {jobApplicationName} from '../source/db/own-sessions.js';
import type {JobKind, JobView} from '../source/jobs/registry.js';
import {defaultThresholds} from '../source/store/store.js';
import {sessionPool} from './helpers/backends.js';
import {waitFor} from './helpers/db.js';
import {own} from './helpers/own.js';
import {jobMs, keys, type RenderedApp} from './helpers/render.js';

// Short enough to watch a result message and a finished job go within a test.
const messageTtlMs = 2000;
const fadeMs = 2000;
const thresholds = {...defaultThresholds, hangingActiveMs: 1000, hangingIdleTxMs: 1000};

/** Every view of the kind's job the registry published while the test watched. */
function watchJobs(app: RenderedApp, kind: JobKind): JobView[] {
	const seen: JobView[] = [];
	app.jobs.store.subscribe(s => {
		for (const j of s.jobs) if (j.kind === kind && seen.at(-1) !== j) seen.push(j);
	});
	return seen;
}

const running = (app: RenderedApp, kind: JobKind) => app.jobs.running().find(j => j.kind === kind);

/** The Connections screen's row for a pid, as the kill path gets it. */
async function connectionsRow(app: RenderedApp, pid: number) {
	app.press('2');
	await app.waitForFrame(/sessions \(v\)/, 'the Connections screen');
	return waitFor(() => (app.store.getState().data.connections?.value as ConnectionsData | undefined)?.backends.find(b => b.pid === pid), {timeout: 15_000, message: `pid ${pid} on Connections`});
}

/** The kill path on these sessions: each refused as the job's own, none signalled. */
function assertRefused(app: RenderedApp, backends: Parameters<typeof planKill>[0], title: string) {
	const plan = planKill(backends, 'postgres', {ownerOf: pid => app.jobs.ownerOf(pid), several: true});
	assert.deepEqual(plan.act, [], 'nothing to signal');
	assert.deepEqual(
		plan.refuse.map(r => r.reason),
		backends.map(() => `this console's own ${title}: stop it with its own cancel (select it alone, or c on its screen)`),
	);
}

test("backup: pg_dump's session and the backup's own are registered by the job's application_name, the kill path refuses them, cancel leaves no partial file", async t => {
	const {db, defer, app: open} = await own(t, 'jobs-kinds');
	const target = resolveTarget({dsn: db.url, env: {}});
	const first = await runBackup({target});
	const files = () => fs.readdirSync(path.dirname(first.file)).sort();
	const before = files();
	// pg_dump waits on this lock: the job runs until the test cancels it
	await sessionPool(db, defer).holding('test-locker', 'LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE');
	const app = await open({screen: 'backups', size: {columns: 160, rows: 50}, state: {messageTtlMs, thresholds}, fadeMs});
	await app.waitForFrame(/recorded\s+never/, 'the first backup listed');
	app.press('b');
	await app.waitForFrame(/Back up t_\S+ now\?/);
	app.press('y');
	await app.waitForFrame(/▸ backup of t_\S+: dumping: 0\/16 tables/, 'the backup in the strip, waiting on the lock', jobMs.backup);
	const job = running(app, 'backup')!;
	const name = jobApplicationName('backup', job.id);
	// the backup's own session and pg_dump's, both under the job's name and both registered
	// both wait on the lock: pg_dump's LOCK TABLE and the count's
	const sessions = await waitFor(
		async () => {
			const r = await db.client.query<{pid: number}>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LOCK TABLE %' AND wait_event_type = 'Lock' ORDER BY pid", [name]);
			const pids = r.rows.map(row => row.pid);
			return pids.length === 2 && pids.every(pid => app.jobs.ownerOf(pid)?.id === job.id) ? pids : undefined;
		},
		{timeout: 20_000, message: "the backup's two sessions registered"},
	);
	const rows = await Promise.all(sessions.map(pid => connectionsRow(app, pid)));
	assertRefused(app, rows, job.title);
	await app.jobs.cancel(job.id);
	assert.equal(app.jobs.view(job.id)?.result?.outcome, 'cancelled');
	assert.deepEqual(files(), before, 'no partial file');
	assert.equal(app.jobs.ownerOf(sessions[0]!), undefined, 'a finished job owns no session');
});

test('restore test: its sessions are registered while it runs, the kill path refuses them, cancel leaves no scratch database', async t => {
	const {db, app: open} = await own(t, 'jobs-kinds');
	const target = resolveTarget({dsn: db.url, env: {}});
	const first = await runBackup({target});
	const app = await open({screen: 'backups', size: {columns: 160, rows: 50}, state: {messageTtlMs}, fadeMs});
	await app.waitForFrame(/recorded\s+never/, 'the backup listed');
	app.press('r');
	await app.waitForFrame(/Restore-test t_\S+\?/);
	// cancelled as soon as it has a session of its own: before its scratch database is dropped in the normal course
	let cancelled: Promise<void> | undefined;
	let registered: JobView | undefined;
	// decided while it runs, before the cancel
	let refusal: ReturnType<typeof planKill> | undefined;
	const scratch = new Set<string>();
	const unwatch = app.store.subscribe(s => {
		const progress = s.ui.backups?.job?.progress;
		if (progress && 'database' in progress && progress.database) scratch.add(progress.database);
	});
	const stop = app.jobs.store.subscribe(s => {
		const job = s.jobs.find(j => j.kind === 'restore-test' && !j.result && j.pids.length > 0 && j.progress);
		if (!job || cancelled) return;
		// set before cancel() publishes again and calls this back
		cancelled = Promise.resolve();
		registered = job;
		refusal = planKill(job.pids.map(pid => backendFor(pid, 'intowork-db/restore-test')), 'postgres', {ownerOf: pid => app.jobs.ownerOf(pid), several: true});
		cancelled = app.jobs.cancel(job.id);
	});
	app.press('y');
	const job = await waitFor(() => registered, {timeout: jobMs.restoreTest, message: 'the restore test registered a session'});
	stop();
	assert.match(job.progress?.text ?? '', /checksum|creating|restoring/, 'its progress in the strip');
	assert.equal(job.title, `restore test of ${path.basename(first.file)}`);
	assert.deepEqual(refusal?.act, [], 'nothing to signal');
	assert.deepEqual(refusal?.refuse.map(r => r.reason), job.pids.map(() => `this console's own ${job.title}: stop it with its own cancel (select it alone, or c on its screen)`));
	await cancelled;
	const done = app.jobs.view(job.id)!;
	assert.equal(done.result?.outcome, 'cancelled', done.result?.text);
	assert.match(done.result!.text, /restore test cancelled; nothing was left behind/);
	unwatch();
	const left = await db.client.query('SELECT datname FROM pg_database WHERE datname = ANY($1::text[])', [[...scratch]]);
	assert.deepEqual(left.rows, [], 'no scratch database');
	assert.deepEqual(await db.client.query('SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])', [job.pids]).then(r => r.rows), [], 'its sessions are gone');
});

test('duplicate archive: a job with its session registered and refused to the kill path; cancel rolls it back, no row moved', async t => {
	const {db, defer, app: open} = await own(t, 'jobs-kinds');
	const countRows = async () => (await db.client.query<{n: string}>('SELECT count(*) AS n FROM job_applications')).rows[0]!.n;
	const before = await countRows();
	// the archive's DELETE waits on these row locks (its lock_timeout is 5 s): the job is running when the test cancels it
	await sessionPool(db, defer).holding('test-locker', 'SELECT 1 FROM job_applications FOR UPDATE');
	const app = await open({screen: 'migration', size: {columns: 160, rows: 50}, state: {messageTtlMs}, fadeMs});
	await waitFor(() => app.store.getState().ui.migration?.count, {timeout: 60_000, message: 'the duplicates counted'});
	app.press('d');
	await app.waitForFrame(/Archive [\d,]+ duplicate rows\?/);
	app.press('y');
	const job = await waitFor(() => app.jobs.running().find(j => j.kind === 'duplicates' && j.pids.length > 0), {timeout: 20_000, message: 'the archive registered its session'});
	assert.equal(job.title, 'archiving duplicates');
	assert.equal(job.progress?.text, 'one transaction for all tables');
	const pid = job.pids[0]!;
	const application = await db.client.query<{application_name: string}>('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [pid]);
	assert.deepEqual(application.rows, [{application_name: 'intowork-db/migrate'}], "the archive's own session");
	assertRefused(app, [backendFor(pid, 'intowork-db/migrate')], 'archiving duplicates');
	await app.jobs.cancel(job.id);
	const done = app.jobs.view(job.id)!;
	assert.equal(done.result?.outcome, 'cancelled', done.result?.text);
	assert.equal(done.result?.text, 'rolled back, no row was moved');
	assert.equal(await countRows(), before, 'no row moved');
	const archived = await db.client.query("SELECT 1 FROM pg_tables WHERE schemaname = 'intowork_archive'");
	assert.equal(archived.rowCount, 0, 'no archive table left');
	await app.waitForFrame(/✗ archiving duplicates cancelled: rolled back, no row was moved/, 'the result on the strip');
});

/** A client backend with this pid, as the Connections screen would list it: what the kill path decides on. */
function backendFor(pid: number, application: string): Parameters<typeof planKill>[0][number] {
	return {
		key: String(pid), pid, backendStart: null, queryStart: null, database: null, user: 'postgres', application, clientAddr: null, clientHost: null, clientPort: null,
		backendType: 'client backend', state: 'active', waitEventType: null, waitEvent: null, backendMs: null, xactMs: null, queryMs: null, stateMs: null, lockWaitMs: null, query: null,
		blockedBy: [], leaderPid: null, own: false, hidden: false, superuser: false, hanging: false,
	} as unknown as Parameters<typeof planKill>[0][number];
}

test('multi-target kill: a job on the strip with its session registered while it runs; the result message expires and the job fades but stays in the registry', async t => {
	const {db, defer, app: open} = await own(t, 'jobs-kinds');
	const sessions = sessionPool(db, fn => defer(fn));
	const sleepers = [await sessions.session('sleeper-a'), await sessions.session('sleeper-b')];
	for (const s of sleepers) sessions.start(s, 'SELECT pg_sleep(600)');
	const app = await open({screen: 'connections', size: {columns: 160, rows: 50}, state: {messageTtlMs, thresholds, intervalMs: 500}, fadeMs});
	const seen = watchJobs(app, 'kill');
	await app.waitForFrame(/sessions \(v\)/, 'the Connections screen');
	app.press('/');
	await app.waitForFrame(/Filter \(regex/);
	app.press('sleeper');
	await app.waitForFrame(f => f.includes('query): sleeper'));
	app.press(keys.enter);
	await app.waitForFrame(/filter \/sleeper\//);
	await waitFor(
		() => sleepers.every(s => (app.store.getState().data.connections?.value as ConnectionsData | undefined)?.backends.find(b => b.pid === s.pid)?.hanging),
		{timeout: 20_000, message: 'both sleepers hanging'},
	);
	app.press('H');
	await app.waitForFrame(/Tagged 2 hanging sessions/);
	app.press('k');
	await app.waitForFrame(/Terminate 2 sessions\?/);
	app.press('2');
	await app.waitForFrame(/Esc to cancel: 2 /, 'typed 2');
	app.press(keys.enter);
	const result = await app.waitForFrame(/✓ terminate of 2 sessions: 2 terminated in /, 'the kill job done', 30_000);
	assert.match(result, /Terminate: 2 terminated/, 'the result message');
	const ran = seen.find(v => !v.result && v.pids.length === 1);
	assert.ok(ran, 'its session was registered while it ran');
	assert.ok(!sleepers.some(s => s.pid === ran.pids[0]), 'its own session, not a target');
	const progress = seen.filter(v => v.progress).map(v => v.progress!.text);
	assert.deepEqual(progress.map(p => p.replace(/\d+/, 'N')), ['terminating pid N (1/2)', 'terminating pid N (2/2)'], 'its progress');
	await app.waitForFrame(f => !f.includes('Terminate: 2 terminated'), 'the result message gone after its time', messageTtlMs + 10_000);
	await app.waitForFrame(f => !f.includes('terminate of 2 sessions'), 'the finished job gone from the strip', fadeMs + 10_000);
	assert.equal(app.jobs.store.getState().jobs.find(j => j.kind === 'kill')?.result?.text, '2 terminated', 'still in the registry');
});

test('11.19: the checklist re-check is a job; "checking again" is its progress and leaves when it is done', async t => {
	const {app: open} = await own(t, 'jobs-kinds');
	const app = await open({screen: 'checklist', size: {columns: 160, rows: 50}, state: {messageTtlMs}, fadeMs});
	const seen = watchJobs(app, 'recheck');
	await app.waitForFrame(/Score /, 'the checklist', 60_000);
	const at = app.store.getState().data.checklist?.at;
	app.press('r');
	const finished = await app.waitForFrame(/✓ checklist re-check: EXPLAIN plans and p95 timings checked in /, 'the re-check done', 120_000);
	assert.deepEqual(
		seen.filter(v => !v.result).map(v => v.progress?.text),
		[undefined, 'EXPLAIN plans and p95 timings included'],
		'its progress, on the strip while it ran',
	);
	assert.doesNotMatch(finished, /checking again/);
	assert.ok((app.store.getState().data.checklist?.at ?? 0) > (at ?? 0), 'the checklist read again');
	await app.waitForFrame(f => !f.includes('checklist re-check'), 'the finished job gone from the strip', fadeMs + 10_000);
});

test('load test: every client reports its backend pid once connected', async t => {
	const {db, defer} = await own(t, 'jobs-kinds');
	const target = resolveTarget({dsn: db.url, env: {}});
	const monitor = new pg.Client({connectionString: db.url});
	monitor.on('error', () => undefined);
	await monitor.connect();
	defer(() => monitor.end());
	const names: Array<Promise<string | undefined>> = [];
	const pids: number[] = [];
	const result = await runLoadTest(target, monitor, {
		clients: 3,
		durationMs: 1000,
		onPid: pid => {
			pids.push(pid);
			// read while the client is connected: the pid is that client's session
			names.push(db.client.query<{application_name: string}>('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [pid]).then(r => r.rows[0]?.application_name));
		},
	});
	assert.equal(result.connected, 3);
	assert.equal(new Set(pids).size, 3);
	assert.deepEqual(await Promise.all(names), ['intowork-db/loadtest', 'intowork-db/loadtest', 'intowork-db/loadtest']);
});
