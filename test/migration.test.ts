import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import {auditContext, readAudit} from '../source/audit.js';
import type {BackupRecord} from '../source/actions/backup/catalog.js';
import {targetKey} from '../source/state.js';
import {countDuplicates, duplicateRows, latestArchive, resolveDuplicates, undoDuplicates} from '../source/actions/migration/duplicates.js';
import {builtinPlan} from '../source/actions/migration/plan.js';
import {backupCheck, describeTransaction, evaluatePreflight, readFastChecks, readSlowChecks, transactionBlocksBuild} from '../source/actions/migration/preflight.js';
import {startApply, startDowngrade, type MigrationRun, type RunView} from '../source/actions/migration/run.js';
import {inspectMigration, migrationStatus} from '../source/actions/migration/status.js';
import {resolveTarget} from '../source/db/dsn.js';
import {migrationRevision, previousRevision} from '../source/intowork.js';
import {seedCounts} from '../source/demo/seed.js';
import {sessionPool} from './helpers/backends.js';
import {testScale} from './helpers/cluster.js';
import {plainRole, testDatabase, waitFor} from './helpers/db.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-migration-'));
process.env.INTOWORK_DB_STATE = stateDir;
after(() => fs.rmSync(stateDir, {recursive: true, force: true}));

const db = await testDatabase();
const sessions = sessionPool(db);
const target = resolveTarget({dsn: db.url, env: {}});
const audit = auditContext(target, 'postgres');
const plan = builtinPlan;
const seeded = seedCounts(testScale);
const base = {target, audit, plan, allowNoBackup: true, pollMs: 100};

const indexNames = async () =>
	(await db.client.query<{name: string}>("SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")).rows.map(r => r.name);
const indexesBefore = await indexNames();

async function finished(run: MigrationRun): Promise<RunView> {
	const view = await run.done;
	assert.notEqual(view.outcome, 'running');
	return view;
}

const auditActions = () => readAudit(targetKey(target)).map(e => `${e.action} ${e.result.split(':')[0]}`);

test('before the migration every object is missing and alembic is at the previous revision', async () => {
	const status = await migrationStatus(db.client);
	assert.equal(status.targetRevision, migrationRevision);
	assert.equal(status.alembicVersion, previousRevision);
	assert.equal(status.applied, false);
	assert.equal(status.objects.filter(o => o.kind === 'index').length, 14);
	assert.deepEqual(
		status.objects.filter(o => o.kind === 'unique').map(o => o.name),
		['unique_candidate_job_application', 'unique_user_provider_account', 'unique_verification_identifier_token'],
	);
	assert.ok(status.objects.every(o => o.state === 'missing'));
});

test('the duplicates the seed planted are counted exactly and block the apply before anything is built', async () => {
	const counts = await countDuplicates(db.client, plan);
	assert.deepEqual(
		counts.map(c => [c.object, c.groups, c.extraRows]),
		[
			['unique_candidate_job_application', seeded.duplicateApplications, seeded.duplicateApplications],
			['unique_user_provider_account', seeded.duplicateAccounts, seeded.duplicateAccounts],
			['unique_verification_identifier_token', seeded.duplicateVerificationTokens, seeded.duplicateVerificationTokens],
		],
	);
	const view = await finished(startApply(base));
	assert.equal(view.outcome, 'refused');
	assert.match(view.refusal!.join('\n'), /Duplicates: 11 duplicate rows stop 3 unique constraints/);
	assert.ok((await migrationStatus(db.client)).objects.every(o => o.state === 'missing'));
	assert.deepEqual(auditActions(), ['migrate.apply refused']);
});

