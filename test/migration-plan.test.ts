import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {appQueries} from '../source/db/app-queries.js';
import {addConstraintSql, builtinPlan, createIndexSql, dropIndexSql, loadPlanFile, planDocument, validatePlan} from '../source/actions/migration/plan.js';
import {configFromFlags} from '../source/config.js';
import {UsageError} from '../source/errors.js';
import {itemDef, itemTitle} from '../source/checklist/items.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-plan-'));
after(() => fs.rmSync(dir, {recursive: true, force: true}));

function writePlan(name: string, document: unknown): string {
	const file = path.join(dir, name);
	fs.writeFileSync(file, typeof document === 'string' ? document : JSON.stringify(document));
	return file;
}

const withObject = (patch: Record<string, unknown>, index = 0) => {
	const doc = JSON.parse(planDocument(builtinPlan));
	doc.objects[index] = {...doc.objects[index], ...patch};
	return doc;
};

test('the built-in plan: 14 indexes and 3 unique constraints, each with the query it serves and why', () => {
	const indexes = builtinPlan.objects.filter(o => !o.unique);
	const unique = builtinPlan.objects.filter(o => o.unique);
	assert.equal(indexes.length, 14);
	assert.deepEqual(
		unique.map(o => [o.name, o.table, o.columns.join(',')]),
		[
			['unique_candidate_job_application', 'job_applications', 'candidate_id,job_id'],
			['unique_user_provider_account', 'accounts', 'provider,provider_account_id'],
			['unique_verification_identifier_token', 'verification_tokens', 'identifier,token'],
		],
	);
	for (const name of ['idx_jobs_status_location_type', 'idx_jobs_status_job_type', 'idx_job_applications_candidate_id_status']) assert.ok(indexes.some(o => o.name === name), name);
	assert.ok(indexes.filter(o => o.where?.startsWith('status =')).length >= 2, 'partial indexes on status');
	for (const o of builtinPlan.objects) assert.ok(o.why.length > 40 && o.serves.length > 10, o.name);
	// Every one of the app's real queries is served by some index.
	for (const q of Object.values(appQueries)) assert.ok(builtinPlan.objects.some(o => o.serves.startsWith(`${q.id}:`)), q.id);
	// The plan file format round-trips: the built-in plan is a valid plan file.
	assert.deepEqual(validatePlan(JSON.parse(planDocument(builtinPlan))), builtinPlan);
});

test('the SQL: concurrent builds, partial predicates, constraints attached from their index', () => {
	const jobs = builtinPlan.objects.find(o => o.name === 'idx_jobs_status_location_type')!;
	assert.equal(
		createIndexSql(builtinPlan, jobs),
		`CREATE INDEX CONCURRENTLY "idx_jobs_status_location_type" ON "public"."jobs" ("location_type", "location", "posted_at") WHERE status = 'published'`,
	);
	const unique = builtinPlan.objects[0]!;
	assert.equal(createIndexSql(builtinPlan, unique), 'CREATE UNIQUE INDEX CONCURRENTLY "unique_candidate_job_application" ON "public"."job_applications" ("candidate_id", "job_id")');
	assert.equal(addConstraintSql(builtinPlan, unique), 'ALTER TABLE "public"."job_applications" ADD CONSTRAINT "unique_candidate_job_application" UNIQUE USING INDEX "unique_candidate_job_application"');
	assert.equal(dropIndexSql(builtinPlan, jobs), 'DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_jobs_status_location_type"');
});

test('a plan file is checked strictly: one line naming the file, the field and the problem', () => {
	const cases: Array<[string, unknown, RegExp]> = [
		['not-json.json', '{"revision": ', /^--migration-plan .*not-json\.json: not valid JSON: /],
		['array.json', [], /: plan: expected a JSON object$/],
		['unknown-top.json', {...JSON.parse(planDocument(builtinPlan)), extra: 1}, /: plan: unknown field "extra"/],
		['typo.json', withObject({colums: ['a']}, 3), /: objects\[3\]: unknown field "colums"/],
		['no-columns.json', withObject({columns: []}), /: objects\[0\]\.columns: expected a non-empty array of column names$/],
		['twice.json', withObject({columns: ['job_id', 'job_id']}), /: objects\[0\]\.columns: column "job_id" is listed twice$/],
		['partial-unique.json', withObject({where: "status = 'pending'"}), /: objects\[0\]\.where: a unique constraint cannot be partial/],
		['keep-on-index.json', withObject({keep: ['id']}, 3), /: objects\[3\]\.keep: only a unique object has duplicates to keep$/],
		['stacked.json', withObject({where: "status = 'x'; DROP TABLE jobs"}, 3), /: objects\[3\]\.where: a predicate is one SQL expression: no ";" and no comments$/],
		['long-name.json', withObject({name: 'x'.repeat(64)}, 3), /: objects\[3\]\.name: "x{64}" is longer than 63 bytes$/],
		['dup-name.json', withObject({name: 'idx_jobs_status_job_type'}, 3), /: objects\[4\]\.name: "idx_jobs_status_job_type" is used twice$/],
		['unique-type.json', withObject({unique: 'yes'}), /: objects\[0\]\.unique: expected true or false$/],
		['revision.json', {...JSON.parse(planDocument(builtinPlan)), revision: 'h8c2; --'}, /: revision: expected an Alembic revision id/],
		['no-why.json', withObject({why: ' '}), /: objects\[0\]\.why: expected a non-empty string$/],
	];
	for (const [name, document, expected] of cases) {
		const file = writePlan(name, document);
		assert.throws(
			() => loadPlanFile(file),
			(error: unknown) => error instanceof UsageError && expected.test(error.message) && !error.message.includes('\n'),
			name,
		);
	}
	assert.throws(() => loadPlanFile(path.join(dir, 'missing.json')), /^UsageError: --migration-plan .*missing\.json: cannot read: no such file$/);
	assert.throws(() => loadPlanFile(dir), /cannot read: is a directory$/);
});

test('an operator plan and an alembic directory become the config the screen, the checklist and the command read', () => {
	const small = {...JSON.parse(planDocument(builtinPlan)), revision: 'i9d3e7f6g5h4', objects: [builtinPlan.objects[3]]};
	const alembicDir = fs.mkdtempSync(path.join(dir, 'backend-'));
	assert.throws(() => configFromFlags({alembicDir}), /--alembic-dir .*: no alembic\.ini there/);
	assert.throws(() => configFromFlags({alembicDir: path.join(dir, 'nope')}), /--alembic-dir .*nope: no such directory$/);
	fs.writeFileSync(path.join(alembicDir, 'alembic.ini'), '[alembic]\n');
	const file = writePlan('small.json', small);
	const config = configFromFlags({migrationPlan: file, alembicDir});
	assert.equal(config.migration.planSource, file);
	assert.deepEqual(config.migration.plan.objects.map(o => o.name), ['idx_jobs_status_location_type']);
	assert.equal(config.migration.alembicDir, alembicDir);
	// the checklist checks the same plan: item 1 names its revision
	assert.equal(config.checklist.plan, config.migration.plan);
	assert.equal(itemTitle(itemDef(1), config.checklist), 'Migration i9d3e7f6g5h4 applied');
	assert.equal(configFromFlags({}).migration.plan, builtinPlan);
});
