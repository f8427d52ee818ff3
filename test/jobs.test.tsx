import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import {auditContext} from '../source/audit.js';
import {resolveDuplicates} from '../source/actions/migration/duplicates.js';
import {builtinPlan} from '../source/actions/migration/plan.js';
import {startApply} from '../source/actions/migration/run.js';
import {migrationStatus} from '../source/actions/migration/status.js';
import type {ConnectionsData} from '../source/db/connections.js';
import {resolveTarget} from '../source/db/dsn.js';
import {JobRegistry} from '../source/jobs/registry.js';
import {defaultThresholds} from '../source/store/store.js';
import {sessionPool} from './helpers/backends.js';
import {waitFor, type TestDatabase} from './helpers/db.js';
import {own} from './helpers/own.js';
import {jobMs, keys, typeConfirm, type RenderedApp} from './helpers/render.js';

// Sessions hang after a second, so the migration's own build (waiting for a snapshot) counts as hanging too.
const thresholds = {...defaultThresholds, hangingActiveMs: 1000, hangingIdleTxMs: 1000};

/** Each test's own database (duplicates archived: the unique constraints would refuse the apply), state dir, sessions and console. */
async function setup(t: TestContext, options: {applied?: boolean} = {}) {
	const {db, defer, app: console_} = await own(t, 'jobs');
	const target = resolveTarget({dsn: db.url, env: {}});
	const ctx = {target, audit: auditContext(target, 'postgres')};
	await resolveDuplicates(ctx, builtinPlan);
	if (options.applied) {
		const applied = await startApply({...ctx, plan: builtinPlan, allowNoBackup: true, probe: false}).done;
		assert.equal(applied.outcome, 'ok', `the set-up apply: ${applied.message}`);
	}
	const sessions = sessionPool(db, defer);
	const app = await console_({screen: 'migration', size: {columns: 160, rows: 50}, state: {intervalMs: 500, thresholds}});
	const backend = (pid: number) => (app.store.getState().data.connections?.value as ConnectionsData | undefined)?.backends.find(b => b.pid === pid);
	return {db, sessions, app, backend};
}

