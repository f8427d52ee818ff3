import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {auditContext} from '../source/audit.js';
import {readCreated} from '../source/actions/migration/created.js';
import {resolveDuplicates} from '../source/actions/migration/duplicates.js';
import {builtinPlan, createIndexSql} from '../source/actions/migration/plan.js';
import {startApply, startDowngrade} from '../source/actions/migration/run.js';
import {migrationStatus} from '../source/actions/migration/status.js';
import {resolveTarget} from '../source/db/dsn.js';
import {migrationRevision, previousRevision} from '../source/intowork.js';
import {runCli} from './helpers/cli.js';
import {testDatabase} from './helpers/db.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-migration-downgrade-'));
process.env.INTOWORK_DB_STATE = stateDir;
after(() => fs.rmSync(stateDir, {recursive: true, force: true}));

const db = await testDatabase();
const target = resolveTarget({dsn: db.url, env: {}});
const audit = auditContext(target, 'postgres');
const plan = builtinPlan;
const base = {target, audit, plan, allowNoBackup: true, pollMs: 100, probe: false};
const before = 'idx_jobs_employer_id_status';

const indexExists = async (name: string) => (await db.client.query('SELECT 1 FROM pg_indexes WHERE indexname = $1', [name])).rowCount === 1;

test('downgrade drops only what the apply created: an index that was there before stays, and the run says so', async () => {
	// there before the apply, exactly as the plan defines it: the apply finds it valid and skips it
	await db.client.query(createIndexSql(plan, plan.objects.find(o => o.name === before)!));
	await resolveDuplicates({target, audit}, plan);
	const applied = await startApply(base).done;
	assert.equal(applied.outcome, 'ok', applied.message);
	assert.equal(applied.steps.find(s => s.name === before)?.action, 'skip');

	// the record is in the database, next to the archive: another console (or this one restarted) reads it
	const created = await readCreated(db.client, plan);
	assert.ok(created, 'recorded');
	assert.equal(created.has(before), false);
	assert.equal(created.size, plan.objects.length - 1);

	const preview = await runCli(['migrate', '--downgrade'], {env: {DATABASE_URL: db.url, INTOWORK_DB_STATE: stateDir}});
	assert.equal(preview.code, 0, preview.stdout + preview.stderr);
	assert.match(preview.stdout, new RegExp(`^Would do, in this order \\(${plan.objects.length - 1} of ${plan.objects.length} objects\\):$`, 'm'));
	assert.match(preview.stdout, new RegExp(`^  would leave +${before} on jobs: there before the apply: left in place$`, 'm'));

	const down = await startDowngrade(base).done;
	assert.equal(down.outcome, 'ok', down.message);
	assert.match(down.message ?? '', new RegExp(`${plan.objects.length - 1} objects dropped; left 1 that were there before the apply: ${before};`));
	assert.ok(await indexExists(before), 'the index that existed before the apply is still there');
	const status = await migrationStatus(db.client, plan);
	assert.equal(status.alembicVersion, previousRevision);
	assert.deepEqual(status.objects.filter(o => o.state !== 'missing').map(o => o.name), [before]);
	assert.equal(await readCreated(db.client, plan), undefined, 'the dropped objects are forgotten');
});

test('without any record (applied by Alembic or by hand) the downgrade drops every object of the plan, and says why', async () => {
	for (const o of plan.objects.filter(x => !x.unique)) if (!(await indexExists(o.name))) await db.client.query(createIndexSql(plan, o));
	await db.client.query('UPDATE alembic_version SET version_num = $1', [migrationRevision]);
	const lines: string[] = [];
	const run = startDowngrade(base);
	run.on('line', l => lines.push(l));
	const down = await run.done;
	assert.equal(down.outcome, 'ok', down.message);
	assert.ok(lines.some(l => l.startsWith('no record of what an apply created here')), lines.join('\n'));
	assert.equal(await indexExists(before), false);
});
