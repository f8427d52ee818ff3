import assert from 'node:assert/strict';
import {test} from 'node:test';
import {recordCreated} from '../source/actions/migration/created.js';
import {builtinPlan, createIndexSql} from '../source/actions/migration/plan.js';
import {loadTables} from '../source/db/tables.js';
import {testDatabase} from './helpers/db.js';
import {loadContext} from './statements-helpers.js';

const db = await testDatabase();
const ctx = await loadContext(db.url);

test('Tables → indexes: never "unused" for an index of the migration plan or one younger than the stats window; its age is known', async () => {
	const planned = builtinPlan.objects.find(o => o.name === 'idx_jobs_employer_id_status')!;
	await db.client.query(createIndexSql(builtinPlan, planned));
	// a brand-new index of our own, not in the plan, recorded as an apply would (its age is then known)
	await db.client.query('CREATE INDEX tbl_young_probe ON jobs (title)');
	await db.client.query('CREATE INDEX tbl_old_probe ON jobs (created_at)');
	const pg = await import('pg');
	const c = new pg.default.Client({connectionString: db.url});
	await c.connect();
	await recordCreated(c, {...builtinPlan, objects: []}, [planned.name, 'tbl_young_probe']);
	await c.end();
	const data = await loadTables(ctx, undefined);
	const index = (name: string) => data.indexes.find(i => i.name === name)!;
	assert.equal(index(planned.name).scans, 0);
	assert.equal(index(planned.name).unused, false, 'the migration plan\'s brand-new index is not a DROP candidate');
	assert.equal(index(planned.name).planned, true);
	assert.ok(index(planned.name).createdAt! > Date.now() - 600_000, 'its creation time, from the migration record');
	assert.equal(index('tbl_young_probe').unused, false, 'created after the stats reset: 0 scans says nothing');
	assert.equal(index('tbl_old_probe').unused, true, 'no record of its age: still judged, with the caveat on screen');
});