test('the drill-down shows every group with its oldest application kept', async () => {
	const o = plan.objects[0]!;
	const rows = await duplicateRows(db.client, plan, o);
	assert.equal(rows.groupsShown, seeded.duplicateApplications);
	assert.deepEqual(rows.columns.slice(0, 3), ['candidate_id', 'job_id', 'id']);
	for (let g = 1; g <= rows.groupsShown; g++) {
		const group = rows.rows.filter(r => r.group === g);
		assert.equal(group.length, 2);
		assert.deepEqual(
			group.map(r => r.keep),
			[true, false],
		);
		assert.ok(String(group[0]!.values.applied_at) < String(group[1]!.values.applied_at), 'the kept row is the oldest');
	}
	// without a keep order in the plan, the primary key decides: the first row inserted stays
	const tokens = await duplicateRows(db.client, plan, {...plan.objects[2]!, keep: undefined});
	for (const g of [1, 2]) {
		const [kept, archived] = tokens.rows.filter(r => r.group === g);
		assert.ok(kept!.keep && !archived!.keep && Number(kept!.values.id) < Number(archived!.values.id));
	}
});

test('archiving refuses when another table references a duplicate, and moves nothing', async () => {
	const {rows} = await db.client.query<{id: number}>(
		`SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY candidate_id, job_id ORDER BY applied_at, id) AS n FROM job_applications) x WHERE n > 1 LIMIT 1`,
	);
	await db.client.query('CREATE TABLE interviews (id serial PRIMARY KEY, application_id int REFERENCES job_applications (id) ON DELETE CASCADE)');
	await db.client.query('INSERT INTO interviews (application_id) VALUES ($1)', [rows[0]!.id]);
	try {
		await assert.rejects(resolveDuplicates({target, audit}, plan), /1 rows of interviews reference duplicates of job_applications that would be archived \(interviews_application_id_fkey\)/);
		assert.equal((await countDuplicates(db.client, plan)).reduce((n, d) => n + d.extraRows, 0), 11);
	} finally {
		await db.client.query('DROP TABLE interviews');
	}
});

