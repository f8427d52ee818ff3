import assert from 'node:assert/strict';
import {test} from 'node:test';
import pg from 'pg';
import {appQueries, appQueryContext, seededRandom, type AppQuery} from '../source/db/app-queries.js';
import {appRolePassword} from '../source/demo/seed.js';
import {appRole} from '../source/intowork.js';
import {testDatabase} from './helpers/db.js';


// At the top level, so the database lives for the whole file.
const db = await testDatabase();
const ctx = await appQueryContext(db.client);

test('the context holds the max ids', async () => {
	const {rows} = await db.client.query<{c: number; e: number; j: number; u: number}>(
		'SELECT (SELECT max(id) FROM candidates) AS c, (SELECT max(id) FROM employers) AS e, (SELECT max(id) FROM jobs) AS j, (SELECT max(id) FROM users) AS u',
	);
	const [row] = rows;
	assert.ok(row);
	assert.deepEqual(ctx, {maxCandidate: row.c, maxEmployer: row.e, maxJob: row.j, maxUser: row.u});
});

test('every app query runs as the app role and returns rows', async () => {
	const app = new pg.Client({connectionString: db.urlAs(appRole, appRolePassword)});
	app.on('error', () => undefined);
	await app.connect();
	try {
		const random = seededRandom(7);
		// Some draws legitimately find nothing (a job without pending applicants), as in production.
		const rowsFor = async (query: AppQuery) => {
			for (let draw = 0; draw < 30; draw++) {
				const result = await app.query(query.sql, query.params(ctx, random));
				if (result.rows.length > 0) return result.rows.length;
			}
			return 0;
		};
		for (const query of Object.values(appQueries)) {
			assert.ok((await rowsFor(query)) > 0, `${query.id} returned no rows in 30 draws`);
		}
	} finally {
		await app.end();
	}
});

test('the two checklist queries carry their p95 targets', () => {
	assert.equal(appQueries.job_list.targetMs, 100);
	assert.equal(appQueries.application_list.targetMs, 50);
	for (const [id, query] of Object.entries(appQueries)) assert.equal(query.id, id);
});

test('before the migration the job search scans the jobs table', async () => {
	const {rows} = await db.client.query<{'QUERY PLAN': string}>(`EXPLAIN ${appQueries.job_list.sql}`, appQueries.job_list.params(ctx, seededRandom(1)));
	const plan = rows.map(row => row['QUERY PLAN']).join('\n');
	assert.match(plan, /Seq Scan on jobs/);
});
