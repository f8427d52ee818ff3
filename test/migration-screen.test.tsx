import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import {readAudit} from '../source/audit.js';
import {targetKey} from '../source/state.js';
import {countDuplicates, resolveDuplicates} from '../source/actions/migration/duplicates.js';
import {builtinPlan} from '../source/actions/migration/plan.js';
import {startApply} from '../source/actions/migration/run.js';
import {migrationStatus} from '../source/actions/migration/status.js';
import {resolveTarget} from '../source/db/dsn.js';
import {previousRevision} from '../source/intowork.js';
import {sessionPool} from './helpers/backends.js';
import {waitFor, type TestDatabase} from './helpers/db.js';
import {own} from './helpers/own.js';
import {jobMs, keys, typeConfirm, type RenderedApp} from './helpers/render.js';

type Setup = {db: TestDatabase; app: RenderedApp; sessions: ReturnType<typeof sessionPool>; stateDir: string};

/**
 * Each test's own state: a database copied from the template (its duplicates archived, the migration
 * applied, when the test starts from there), a state dir, a console, and test sessions, all gone after it.
 */
async function setup(t: TestContext, options: {archived?: boolean; applied?: boolean; readOnly?: boolean} = {}): Promise<Setup> {
	const {db, stateDir, defer, app: console_} = await own(t, 'migration-screen');
	const target = resolveTarget({dsn: db.url, env: {}});
	const ctx = {target, audit: {key: targetKey(target), role: 'postgres', target: db.url}};
	if (options.archived || options.applied) await resolveDuplicates(ctx, builtinPlan);
	if (options.applied) {
		const applied = await startApply({...ctx, plan: builtinPlan, allowNoBackup: true, probe: false}).done;
		assert.equal(applied.outcome, 'ok', `the set-up apply: ${applied.message}`);
	}
	const sessions = sessionPool(db, defer);
	const app = await console_({screen: 'migration', size: {columns: 150, rows: 50}, state: {intervalMs: 500, ...(options.readOnly ? {readOnly: true} : {})}});
	return {db, app, sessions, stateDir};
}

const totalDuplicates = async (db: TestDatabase) => (await countDuplicates(db.client, builtinPlan)).reduce((n, d) => n + d.extraRows, 0);