test('archiving moves exactly the duplicates, every column kept, and undo puts them back', async () => {
	const snapshot = async (table: string, keys: string, order: string) =>
		(
			await db.client.query<{id: number; row: Record<string, unknown>}>(
				`SELECT id, to_jsonb(t) AS row FROM (SELECT t.*, row_number() OVER (PARTITION BY ${keys} ORDER BY ${order}) AS n FROM ${table} t) t WHERE n > 1 ORDER BY id`,
			)
		).rows.map(r => {
			delete r.row.n;
			return r;
		});
	const expected = {
		job_applications: await snapshot('job_applications', 'candidate_id, job_id', 'applied_at, id'),
		accounts: await snapshot('accounts', 'provider, provider_account_id', 'created_at, id'),
		verification_tokens: await snapshot('verification_tokens', 'identifier, token', 'id'),
	};
	const total = async (table: string) => Number((await db.client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
	const before = {job_applications: await total('job_applications'), accounts: await total('accounts'), verification_tokens: await total('verification_tokens')};

	const resolution = await resolveDuplicates({target, audit}, plan);
	assert.deepEqual(
		resolution.tables.map(t => [t.table, t.rows]),
		Object.entries(expected).map(([table, rows]) => [table, rows.length]),
	);
	for (const [table, rows] of Object.entries(expected)) {
		const archived = await db.client.query<{row: Record<string, unknown>}>(
			`SELECT to_jsonb(a) - 'archived_at' - 'archive_batch' AS row FROM intowork_archive.${table}_duplicates a WHERE archive_batch = $1 ORDER BY id`,
			[resolution.batch],
		);
		assert.deepEqual(archived.rows.map(r => r.row), rows.map(r => r.row), `${table}: the archive holds exactly the duplicates, every column`);
		const left = await db.client.query(`SELECT count(*) AS n FROM ${table} WHERE id = ANY($1::int[])`, [rows.map(r => r.id)]);
		assert.equal(Number(left.rows[0].n), 0);
		assert.equal(await total(table), before[table as keyof typeof before] - rows.length);
	}
	assert.deepEqual((await countDuplicates(db.client, plan)).map(d => d.groups), [0, 0, 0]);
	assert.equal((await latestArchive(db.client, plan))?.batch, resolution.batch);

	const restored = await undoDuplicates({target, audit}, plan);
	assert.equal(restored.batch, resolution.batch);
	for (const [table, rows] of Object.entries(expected)) {
		const back = await db.client.query<{row: Record<string, unknown>}>(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE id = ANY($1::int[]) ORDER BY id`, [rows.map(r => r.id)]);
		assert.deepEqual(back.rows.map(r => r.row), rows.map(r => r.row), `${table}: restored as they were`);
		assert.equal(await total(table), before[table as keyof typeof before]);
	}
	assert.equal(await latestArchive(db.client, plan), undefined);
	await assert.rejects(undoDuplicates({target, audit}, plan), /nothing to restore/);

	await resolveDuplicates({target, audit}, plan);
	assert.deepEqual(auditActions().slice(-4), ['migrate.resolve-duplicates ok', 'migrate.undo-duplicates ok', 'migrate.undo-duplicates failed', 'migrate.resolve-duplicates ok']);
});

test('the pre-flight says which open transactions the builds will wait for', async () => {
	const snapshot = await sessions.session('preflight-snapshot');
	await snapshot.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
	await snapshot.client.query('SELECT 1');
	const writer = await sessions.session('preflight-writer');
	await writer.client.query('BEGIN');
	await writer.client.query('UPDATE jobs SET views_count = views_count WHERE id = 1');
	const idle = await sessions.idleInTransaction('preflight-idle');
	try {
		const fast = await readFastChecks(db.client, plan, 0);
		const by = (pid: number) => fast.transactions.find(t => t.pid === pid)!;
		assert.equal(by(snapshot.pid).snapshot, true);
		assert.match(describeTransaction(by(snapshot.pid)), /preflight-snapshot postgres idle in transaction for .*: holds a snapshot: every build waits for it/);
		assert.deepEqual(by(writer.pid).writes, ['jobs']);
		assert.match(describeTransaction(by(writer.pid)), /writes jobs: builds there wait for it/);
		assert.equal(transactionBlocksBuild(by(idle.pid)), false);
		assert.match(describeTransaction(by(idle.pid)), /the builds do not wait for it/);
		const report = evaluatePreflight('apply', plan, await inspectMigration(db.client, plan), fast, undefined, backupCheck([]));
		const item = report.items.find(i => i.id === 'transactions')!;
		assert.equal(item.level, 'warn');
		assert.match(item.summary, /2 open transactions the concurrent builds will wait for: end them on the Connections screen \(key 2, then k\)/);
		// a role without pg_read_all_stats sees other roles' sessions blanked out, and is told so
		const plain = new pg.Client({connectionString: await plainRole(db, 'migration_plain', 'migration_plain')});
		await plain.connect();
		try {
			const blind = await readFastChecks(plain, plan, 0);
			assert.equal(blind.seesAllSessions, false);
			const blindItem = evaluatePreflight('apply', plan, await inspectMigration(plain, plan), blind, undefined, backupCheck([])).items.find(i => i.id === 'transactions')!;
			assert.equal(blindItem.level, 'warn');
			assert.match(blindItem.lines[0]!, /cannot see other roles' transactions, so this list may be incomplete: GRANT pg_monitor/);
		} finally {
			await plain.end();
		}
	} finally {
		for (const s of [snapshot, writer, idle]) await s.client.query('ROLLBACK');
	}
});

test('the pre-flight estimates index sizes, reads free space and lists INVALID indexes not in the plan', async () => {
	await db.client.query('CREATE UNIQUE INDEX CONCURRENTLY accounts_user_broken ON accounts (type)').catch(() => undefined);
	try {
		const inspection = await inspectMigration(db.client, plan);
		const slow = await readSlowChecks(db.client, plan, inspection);
		assert.deepEqual(slow.planProblems, []);
		assert.equal(slow.space.estimates.length, 17);
		const jobsIndex = slow.space.estimates.find(e => e.name === 'idx_jobs_status_location_type')!;
		assert.ok(jobsIndex.rows > 0 && jobsIndex.rows < seeded.jobs, 'a partial index counts only its rows');
		assert.ok(slow.space.freeBytes !== undefined && slow.space.freeBytes > 0, `free space read: ${slow.space.where}`);
		const fast = await readFastChecks(db.client, plan);
		assert.deepEqual(fast.invalid, [{schema: 'public', name: 'accounts_user_broken', table: 'accounts', inPlan: false}]);
		const report = evaluatePreflight('apply', plan, inspection, fast, slow, backupCheck([]));
		assert.match(report.items.find(i => i.id === 'invalid')!.lines.join('\n'), /not in this plan; DROP INDEX CONCURRENTLY public.accounts_user_broken/);
		assert.equal(report.items.find(i => i.id === 'space')!.level, 'ok');
		// The console counts duplicates apart from these checks: without a count the pre-flight never says "none".
		const uncounted = await readSlowChecks(db.client, plan, inspection, {duplicates: false});
		const duplicatesItem = (checks: typeof slow) => evaluatePreflight('apply', plan, inspection, fast, checks, backupCheck([])).items.find(i => i.id === 'duplicates')!;
		assert.deepEqual([duplicatesItem(uncounted).level, duplicatesItem(uncounted).summary], ['info', 'not counted yet']);
		assert.equal(duplicatesItem({...uncounted, counting: 'unique_user_provider_account on accounts (2/3)'}).summary, 'counting… unique_user_provider_account on accounts (2/3)');
		assert.match(duplicatesItem({...slow, countedAt: Date.now() - 125_000}).summary, /\(counted 2m0[56]s ago\)$/);
	} finally {
		await db.client.query('DROP INDEX IF EXISTS accounts_user_broken');
	}
});

test('without a backup from the last 24 h the apply is refused unless overridden', async () => {
	const record = (hoursAgo: number): BackupRecord => ({
		id: 'b1',
		file: '/backups/b1.dump',
		format: 'custom',
		sizeBytes: 1 << 20,
		sha256: 'x',
		startedAt: new Date(Date.now() - hoursAgo * 3_600_000 - 1000).toISOString(),
		finishedAt: new Date(Date.now() - hoursAgo * 3_600_000).toISOString(),
		durationMs: 1000,
		serverVersion: '15',
		database: db.name,
		rowCounts: {},
	});
	assert.equal(backupCheck([]).level, 'block');
	assert.match(backupCheck([record(30)]).summary, /last backup 30h00m ago .*older than 24 h/);
	assert.equal(backupCheck([record(2)]).level, 'ok');
	const view = await finished(startApply({...base, allowNoBackup: false, backups: [record(30)]}));
	assert.equal(view.outcome, 'refused');
	assert.deepEqual(view.refusal, [
		'Backup: last backup 30h00m ago (1.0 MB, not restore-tested): older than 24 h, take a fresh one first (to go ahead anyway: type "no backup" at the apply prompt, or migrate --apply --without-backup)',
	]);
});

test('an index of a plan name but another definition blocks the apply and is never dropped', async () => {
	await db.client.query('CREATE INDEX idx_jobs_company_id_status ON jobs (company_id)');
	try {
		const inspection = await inspectMigration(db.client, plan);
		const o = inspection.objects.find(i => i.object.name === 'idx_jobs_company_id_status')!;
		assert.equal(o.state, 'invalid');
		assert.equal(o.mismatch, 'the existing "idx_jobs_company_id_status" is on (company_id), the plan says (company_id, status)');
		const view = await finished(startApply(base));
		assert.equal(view.outcome, 'refused');
		assert.match(view.refusal!.join('\n'), /Objects: .*idx_jobs_company_id_status: the existing "idx_jobs_company_id_status" is on \(company_id\)/);
		assert.ok((await indexNames()).includes('idx_jobs_company_id_status'));
	} finally {
		await db.client.query('DROP INDEX idx_jobs_company_id_status');
	}
});

test('a plan that does not fit this database is refused with each problem named', async () => {
	const [, , , jobs, byType] = plan.objects;
	const misfit = {
		...plan,
		objects: [
			{...jobs!, name: 'idx_misfit_column', columns: ['location_type', 'no_such_column']},
			{...byType!, name: 'idx_misfit_predicate', where: 'no_such = 1'},
			{...byType!, name: 'idx_misfit_table', table: 'no_such_table'},
		],
	};
	const slow = await readSlowChecks(db.client, misfit, await inspectMigration(db.client, misfit));
	assert.deepEqual(slow.planProblems.map(p => p.replace(/: column .*/, '')), [
		'table public.no_such_table does not exist (is this the right database, or the right --migration-plan?)',
		'idx_misfit_column: jobs has no column no_such_column',
		'idx_misfit_predicate: WHERE no_such = 1 does not work on jobs',
	]);
	const view = await finished(startApply({...base, plan: misfit}));
	assert.equal(view.outcome, 'refused');
	assert.match(view.refusal![0]!, /^Plan: 3 problems with the plan on this database/);
});

test('a second migration action on the same database is turned away, naming the session that holds it', async () => {
	const other = await sessions.session('other-console');
	await other.client.query('SELECT pg_advisory_lock(7597692622213294450)');
	try {
		const view = await finished(startApply(base));
		assert.equal(view.outcome, 'failed');
		assert.equal(view.message, `failed: another migration action is running against this database (pid ${other.pid}, other-console, role postgres); wait for it or cancel it there`);
		await assert.rejects(resolveDuplicates({target}, plan), /another migration action is running/);
	} finally {
		await other.client.query('SELECT pg_advisory_unlock_all()');
	}
});

test('a build whose backend is terminated leaves an INVALID index that the next apply drops and rebuilds', async () => {
	// A snapshot older than the build: CREATE INDEX CONCURRENTLY waits for it in its last phase, with the index INVALID.
	const holder = await sessions.session('old-snapshot');
	await holder.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
	await holder.client.query('SELECT 1');
	const run = startApply(base);
	const waiting = (await waitFor(() => {
		const step = run.view().steps.find(s => s.status === 'running');
		return step?.progress?.phase === 'waiting for old snapshots' && step.progress.waitingFor.some(w => w.pid === holder.pid) ? step : undefined;
	}, {message: 'the build waits for the old snapshot'}))!;
	assert.equal(waiting.name, 'unique_candidate_job_application');
	assert.equal(waiting.progress!.phaseIndex, 6);
	assert.equal(waiting.progress!.waitingFor[0]!.application, 'old-snapshot');
	// the build's backend is the engine's own, started by this test
	await db.client.query('SELECT pg_terminate_backend($1)', [run.view().buildPid]);
	const interrupted = await finished(run);
	assert.equal(interrupted.outcome, 'interrupted');
	assert.match(interrupted.message!, /interrupted at unique_candidate_job_application: the build's backend \(pid \d+\) is gone/);
	assert.match(interrupted.steps[0]!.note!, /left INVALID; the next apply drops and rebuilds it/);
	const left = await db.client.query<{indisvalid: boolean}>("SELECT indisvalid FROM pg_index WHERE indexrelid = 'unique_candidate_job_application'::regclass");
	assert.equal(left.rows[0]!.indisvalid, false);
	assert.equal((await migrationStatus(db.client)).objects[0]!.state, 'invalid');
	await holder.client.query('ROLLBACK');

	const again = await finished(startApply(base));
	assert.equal(again.outcome, 'ok', again.message);
	assert.equal(again.steps[0]!.action, 'rebuild');
	assert.equal(again.steps[0]!.status, 'done');
	const status = await migrationStatus(db.client);
	assert.equal(status.applied, true);
	assert.equal(status.alembicVersion, migrationRevision);
	const constraints = await db.client.query<{conname: string}>("SELECT conname FROM pg_constraint WHERE contype = 'u' AND conname LIKE 'unique_%' ORDER BY 1");
	assert.deepEqual(constraints.rows.map(r => r.conname), ['unique_candidate_job_application', 'unique_user_provider_account', 'unique_verification_identifier_token']);
	assert.ok(again.before && 'scan' in again.before && again.before.scan === 'Seq Scan on jobs', JSON.stringify(again.before));
	assert.ok(again.after && 'scan' in again.after && /^Index Scan( Backward)? using idx_jobs_status_location_type on jobs$/.test(again.after.scan), JSON.stringify(again.after));
	assert.deepEqual(auditActions().slice(-4), ['migrate.apply started', 'migrate.apply interrupted', 'migrate.apply started', 'migrate.apply ok']);
});

test('cancel stops the running build with pg_cancel_backend and drops the INVALID index it leaves', async () => {
	await db.client.query('DROP INDEX idx_experiences_candidate_id_current');
	const holder = await sessions.session('old-snapshot-2');
	await holder.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
	await holder.client.query('SELECT 1');
	try {
		const run = startApply(base);
		await waitFor(() => run.view().steps.find(s => s.status === 'running')?.progress?.phase === 'waiting for old snapshots', {message: 'the build waits'});
		await run.cancel();
		const view = await finished(run);
		assert.equal(view.outcome, 'cancelled');
		const step = view.steps.find(s => s.name === 'idx_experiences_candidate_id_current')!;
		assert.equal(step.status, 'cancelled');
		assert.match(step.note!, /its INVALID index was dropped/);
		assert.ok(!(await indexNames()).includes('idx_experiences_candidate_id_current'));
		assert.equal((await migrationStatus(db.client)).objects.at(-1)!.state, 'missing');
		assert.equal(view.steps.filter(s => s.status === 'skipped').length, 16, 'the valid objects were left alone');
	} finally {
		await holder.client.query('ROLLBACK');
	}
});

test('ADD CONSTRAINT waits only a short lock_timeout and retries until the table is free', async () => {
	await db.client.query('ALTER TABLE verification_tokens DROP CONSTRAINT unique_verification_identifier_token');
	const holder = await sessions.session('table-reader');
	await holder.client.query('BEGIN');
	await holder.client.query('SELECT count(*) FROM verification_tokens');
	const run = startApply({...base, constraintLockTimeoutMs: 100, constraintAttempts: 30});
	const retrying = (await waitFor(() => run.view().steps.find(s => s.name === 'unique_verification_identifier_token')?.note, {message: 'a retry'}))!;
	assert.match(retrying, new RegExp(`^attempt 1/30: lock on verification_tokens not granted within 100 ms \\(held by pid ${holder.pid} table-reader idle in transaction\\); retrying in`));
	await holder.client.query('COMMIT');
	const view = await finished(run);
	assert.equal(view.outcome, 'ok', view.message);
	assert.equal(view.steps.find(s => s.name === 'unique_verification_identifier_token')!.status, 'done');
	assert.equal(view.steps.find(s => s.name === 'idx_experiences_candidate_id_current')!.status, 'done');
	assert.equal((await migrationStatus(db.client)).applied, true);
});

test('downgrade drops what the migration added and restores alembic_version', async () => {
	// while the constraints stand, the archived duplicates cannot go back, and nothing half-goes back
	await assert.rejects(undoDuplicates({target, audit}, plan), /^MigrationError: cannot restore into job_applications: a unique constraint or index there refuses the duplicates; downgrade first, nothing was restored$/);
	assert.equal((await latestArchive(db.client, plan))!.tables.reduce((n, t) => n + t.rows, 0), 11);
	const view = await finished(startDowngrade(base));
	assert.equal(view.outcome, 'ok', view.message);
	const status = await migrationStatus(db.client);
	assert.equal(status.alembicVersion, previousRevision);
	assert.ok(status.objects.every(o => o.state === 'missing'));
	assert.deepEqual(await indexNames(), indexesBefore);
	assert.deepEqual(auditActions().slice(-3), ['migrate.undo-duplicates failed', 'migrate.downgrade started', 'migrate.downgrade ok']);
	// the archived duplicates are still archived: the archive is not part of the migration
	assert.ok(await latestArchive(db.client, plan));
});
