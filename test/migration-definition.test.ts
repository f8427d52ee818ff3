import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {addConstraintSql, builtinPlan, createIndexSql} from '../source/actions/migration/plan.js';
import {inspectMigration, normalisePredicate} from '../source/actions/migration/status.js';
import {judgeMigration, readMigration} from '../source/checklist/migration.js';
import {migrationRevision} from '../source/intowork.js';
import {runCli} from './helpers/cli.js';
import {testDatabase} from './helpers/db.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-migration-definition-'));
process.env.INTOWORK_DB_STATE = stateDir;
after(() => fs.rmSync(stateDir, {recursive: true, force: true}));

const db = await testDatabase();
const migrate = (args: string[]) => runCli(['migrate', ...args], {env: {DATABASE_URL: db.url, INTOWORK_DB_STATE: stateDir}});

// Every object of the plan in place and alembic_version at the target: an applied migration (no duplicates to archive: the unique ones are attached below only where the data allows).
for (const o of builtinPlan.objects) {
	if (o.unique) await db.client.query(`DELETE FROM ${o.table} a USING ${o.table} b WHERE a.ctid > b.ctid AND ${o.columns.map(c => `a.${c} IS NOT DISTINCT FROM b.${c}`).join(' AND ')}`);
	await db.client.query(createIndexSql(builtinPlan, o));
	if (o.unique) await db.client.query(addConstraintSql(builtinPlan, o));
}
await db.client.query('UPDATE alembic_version SET version_num = $1', [migrationRevision]);

const target = 'idx_jobs_status_job_type';

test('predicates compare as the server writes them: casts, parentheses, spacing and case aside, literals exact', () => {
	assert.equal(normalisePredicate("((status)::text = 'published'::text)"), normalisePredicate("status = 'published'"));
	assert.equal(normalisePredicate('(expires_at > \'2020-01-01 00:00:00+00\'::timestamp with time zone)'), normalisePredicate("expires_at > '2020-01-01 00:00:00+00'"));
	assert.notEqual(normalisePredicate("((status)::text = 'draft'::text)"), normalisePredicate("status = 'published'"));
	assert.notEqual(normalisePredicate("status = 'Published'"), normalisePredicate("status = 'published'"));
});

test('the applied migration is APPLIED: the server\'s own spelling of the plan\'s predicates is not a difference', async () => {
	const inspection = await inspectMigration(db.client, builtinPlan);
	assert.deepEqual(inspection.objects.filter(i => i.state !== 'valid').map(i => `${i.object.name}: ${i.detail}`), []);
	const r = await migrate(['--status']);
	assert.equal(r.code, 0, r.stdout + r.stderr);
	assert.match(r.stdout, /: APPLIED$/m);
});

test('same name and columns, another predicate: "present with a different definition" with the fix, in --status, the plan and checklist item 1', async () => {
	await db.client.query(`DROP INDEX ${target}`);
	await db.client.query(`CREATE INDEX ${target} ON jobs (job_type, posted_at) WHERE status = 'draft'`);
	const status = await migrate(['--status']);
	assert.equal(status.code, 1, status.stdout + status.stderr);
	assert.match(status.stdout, /: NOT APPLIED$/m);
	assert.match(status.stdout, /1 present with a different definition/);
	const line = status.stdout.split('\n').find(l => l.includes(target))!;
	assert.match(line, /present with a different definition: the existing "idx_jobs_status_job_type" has WHERE \(\(status\)::text = 'draft'::text\), the plan's has WHERE status = 'published'/);
	assert.match(line, /fix: ALTER INDEX "public"\."idx_jobs_status_job_type" RENAME TO "idx_jobs_status_job_type_old"; then apply/);

	const plan = await migrate(['--plan']);
	assert.equal(plan.code, 0, plan.stderr);
	assert.match(plan.stdout, new RegExp(`^-- ${target} on jobs: present with a different definition$`, 'm'));
	assert.match(plan.stdout, /^-- {3}fix first: ALTER INDEX "public"\."idx_jobs_status_job_type" RENAME TO/m);
	assert.doesNotMatch(plan.stdout, /nothing to do for the objects/i);
	assert.doesNotMatch(plan.stdout, new RegExp(`^CREATE INDEX CONCURRENTLY "${target}"`, 'm'), 'no statement that would fail on the name');

	const item = judgeMigration(await readMigration(db.client, builtinPlan));
	assert.equal(item.verdict, 'fail');
	assert.ok(item.evidence.some(e => e.startsWith(`${target} present with a different definition (`) && e.includes('fix: ALTER INDEX')), item.evidence.join('\n'));

	// DESC on a column is a different index too
	await db.client.query(`DROP INDEX ${target}`);
	await db.client.query(`CREATE INDEX ${target} ON jobs (job_type, posted_at DESC) WHERE status = 'published'`);
	const desc = await inspectMigration(db.client, builtinPlan);
	assert.match(desc.objects.find(i => i.object.name === target)!.detail ?? '', /present with a different definition: .* DESC/);

	// the fix as given makes it right again
	await db.client.query(`DROP INDEX ${target}`);
	await db.client.query(createIndexSql(builtinPlan, builtinPlan.objects.find(o => o.name === target)!));
	assert.equal((await migrate(['--status'])).code, 0);
});