test('every object with its state, alembic_version against the target, and the pre-flight', async t => {
	const {app} = await setup(t);
	const frame = await app.waitForFrame(/Duplicates\s+11 duplicate rows stop 3 unique constraints/, 'the duplicate count job', jobMs.duplicateCount);
	assert.match(frame, /h8c2d6e5f4g3 \(built-in plan, 17 objects\) · 0\/17 valid · NOT APPLIED · alembic_version g7b1c5d4e3f2 → h8c2d6e5f4g3/);
	assert.match(frame, /unique_candidate_job_application\s+job_applications\s+unique\s+missing\s+not created yet/);
	assert.match(frame, /idx_jobs_status_location_type\s+jobs\s+index\s+missing/);
	assert.match(frame, /Pre-flight for an apply: blocked/);
	assert.match(frame, /unique_user_provider_account: 3 groups, 3 extra rows in accounts \(provider, provider_account_id\)/);
	assert.match(frame, /✗ Backup\s+no backup of this database in the catalog/);
	assert.match(frame, /✓ Space\s+≈ [\d.]+ [kM]B for 17 objects .*free on \//);
	assert.match(frame, /m apply {2}c cancel {2}d archive dups {2}u restore dups {2}D downgrade {2}r re-check/);
});

test('Enter shows the rows of each duplicate group, the one kept and the ones archiving moves; Esc goes back', async t => {
	const {app} = await setup(t);
	await app.waitForFrame(/Duplicates\s+11 duplicate rows stop 3 unique constraints/, 'the duplicate count job', jobMs.duplicateCount);
	app.press(keys.enter);
	const keep = (f: string) => f.match(/^\S*\s+\d+ keep\s/gm)?.length;
	const archive = (f: string) => f.match(/^\S*\s+\d+ archive\s/gm)?.length;
	// the header shows before the rows do: wait for the whole view, not its first line
	const frame = await app.waitForFrame(
		f => /Duplicates for unique_candidate_job_application: 6 groups, 6 extra rows/.test(f) && keep(f) === 6 && archive(f) === 6,
		'the 6 groups of unique_candidate_job_application, each with a keep row and an archive row',
	);
	assert.match(frame, /Archiving keeps the first by applied_at, id of each group/);
	app.press(keys.escape);
	await app.waitForFrame(f => /Pre-flight for an apply/.test(f) && !/Duplicates for/.test(f), 'back on the objects and the pre-flight');
});

test('m is refused, with the reason, while duplicates block the apply', async t => {
	const {app} = await setup(t);
	await app.waitForFrame(/Pre-flight for an apply: blocked/, 'the pre-flight blocked');
	app.press('m');
	const frame = await app.waitForFrame(/the pre-flight blocks the apply: Duplicates: 11 duplicate rows/);
	assert.doesNotMatch(frame, /Apply migration/);
});

test('d archives the duplicates after confirmation', async t => {
	const {app, db} = await setup(t);
	await app.waitForFrame(/Duplicates\s+11 duplicate rows/, 'the duplicate count job', jobMs.duplicateCount);
	app.press('d');
	const dialog = await app.waitForFrame(/Archive 11 duplicate rows\?/);
	assert.match(dialog, /job_applications \(candidate_id, job_id\): 6 rows in 6 groups/);
	assert.match(dialog, /Moved with every column to intowork_archive\.<table>_duplicates; the oldest of each group stays/);
	assert.match(dialog, /One transaction for all tables; u puts them back/);
	app.press('y');
	await app.waitForFrame(/archived 6 job_applications, 3 accounts, 2 verification_tokens into intowork_archive \(u restores them\)/);
	await app.waitForFrame(/✓ Duplicates\s+none for the unique constraints still to add/, 'the count after the archive', jobMs.duplicateCount);
	assert.equal(await totalDuplicates(db), 0);
});

test('an open transaction shows in the pre-flight with the way to end it', async t => {
	const {app, sessions} = await setup(t, {archived: true});
	const holder = await sessions.oldSnapshot('report-export');
	try {
		const frame = await app.waitForFrame(/! Transactions\s+1 open transaction the concurrent builds will wait for: end them on the Connections screen \(key 2, then k\)/);
		assert.match(frame, new RegExp(`pid ${holder.pid} report-export postgres idle in transaction for .*holds a snapshot: every build waits for it`));
	} finally {
		await holder.client.query('ROLLBACK');
	}
});

test('m without a recent backup asks to type "no backup"; the run shows its progress, whom it waits for, and the job list plan before and after', async t => {
	const {app, db, sessions} = await setup(t, {archived: true});
	await app.waitForFrame(/✓ Duplicates\s+none/, 'the duplicate count job (archived before the console started)', jobMs.duplicateCount);
	const holder = await sessions.oldSnapshot('nightly-report');
	app.press('m');
	const dialog = await app.waitForFrame(/Apply h8c2d6e5f4g3 WITHOUT a recent backup\?/);
	assert.match(dialog, /17 to build, 0 INVALID to drop and rebuild, 0 constraints to attach; 0 already valid/);
	assert.match(dialog, /Type no backup to apply without a backup, Esc to cancel/);
	await typeConfirm(app, 'no backup');
	try {
		// the bar and phase come from pg_stat_progress_create_index, the state from the catalog poll
		const running = await app.waitForFrame(/unique_candidate_job_application\s+job_applications\s+unique\s+building\s+█{8}░{2}\s+83%/, 'the first build waiting for the old snapshot', jobMs.migration);
		assert.match(running, /Apply running .* · 0\/17 done · build pid \d+ · unique_candidate_job_application: phase 6\/6 waiting for old snapshots \(lockers 0\/1\)/);
		assert.match(running, /✓ Objects\s+0 valid, 17 to build/);
		assert.match(running, new RegExp(`waiting for pid ${holder.pid} nightly-report idle in transaction for .*— end it on the Connections screen \\(2, then k\\)`));
		assert.match(running, /Job list before {2}Seq Scan on jobs · p50 /);
		// quitting now would leave the build behind unwatched: the console asks first, saying what cancelling leaves
		app.press('q');
		await app.waitForFrame(/Jobs are running[\s\S]*migration apply h8c2d6e5f4g3[\s\S]*cancelling it:\s+│\n│\s+pg_cancel_backend stops the running statement/);
		app.press(keys.escape);
		await app.waitForFrame(/Apply running/);
		assert.equal(app.quitCalled(), false);
	} finally {
		await holder.client.query('ROLLBACK');
	}
	const done = await app.waitForFrame(/✓ applied h8c2d6e5f4g3 in .*: 17 built/, 'the apply finishes', jobMs.migration);
	assert.match(done, /Job list after {3}Index Scan( Backward)? using idx_jobs_status_location_type on jobs · p50 /);
	await app.waitForFrame(/17\/17 valid · APPLIED/);
	assert.equal((await migrationStatus(db.client)).applied, true);
	const entries = readAudit(targetKey(resolveTarget({dsn: db.url, env: {}}))).filter(e => e.action === 'migrate.apply');
	assert.deepEqual(entries.map(e => e.result), ['started', 'ok']);
	assert.match(JSON.stringify(entries[0]!.detail), /"overrides":\["Backup: no backup of this database/);
});

test('c cancels a running build after confirmation and the screen says what was left', async t => {
	const {app, db, sessions} = await setup(t, {applied: true});
	await db.client.query('DROP INDEX idx_skills_candidate_id_name');
	await app.waitForFrame(/16\/17 valid/);
	const holder = await sessions.oldSnapshot('long-reader');
	try {
		app.press('m');
		await app.waitForFrame(/Type no backup/);
		await typeConfirm(app, 'no backup');
		await app.waitForFrame(/idx_skills_candidate_id_name: phase 6\/6 waiting for old snapshots/, 'the build waiting for the old snapshot', jobMs.migration);
		app.press('c');
		await app.waitForFrame(/pg_cancel_backend\(\d+\) stops idx_skills_candidate_id_name\.\s+│\n│ The INVALID index it leaves is dropped/);
		app.press('y');
		await app.waitForFrame(/✗ cancelled at idx_skills_candidate_id_name; finished objects stay, apply again to resume/);
		// the state column follows the next catalog poll
		await app.waitForFrame(/idx_skills_candidate_id_name\s+skills\s+index\s+missing\s+cancelled\s+cancelled; its INVALID index was dropped/);
	} finally {
		await holder.client.query('ROLLBACK');
	}
});

test('D downgrades after typing "downgrade", u restores the archived duplicates', async t => {
	const {app, db} = await setup(t, {applied: true});
	await app.waitForFrame(/17\/17 valid · APPLIED/, 'the migration applied');
	app.press('D');
	await app.waitForFrame(/Downgrade h8c2d6e5f4g3 to g7b1c5d4e3f2\?/);
	await typeConfirm(app, 'downgrade');
	await app.waitForFrame(/✓ downgraded to g7b1c5d4e3f2 in .*: 17 objects dropped/, 'the downgrade finishes', jobMs.migration);
	await app.waitForFrame(/0\/17 valid · NOT APPLIED · alembic_version g7b1c5d4e3f2 → h8c2d6e5f4g3/);
	assert.equal((await migrationStatus(db.client)).alembicVersion, previousRevision);
	app.press('u');
	await app.waitForFrame(/Restore the duplicates archived at/);
	app.press('y');
	await app.waitForFrame(/restored 6 job_applications, 3 accounts, 2 verification_tokens/);
	assert.equal(await totalDuplicates(db), 11);
});

test('read-only: the changing keys are not bound and the screen says so', async t => {
	const {app: ro} = await setup(t, {readOnly: true});
	const frame = await ro.waitForFrame(/read-only: apply, archive and downgrade are not available/);
	assert.doesNotMatch(frame, /m apply|d archive/);
	assert.match(frame, /r re-check/);
	ro.press('m');
	ro.press('D');
	// r is still bound: its answer (once the count is in) proves the keys were read
	ro.press('r');
	const after = await ro.waitForFrame(/re-check: duplicates counted again: 11 duplicate rows/, 'the re-count done', jobMs.migration);
	assert.doesNotMatch(after, /Apply|Downgrade h8c2d6e5f4g3/);
});

test('the duplicate count outlasting the monitor timeout runs as a job: counting… and its progress, never "none" before a count, then d has the groups', async t => {
	const {db, app: console_} = await own(t, 'migration-screen');
	// Bulk with no duplicates: the counts stay 11 rows, but a full scan of accounts now outlasts the monitor's timeout below.
	await db.client.query(
		`INSERT INTO accounts (user_id, type, provider, provider_account_id)
		SELECT (SELECT min(id) FROM users), 'oauth', 'bulk', g::text FROM generate_series(1, 2000000) g`,
	);
	await db.client.query('ANALYZE accounts');
	const monitorTimeoutMs = 250;
	// The premise: counted the poll's way, on a connection with the monitor's timeout, the count fails.
	await db.client.query(`SET statement_timeout = ${monitorTimeoutMs}`);
	await assert.rejects(countDuplicates(db.client, builtinPlan), (e: {code?: string}) => e.code === '57014', 'the count within the monitor timeout');
	await db.client.query('RESET statement_timeout');

	const app = await console_({screen: 'migration', size: {columns: 150, rows: 50}, state: {intervalMs: 500}, monitor: {statementTimeoutMs: monitorTimeoutMs}});
	const seen = {clear: false, couldNot: false, counting: false, strip: false};
	const frame = await app.waitForFrame(
		f => {
			seen.clear ||= /Duplicates\s+none/.test(f);
			seen.couldNot ||= /could not count/.test(f);
			seen.counting ||= /Duplicates\s+counting…/.test(f);
			seen.strip ||= /▸ duplicate count: counting unique_\w+ on \w+ \(\d\/3\)/.test(f);
			return /Duplicates\s+11 duplicate rows stop 3 unique constraints/.test(f);
		},
		'the count job to finish with the 11 duplicate rows',
		jobMs.migration,
	);
	assert.equal(seen.clear, false, 'the pre-flight said "none" before a count existed');
	assert.equal(seen.couldNot, false, 'the count failed');
	assert.ok(seen.counting, 'the pre-flight said it was counting');
	assert.ok(seen.strip, 'the job strip showed which constraint was being counted');
	assert.match(frame, /11 duplicate rows stop 3 unique constraints: archive them first \(counted [\d.]+(ms|s) ago\)/);
	assert.match(frame, /unique_user_provider_account: 3 groups, 3 extra rows in accounts/);
	app.press('d');
	const dialog = await app.waitForFrame(/Archive 11 duplicate rows\?/, 'the archive prompt');
	assert.match(dialog, /accounts \(provider, provider_account_id\): 3 rows in 3 groups/);
	assert.match(dialog, /Counted [\d.]+(ms|s) ago/);
	app.press(keys.escape);
	await app.waitForFrame(f => !/Archive 11 duplicate rows\?/.test(f), 'the prompt closed');
	// Enter on the accounts constraint: its rows come from the same full scan, past the monitor timeout too.
	app.press(keys.down);
	await app.waitForFrame(/› unique_user_provider_account/, 'the accounts constraint selected');
	app.press(keys.enter);
	const drill = await app.waitForFrame(
		f => /Duplicates for unique_user_provider_account: 3 groups, 3 extra rows/.test(f) && f.match(/^\S*\s+\d+ keep\s/gm)?.length === 3,
		'the 3 groups of unique_user_provider_account, each with its kept row',
		jobMs.migration,
	);
	assert.doesNotMatch(drill, /Cannot read the duplicates/);
});

test("r's message is the re-count's result, said when the count ends, not when it starts", async t => {
	const {app, sessions} = await setup(t);
	await app.waitForFrame(/r re-check/, 'the Migration screen');
	// the first count, started by the screen itself, has ended
	const first = await waitFor(() => app.store.getState().ui.migration?.count, {timeout: jobMs.migration, message: 'the first count'});
	// the re-count waits on this lock until the test lets it go
	const holder = await sessions.session('test-locker');
	await holder.client.query('BEGIN');
	await holder.client.query('LOCK TABLE job_applications IN ACCESS EXCLUSIVE MODE');
	app.press('r');
	const counting = await app.waitForFrame(/▸ duplicate count/, 'the re-count running on the strip');
	const job = app.jobs.running().find(j => j.kind === 'duplicate-count');
	assert.ok(job, 'the re-count is a running job');
	assert.doesNotMatch(counting, /re-check:|checking the plan again/, 'nothing said before the count is in');
	assert.ok(!app.store.getState().message?.text.startsWith('re-check'), 'no message yet');
	await holder.client.query('ROLLBACK');
	const done = await app.waitForFrame(/re-check: duplicates counted again: 11 duplicate rows/, 'the re-count done', jobMs.migration);
	assert.equal(app.jobs.view(job.id)?.result?.outcome, 'ok');
	assert.notEqual(app.store.getState().ui.migration?.count, first, 'a new count');
	assert.doesNotMatch(done, /▸ duplicate count/, 'the count has left the strip');
});
