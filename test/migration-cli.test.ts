import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {after, test, type TestContext} from 'node:test';
import {readAudit} from '../source/audit.js';
import {targetKey} from '../source/state.js';
import {countDuplicates, resolveDuplicates} from '../source/actions/migration/duplicates.js';
import {builtinPlan, validatePlan} from '../source/actions/migration/plan.js';
import {startApply} from '../source/actions/migration/run.js';
import {migrationStatus} from '../source/actions/migration/status.js';
import {resolveTarget} from '../source/db/dsn.js';
import {migrationRevision, previousRevision} from '../source/intowork.js';
import {runCli} from './helpers/cli.js';
import {sessionPool} from './helpers/backends.js';
import {waitFor} from './helpers/db.js';
import {own} from './helpers/own.js';

/** Each test's own state: a database copied from the template and a state dir (audit log, catalog), and `migrate` run on them. */
async function setup(t: TestContext) {
	const owned = await own(t, 'migrate-cli');
	const {db} = owned;
	return {
		...owned,
		sessions: sessionPool(db, owned.defer),
		migrate: (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(['migrate', ...args], {env: {DATABASE_URL: db.url, ...extra}}),
		totalDuplicates: async () => (await countDuplicates(db.client, builtinPlan)).reduce((n, d) => n + d.extraRows, 0),
	};
}

/** stderr is one line (no stack trace) and says this. */
function oneLine(stderr: string, expected: RegExp) {
	const lines = stderr.trimEnd().split('\n');
	assert.equal(lines.length, 1, `one line:\n${stderr}`);
	assert.match(lines[0]!, expected);
}

// A stand-in for the backend's `alembic`: it runs the migration's SQL (from the
// built plan module) on DATABASE_URL and talks like Alembic. FAKE_ALEMBIC_FAIL
// makes it fail after the first object.
const here = path.dirname(fileURLToPath(import.meta.url));
const pgModule = createRequire(import.meta.url).resolve('pg');
const planModule = pathToFileURL(path.resolve(here, '../source/actions/migration/plan.js')).href;
// Tools, not state: no test changes them.
const fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-migrate-cli-'));
after(() => fs.rmSync(fixtures, {recursive: true, force: true}));
const fakeBin = path.join(fixtures, 'bin');
const backendDir = path.join(fixtures, 'backend');
fs.mkdirSync(fakeBin);
fs.mkdirSync(backendDir);
fs.writeFileSync(path.join(backendDir, 'alembic.ini'), '[alembic]\nscript_location = alembic\n');
fs.writeFileSync(
	path.join(fakeBin, 'alembic'),
	`#!${process.execPath}
const pg = require(${JSON.stringify(pgModule)});
(async () => {
	const [command, revision] = process.argv.slice(2);
	const p = await import(${JSON.stringify(planModule)});
	const plan = p.builtinPlan;
	const log = line => console.error('INFO  [alembic.runtime.migration] ' + line);
	const client = new pg.Client({connectionString: process.env.DATABASE_URL});
	await client.connect();
	log('Context impl PostgresqlImpl.');
	const up = command === 'upgrade';
	log(up ? 'Running upgrade ' + plan.previousRevision + ' -> ' + revision + ', add indexes' : 'Running downgrade ' + plan.revision + ' -> ' + revision);
	for (const o of up ? plan.objects : [...plan.objects].reverse()) {
		if (up) {
			await client.query(p.createIndexSql(plan, o));
			if (o.unique) await client.query(p.addConstraintSql(plan, o));
		} else await client.query(o.unique ? p.dropConstraintSql(plan, o) : p.dropIndexSql(plan, o));
		console.log('  ' + o.name);
		if (process.env.FAKE_ALEMBIC_FAIL) {
			console.error('sqlalchemy.exc.OperationalError: simulated failure');
			process.exit(1);
		}
	}
	await client.query('UPDATE alembic_version SET version_num = $1', [revision]);
	await client.end();
})();
`,
	{mode: 0o755},
);
const withAlembic = {PATH: `${fakeBin}${path.delimiter}${process.env.PATH}`};

test('a bad --migration-plan file: exit 2 and one line naming the problem, before connecting', async t => {
	const {migrate, stateDir} = await setup(t);
	const bad = path.join(stateDir, 'bad.json');
	fs.writeFileSync(bad, JSON.stringify({revision: migrationRevision, previousRevision, objects: [{name: 'i', table: 'jobs', unique: false, serves: 'x', why: 'y'}]}));
	const r = await migrate(['--status', '--migration-plan', bad], {DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none'});
	assert.equal(r.code, 2);
	oneLine(r.stderr, /^--migration-plan .*bad\.json: objects\[0\]\.columns: expected a non-empty array of column names$/);
	const missing = await migrate(['--status', '--migration-plan', path.join(stateDir, 'nope.json')]);
	assert.equal(missing.code, 2);
	oneLine(missing.stderr, /nope\.json: cannot read: no such file$/);
	const usage = await migrate(['--status', '--apply']);
	assert.equal(usage.code, 2);
	oneLine(usage.stderr, /^migrate: give exactly one of --status, --plan, --apply, --resolve-duplicates, --undo-duplicates, --downgrade$/);
});

test('--status: every object, the pre-flight, exit 1 while not applied; --json for scripts', async t => {
	const {migrate} = await setup(t);
	const r = await migrate(['--status']);
	assert.equal(r.code, 1, r.stderr);
	assert.match(r.stdout, /^Migration h8c2d6e5f4g3 \(built-in plan\) on postgres:\*\*\*@127\.0\.0\.1:\d+\/t_\w+: NOT APPLIED$/m);
	assert.match(r.stdout, /^alembic_version {2}g7b1c5d4e3f2 \(target h8c2d6e5f4g3\)$/m);
	assert.match(r.stdout, /^ {2}missing {3}unique {2}job_applications {7}unique_candidate_job_application {2}\(not created yet\)$/m);
	assert.match(r.stdout, /✗ Duplicates: 11 duplicate rows stop 3 unique constraints/);
	assert.match(r.stdout, /✗ Backup: no backup of this database in the catalog/);
	const json = await migrate(['--status', '--json']);
	const status = JSON.parse(json.stdout);
	assert.equal(status.targetRevision, migrationRevision);
	assert.equal(status.alembicVersion, previousRevision);
	assert.equal(status.applied, false);
	assert.equal(status.objects.length, 17);
	assert.deepEqual(status.objects[0], {name: 'unique_candidate_job_application', table: 'job_applications', kind: 'unique', state: 'missing'});
	assert.equal(status.preflight.find((i: {id: string}) => i.id === 'duplicates').level, 'block');
});

test('--plan prints the SQL an apply would run; --plan --json the plan file format', async t => {
	const {migrate, stateDir} = await setup(t);
	const r = await migrate(['--plan']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /^CREATE UNIQUE INDEX CONCURRENTLY "unique_candidate_job_application" ON "public"\."job_applications" \("candidate_id", "job_id"\);$/m);
	assert.match(r.stdout, /^SET lock_timeout = '500ms';/m);
	assert.match(r.stdout, /^ALTER TABLE "public"\."job_applications" ADD CONSTRAINT "unique_candidate_job_application" UNIQUE USING INDEX "unique_candidate_job_application";$/m);
	assert.match(r.stdout, /^CREATE INDEX CONCURRENTLY "idx_jobs_status_location_type" ON "public"\."jobs" \("location_type", "location", "posted_at"\) WHERE status = 'published';$/m);
	assert.match(r.stdout, /^UPDATE "public"\."alembic_version" SET version_num = 'h8c2d6e5f4g3' WHERE version_num = 'g7b1c5d4e3f2';$/m);
	assert.equal((r.stdout.match(/^CREATE (UNIQUE )?INDEX CONCURRENTLY/gm) ?? []).length, 17);
	const json = await migrate(['--plan', '--json']);
	assert.deepEqual(validatePlan(JSON.parse(json.stdout)), builtinPlan);
	// an operator's own plan, in that format, replaces the built-in one
	const ownPlan = path.join(stateDir, 'own-plan.json');
	fs.writeFileSync(ownPlan, JSON.stringify({...JSON.parse(json.stdout), objects: [builtinPlan.objects[4]]}));
	const custom = await migrate(['--plan', '--migration-plan', ownPlan]);
	assert.equal(custom.code, 0, custom.stderr);
	assert.match(custom.stdout, /^-- Migration h8c2d6e5f4g3 \(.*own-plan\.json plan\)/);
	assert.deepEqual(custom.stdout.match(/^CREATE .*$/gm), [`CREATE INDEX CONCURRENTLY "idx_jobs_status_job_type" ON "public"."jobs" ("job_type", "posted_at") WHERE status = 'published';`]);
});

test('without --yes the changing modes say what they would do and change nothing', async t => {
	const {db, migrate, totalDuplicates} = await setup(t);
	const apply = await migrate(['--apply']);
	assert.equal(apply.code, 1, 'the pre-flight blocks it');
	assert.match(apply.stdout, /Would do, in this order \(17 of 17 objects\):\n {2}build {18}unique_candidate_job_application on job_applications/);
	assert.match(apply.stdout, /The pre-flight blocks the apply\. Nothing was changed\.$/m);
	const resolve = await migrate(['--resolve-duplicates']);
	assert.equal(resolve.code, 0);
	assert.match(resolve.stdout, /unique_candidate_job_application: 6 groups, 6 rows to archive from job_applications \(candidate_id, job_id\)/);
	assert.match(resolve.stdout, /Would move 11 rows into intowork_archive, keeping the first of each group\. Nothing was changed/);
	const downgrade = await migrate(['--downgrade']);
	assert.equal(downgrade.code, 0);
	assert.match(downgrade.stdout, /Nothing to do for the objects\./);
	assert.equal(await totalDuplicates(), 11);
	assert.equal((await migrationStatus(db.client)).objects.filter(o => o.state !== 'missing').length, 0);
	assert.deepEqual(readAudit(targetKey(resolveTarget({dsn: db.url, env: {}}))), []);
});

test('--apply --yes: refused without a backup, applied with --without-backup once duplicates are archived; downgrade and undo restore the start', async t => {
	const {db, migrate, totalDuplicates} = await setup(t);
	const resolve = await migrate(['--resolve-duplicates', '--yes']);
	assert.equal(resolve.code, 0, resolve.stderr);
	assert.match(resolve.stdout, /^job_applications: 6 rows moved to intowork_archive\.job_applications_duplicates$/m);
	assert.equal(await totalDuplicates(), 0);

	const refused = await migrate(['--apply', '--yes']);
	assert.equal(refused.code, 1);
	oneLine(refused.stderr, /^intowork-db migrate: refused: the pre-flight blocks it: Backup: no backup of this database in the catalog/);
	assert.equal((await migrationStatus(db.client)).objects[0]!.state, 'missing');

	const applied = await migrate(['--apply', '--yes', '--without-backup']);
	assert.equal(applied.code, 0, applied.stderr);
	assert.match(applied.stdout, /^pre-flight override: Backup: no backup/m);
	assert.match(applied.stdout, /^▸ build idx_jobs_status_location_type on jobs$/m);
	assert.match(applied.stdout, /^✓ idx_jobs_status_location_type valid in /m);
	assert.match(applied.stdout, /^applied h8c2d6e5f4g3 in .*: 17 built, 0 rebuilt, 0 attached, 0 already valid; alembic_version g7b1c5d4e3f2 → h8c2d6e5f4g3$/m);
	assert.match(applied.stdout, /^job list before: Seq Scan on jobs, p50 /m);
	assert.match(applied.stdout, /^job list after: Index Scan( Backward)? using idx_jobs_status_location_type on jobs, p50 /m);
	const status = await migrate(['--status']);
	assert.equal(status.code, 0);
	assert.match(status.stdout, /: APPLIED$/m);

	const downgrade = await migrate(['--downgrade', '--yes']);
	assert.equal(downgrade.code, 0, downgrade.stderr);
	assert.match(downgrade.stdout, /^downgraded to g7b1c5d4e3f2 in .*: 17 objects dropped; alembic_version h8c2d6e5f4g3 → g7b1c5d4e3f2$/m);
	const undo = await migrate(['--undo-duplicates', '--yes']);
	assert.equal(undo.code, 0, undo.stderr);
	assert.match(undo.stdout, /^job_applications: 6 rows restored from intowork_archive\.job_applications_duplicates$/m);
	assert.equal(await totalDuplicates(), 11);
	const s = await migrationStatus(db.client);
	assert.equal(s.alembicVersion, previousRevision);
	assert.ok(s.objects.every(o => o.state === 'missing'));
	const actions = readAudit(targetKey(resolveTarget({dsn: db.url, env: {}}))).map(e => `${e.action} ${e.result.split(':')[0]}`);
	assert.deepEqual(actions, [
		'migrate.resolve-duplicates ok',
		'migrate.apply refused',
		'migrate.apply started',
		'migrate.apply ok',
		'migrate.downgrade started',
		'migrate.downgrade ok',
		'migrate.undo-duplicates ok',
	]);
});

test('--alembic-dir: alembic runs the upgrade, its output streams, the objects are verified; a failure says why', async t => {
	const {db, migrate} = await setup(t);
	assert.equal((await migrate(['--resolve-duplicates', '--yes'])).code, 0);
	const noAlembic = await migrate(['--apply', '--yes', '--without-backup', '--alembic-dir', backendDir], {PATH: path.dirname(process.execPath)});
	assert.equal(noAlembic.code, 1);
	oneLine(noAlembic.stderr, /^intowork-db migrate: failed: alembic is not on PATH: activate the backend's virtualenv/);

	const failing = await migrate(['--apply', '--yes', '--without-backup', '--alembic-dir', backendDir], {...withAlembic, FAKE_ALEMBIC_FAIL: '1'});
	assert.equal(failing.code, 1);
	oneLine(failing.stderr, /^intowork-db migrate: failed: alembic exited with 1: sqlalchemy\.exc\.OperationalError: simulated failure$/);
	assert.equal((await migrationStatus(db.client)).alembicVersion, previousRevision);
	// the object alembic finished before failing stays; drop it so the next upgrade starts clean, as Alembic's would
	await db.client.query('ALTER TABLE job_applications DROP CONSTRAINT unique_candidate_job_application');

	const r = await migrate(['--apply', '--yes', '--without-backup', '--alembic-dir', backendDir], withAlembic);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /^\$ alembic upgrade h8c2d6e5f4g3 {3}\(in .*backend\)$/m);
	assert.match(r.stdout, /^ {2}alembic: INFO {2}\[alembic\.runtime\.migration\] Running upgrade g7b1c5d4e3f2 -> h8c2d6e5f4g3, add indexes$/m);
	assert.match(r.stdout, /^ {2}alembic: {3}idx_experiences_candidate_id_current$/m);
	assert.match(r.stdout, /^applied h8c2d6e5f4g3 in .*: alembic upgrade h8c2d6e5f4g3, every object verified/m);
	assert.equal((await migrationStatus(db.client)).applied, true);

	const down = await migrate(['--downgrade', '--yes', '--alembic-dir', backendDir], withAlembic);
	assert.equal(down.code, 0, down.stderr);
	assert.match(down.stdout, /^\$ alembic downgrade g7b1c5d4e3f2/m);
	const s = await migrationStatus(db.client);
	assert.equal(s.alembicVersion, previousRevision);
	assert.ok(s.objects.every(o => o.state === 'missing'));
});

test('under --alembic-dir the build is watched through its application_name, and cancel stops alembic and drops what it left', async t => {
	const {db, sessions, totalDuplicates} = await setup(t);
	const target = resolveTarget({dsn: db.url, env: {}});
	await resolveDuplicates({target, audit: {key: targetKey(target), role: 'postgres', target: db.url}}, builtinPlan);
	assert.equal(await totalDuplicates(), 0, 'archived');
	const holder = await sessions.session('alembic-old-snapshot');
	await holder.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
	await holder.client.query('SELECT 1');
	const path0 = process.env.PATH;
	process.env.PATH = withAlembic.PATH;
	try {
		const run = startApply({target, plan: builtinPlan, alembicDir: backendDir, allowNoBackup: true, probe: false, pollMs: 100});
		const step = (await waitFor(() => run.view().steps.find(s => s.progress?.waitingFor.some(w => w.pid === holder.pid)), {message: 'alembic waits for the old snapshot'}))!;
		assert.equal(step.name, 'unique_candidate_job_application');
		assert.equal(step.progress!.phase, 'waiting for old snapshots');
		assert.match(run.view().log.join('\n'), /Running upgrade g7b1c5d4e3f2 -> h8c2d6e5f4g3/);
		await run.cancel();
		const view = await run.done;
		assert.equal(view.outcome, 'cancelled', view.message);
		assert.match(view.steps[0]!.note ?? '', /its INVALID index was dropped/);
		const left = await db.client.query("SELECT 1 FROM pg_class WHERE relname = 'unique_candidate_job_application'");
		assert.equal(left.rowCount, 0);
		assert.equal((await migrationStatus(db.client)).alembicVersion, previousRevision);
	} finally {
		process.env.PATH = path0;
		await holder.client.query('ROLLBACK');
	}
});
