import assert from 'node:assert/strict';
import {test} from 'node:test';
import {migrationRevision, previousRevision} from '../source/intowork.js';
import {sessionPool} from './helpers/backends.js';
import {plainRole, testDatabase} from './helpers/db.js';
import {renderApp} from './helpers/render.js';

const db = await testDatabase();
const pool = sessionPool(db);

const migrationLine = (frame: string) => frame.split('\n').find(l => l.includes('Migration')) ?? '';

test('the Migration line follows alembic_version from the latest poll, not the state at connect time', async () => {
	const app = await renderApp(db.url, {screen: 'overview', state: {intervalMs: 250}});
	try {
		let frame = await app.waitForFrame(new RegExp(`at ${previousRevision}, ${migrationRevision} not applied`), 'the state at connect time');
		await db.client.query('UPDATE alembic_version SET version_num = $1', [migrationRevision]);
		// Ctrl-R: the refresh reads privileges, extensions and alembic_version again (polls do every 15 s)
		app.press('\u0012');
		frame = await app.waitForFrame(new RegExp(`${migrationRevision} applied`), 'the next poll sees the apply');
		assert.doesNotMatch(migrationLine(frame), /not applied/);
		await db.client.query('UPDATE alembic_version SET version_num = $1', [previousRevision]);
		app.press('\u0012');
		await app.waitForFrame(new RegExp(`${migrationRevision} not applied`), 'and a downgrade');
	} finally {
		await db.client.query('UPDATE alembic_version SET version_num = $1', [previousRevision]);
		await app.cleanup();
	}
});

test('without pg_monitor, Longest running says what the role cannot see instead of "no active query"', async () => {
	const blindUrl = await plainRole(db, 'overview_blind', 'overview_blind');
	// another role's query, 40 s into pg_sleep: invisible to this role
	const other = await pool.sleeper('overview-other-role');
	const app = await renderApp(blindUrl, {screen: 'overview', state: {intervalMs: 250}});
	try {
		const frame = await app.waitForFrame(/Longest running\s+none this role can see; \d+ sessions of other roles hidden \(GRANT pg_monitor/, 'the hidden sessions named');
		assert.doesNotMatch(frame, /no active query/);
		assert.equal((await pool.stateOf(other.pid))?.state, 'active', 'the other role was running all along');
	} finally {
		await app.cleanup();
	}
});
