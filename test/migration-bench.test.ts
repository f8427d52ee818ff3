import assert from 'node:assert/strict';
import {test} from 'node:test';
import {benchMigration} from '../bench/migration.js';
import {countDuplicates} from '../source/actions/migration/duplicates.js';
import {builtinPlan} from '../source/actions/migration/plan.js';
import {migrationStatus} from '../source/actions/migration/status.js';
import {previousRevision} from '../source/intowork.js';
import {testDatabase} from './helpers/db.js';

const db = await testDatabase();

test('the migration bench applies under write load, reports the writes and the job list, and leaves the database as found', async () => {
	const count = async () => Number((await db.client.query('SELECT count(*) AS n FROM job_applications')).rows[0].n);
	const applicationsBefore = await count();
	const rows = new Map(await benchMigration(db.url));
	assert.match(rows.get('migration apply')!, /^ok in .*: 17 objects, one concurrent build at a time$/);
	assert.match(rows.get('writes during apply')!, /^[\d,]+ \([\d,]+\/s, 4 writers: UPDATE jobs, INSERT job_applications\)$/);
	// the claim: concurrent builds never hold a write up for a second
	assert.match(rows.get('longest write wait')!, /^[\d.]+(ms|s) \(ok: target none over 1 s\)$/);
	assert.equal(rows.get('write errors'), '0 (target: none)');
	assert.match(rows.get('job list p95 before')!, /\(Seq Scan on jobs\)$/);
	assert.match(rows.get('job list p95 after')!, /\(Index Scan( Backward)? using idx_jobs_status_location_type on jobs\)$/);
	assert.equal(rows.get('sessions the build waited on, ended'), 'none');
	const status = await migrationStatus(db.client, builtinPlan);
	assert.equal(status.alembicVersion, previousRevision);
	assert.ok(status.objects.every(o => o.state === 'missing'));
	assert.equal((await countDuplicates(db.client, builtinPlan)).reduce((n, d) => n + d.extraRows, 0), 11);
	assert.equal(await count(), applicationsBefore);
});