/** Filter the sessions to this test's database, so other test files' sessions on the cluster are not tagged. */
async function onlyThisDatabase(a: RenderedApp, database: string) {
	a.press('/');
	await a.waitForFrame(/Filter \(regex/);
	a.press(database);
	await a.waitForFrame(f => f.includes(`query): ${database}`));
	a.press(keys.enter);
	await a.waitForFrame(f => f.includes(`filter /${database}/`));
}

const invalidIndexes = async (db: TestDatabase) =>
	(await db.client.query<{relname: string}>('SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1')).rows.map(r => r.relname);

test('a finished job fades from the strip after a while but stays in the registry and is recorded', async () => {
	const recorded: string[] = [];
	const jobs = new JobRegistry({fadeMs: 200, onFinish: j => recorded.push(`${j.kind} ${j.result?.outcome}: ${j.result?.text}`)});
	const job = jobs.start({kind: 'backup', title: 'backup of x', leaves: 'nothing', run: async handle => {
		handle.addPid(42);
		assert.equal(jobs.ownerOf(42)?.id, handle.id, 'its pid is known while it runs');
		return {ok: true, text: '65 MB'};
	}});
	const view = await job.done;
	assert.equal(view.result?.outcome, 'ok');
	assert.equal(jobs.ownerOf(42), undefined, 'a finished job owns no session');
	assert.equal(jobs.store.getState().shown.length, 1);
	await waitFor(() => jobs.store.getState().shown.length === 0, {timeout: 2000, message: 'the job fades from the strip'});
	assert.equal(jobs.store.getState().jobs.length, 1);
	assert.deepEqual(recorded, ['backup ok: 65 MB']);
});

test('11.1: during an apply, H on Connections does not tag the migration\'s own session, k does not target it, and the apply completes', async t => {
	const {db, sessions, app, backend} = await setup(t);
	await app.waitForFrame(/✓ Duplicates/, 'the pre-flight counted duplicates', jobMs.duplicateCount);
	const holder = await sessions.oldSnapshot('long-reader');
	try {
		app.press('m');
		await app.waitForFrame(/Type no backup/, 'the apply dialog', 30_000);
		await typeConfirm(app, 'no backup');
		// the strip, under the header
		await app.waitForFrame(new RegExp(`▸ migration apply h8c2d6e5f4g3: build unique_candidate_job_application \\(waiting for old snapshots\\) · 0/17 done \\d+% · waits for pid ${holder.pid} · `), 'the build waiting for the snapshot', 40_000);
		const build = app.store.getState().ui.migration?.run as {buildPid: number};
		app.press('2');
		const connections = await app.waitForFrame(/sessions \(v\)/);
		assert.match(connections, new RegExp(`▸ migration apply h8c2d6e5f4g3: build unique_candidate_job_application .* waits for pid ${holder.pid}`), 'the strip shows on Connections');
		await onlyThisDatabase(app, db.name);
		await waitFor(() => backend(build.buildPid)?.hanging && backend(holder.pid)?.hanging, {timeout: 20_000, message: 'the build and the holder both count as hanging'});
		app.press('H');
		await app.waitForFrame(new RegExp(`Tagged 1 hanging session .*Not tagged: pid ${build.buildPid} \\(migration apply h8c2d6e5f4g3\\)`));
		app.press('k');
		const dialog = await app.waitForFrame(/Terminate 1 session\?/);
		assert.match(dialog, new RegExp(`pid ${holder.pid} `));
		const box = dialog.split('\n').filter(l => l.startsWith('│')).join('\n');
		assert.doesNotMatch(box, new RegExp(`pid ${build.buildPid}\\b`), 'the build is not among the targets');
		app.press('y');
		await app.waitForFrame(new RegExp(`pid ${holder.pid} postgres long-reader: terminated`));
		await app.waitForFrame(/✓ migration apply h8c2d6e5f4g3: applied h8c2d6e5f4g3/, 'the apply completes', 60_000);
		assert.equal((await migrationStatus(db.client)).applied, true);
	} finally {
		await holder.client.query('ROLLBACK').catch(() => undefined);
	}
});

test('own session chosen alone: k offers the job\'s cancel after a typed yes, never a signal; q asks, and cancelling leaves no INVALID index', async t => {
	const {db, sessions, app} = await setup(t, {applied: true});
	await db.client.query('DROP INDEX idx_skills_candidate_id_name');
	await app.waitForFrame(/16\/17 valid/, 'the migration screen\'s poll after the drop');
	const holder = await sessions.oldSnapshot('long-reader-2');
	try {
		app.press('m');
		await app.waitForFrame(/Type no backup/, 'the apply dialog', 30_000);
		await typeConfirm(app, 'no backup');
		await app.waitForFrame(/▸ migration apply h8c2d6e5f4g3: build idx_skills_candidate_id_name \(waiting for old snapshots\)/, 'the build waiting', 40_000);
		const build = app.store.getState().ui.migration?.run as {buildPid: number};
		app.press('2');
		await app.waitForFrame(f => /sessions \(v\)/.test(f) && new RegExp(`@\\s*${build.buildPid} `).test(f), 'the build marked as the console\'s own', 20_000);
		// the cursor onto the build's session, alone
		for (let i = 0; i < 40 && !new RegExp(`^›.*\\b${build.buildPid} `, 'm').test(app.lastFrame()); i++) {
			const before = app.lastFrame();
			app.press(keys.down);
			await app.waitForFrame(f => f !== before);
		}
		app.press('k');
		const dialog = await app.waitForFrame(new RegExp(`pid ${build.buildPid} is this console's own migration apply h8c2d6e5f4g3: stop the job\\?`));
		assert.match(dialog, /Not sent: a termination of this session alone stops it half-way, nothing cleaned up\./);
		assert.match(dialog, /Instead the job's own cancel stops it:\s+│\n│\s+pg_cancel_backend stops the running statement\s+│\n│\s+the INVALID index it leaves is dropped/);
		assert.match(dialog, /Type yes to cancel the migration apply/);
		app.press(keys.escape);
		await app.waitForFrame(/Nothing was sent\./);
		assert.equal((await sessions.stateOf(build.buildPid))?.state, 'active', 'the build still runs');

		app.press('q');
		const question = await app.waitForFrame(/Jobs are running/);
		assert.match(question, /▸ migration apply h8c2d6e5f4g3, running .*: build idx_skills_candidate_id_name/);
		assert.match(question, /cancelling it:\s+│\n│\s+pg_cancel_backend stops the running statement\s+│\n│\s+the INVALID index it leaves is dropped/);
		assert.match(question, /leaving it running:\s+│\n│\s+idx_skills_candidate_id_name finishes building on the server and ends VALID/);
		assert.match(question, /y\/Enter cancel them and quit · w wait, then quit · k leave running, quit · n\/Esc cancel/);
		assert.equal(app.quitCalled(), false);
		app.press('y');
		await app.waitForFrame(() => app.quitCalled(), 'the console quits once the job has cleaned up', 30_000);
		assert.deepEqual(await invalidIndexes(db), []);
		assert.equal(app.jobs.store.getState().jobs.at(-1)?.result?.outcome, 'cancelled');
	} finally {
		await holder.client.query('ROLLBACK').catch(() => undefined);
	}
});

test('11.19: a status message stays on the screen it belongs to', async t => {
	const {app} = await setup(t, {applied: true});
	await app.waitForFrame(/Pre-flight for an apply/, 'the migration screen');
	app.press('r');
	await app.waitForFrame(/re-check: duplicates counted again: no duplicates/, 'the re-count done (applied: nothing left to count)', jobMs.duplicateCount);
	app.press('2');
	const other = await app.waitForFrame(/sessions \(v\)/);
	assert.doesNotMatch(other, /re-check: duplicates counted again/);
});
