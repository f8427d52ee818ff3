import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {subcommands} from '../source/commands/index.js';
import {commands, keyName, type ScreenId} from '../source/keymap.js';
import {previousRevision} from '../source/intowork.js';
import {runCli} from './helpers/cli.js';
import {testDatabase} from './helpers/db.js';
import {keys, renderApp} from './helpers/render.js';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-read-only-'));
process.env.INTOWORK_DB_STATE = stateDir;
after(() => fs.rmSync(stateDir, {recursive: true, force: true}));

const db = await testDatabase();

/** Every changing invocation of every headless command; with --yes where the command takes it, so only --read-only stands in the way. */
const changing: Record<string, string[][]> = {
	check: [['--load-test', '--clients', '2', '--duration', '1s']],
	backup: [[], ['--verify']],
	'restore-test': [[]],
	restore: [['/nonexistent.dump', '--into', 'scratch']],
	kill: [['--hanging'], ['--hanging', '--yes', '--terminate']],
	migrate: [['--apply'], ['--apply', '--yes'], ['--apply', '--yes', '--without-backup'], ['--resolve-duplicates', '--yes'], ['--undo-duplicates', '--yes'], ['--downgrade', '--yes']],
};

async function databaseState() {
	const r = await db.client.query<{version: string; indexes: string; schemas: string}>(
		`SELECT (SELECT version_num FROM alembic_version) AS version,
			(SELECT count(*) FROM pg_indexes WHERE schemaname = 'public')::text AS indexes,
			(SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema') AS schemas`,
	);
	return r.rows[0]!;
}

test('headless: every changing command and mode refuses --read-only with exit 2, and the database is unchanged', async () => {
	// watch only reads: it has nothing to refuse
	const reading = ['watch'];
	for (const name of reading) assert.equal(subcommands.find(c => c.name === name)?.readOnlyRefusal({}), undefined, `${name} reads only`);
	assert.deepEqual([...Object.keys(changing), ...reading].sort(), subcommands.map(c => c.name).sort(), 'every command is walked');
	const before = await databaseState();
	assert.equal(before.version, previousRevision);
	for (const [name, invocations] of Object.entries(changing)) {
		for (const args of invocations) {
			const r = await runCli([name, ...args, '--read-only'], {env: {DATABASE_URL: db.url}});
			const shown = `${name} ${args.join(' ')} --read-only`;
			assert.equal(r.code, 2, `${shown}: exit ${r.code}\n${r.stdout}${r.stderr}`);
			assert.equal(r.stdout, '', `${shown} printed nothing on stdout`);
			const lines = r.stderr.trimEnd().split('\n');
			assert.equal(lines.length, 1, `${shown}: one line\n${r.stderr}`);
			assert.match(lines[0]!, /read-only/, shown);
		}
	}
	assert.deepEqual(await databaseState(), before, 'alembic_version, the indexes and the schemas are as they were');
	assert.deepEqual(fs.readdirSync(stateDir), [], 'nothing written to the state directory');
});

test('headless: the reading modes still work under --read-only', async () => {
	const status = await runCli(['migrate', '--status', '--read-only'], {env: {DATABASE_URL: db.url}});
	assert.equal(status.code, 1, status.stderr);
	assert.match(status.stdout, /NOT APPLIED/);
	const plan = await runCli(['migrate', '--plan', '--read-only'], {env: {DATABASE_URL: db.url}});
	assert.equal(plan.code, 0, plan.stderr);
	assert.match(plan.stdout, /CREATE INDEX CONCURRENTLY/);
});

test('console: no dangerous key does anything under --read-only, on its own screen', async () => {
	const dangerous = commands.filter(c => c.dangerous);
	assert.ok(dangerous.length >= 10);
	const app = await renderApp(db.url, {state: {readOnly: true, intervalMs: 60_000}});
	try {
		for (const c of dangerous) {
			app.store.setState({screen: c.scope as ScreenId});
			for (const k of c.keys) {
				assert.equal(keyName(k, {} as never), k, `${c.id}: a key typed as itself`);
				app.press(k);
				// keys are handled in order: had k opened a dialog, the dialog would take '?' and help would never open
				app.press('?');
				await app.waitForFrame(/^Help/m, `help after ${k} on ${c.scope}`);
				assert.equal(app.store.getState().dialog, undefined, `${c.id} (${k}) opened a dialog`);
				app.press(keys.escape);
				await app.waitForFrame(f => !/^Help/m.test(f), 'help closed');
			}
		}
	} finally {
		await app.cleanup();
	}
	const state = await databaseState();
	assert.equal(state.version, previousRevision);
});
