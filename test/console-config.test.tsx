import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test, type TestContext} from 'node:test';
import {builtinPlan, planDocument} from '../source/actions/migration/plan.js';
import {readGlobalFlags} from '../source/cli-flags.js';
import {migrationRevision, previousRevision} from '../source/intowork.js';
import {plainRole} from './helpers/db.js';
import {own} from './helpers/own.js';

// The console gets its settings as the command line gave them: the same
// flags `check` takes (--app-role, --runbook) and the plan --migration-plan names.
const role = 'console_cfg_app';
const revision = 'i9d3e7f6g5h4';
const plain = (frame: string) => frame.replace(/\u001B\[[\d;]*m/g, '');

/** Each test's own database (the role's statement_timeout set in it), state dir with a plan file and a runbook, and console given those flags. */
async function setup(t: TestContext) {
	const {db, stateDir, app: console_} = await own(t, 'console-config');
	const planFile = path.join(stateDir, 'next.json');
	fs.writeFileSync(planFile, planDocument({...builtinPlan, revision}));
	const runbook = path.join(stateDir, 'RUNBOOK.md');
	fs.writeFileSync(runbook, '# Incidents\n');
	await plainRole(db, role, 'console_cfg_pw');
	// for this test database only: other test files share the cluster
	await db.client.query(`ALTER ROLE ${role} IN DATABASE ${db.name} SET statement_timeout = '7s'`);
	const {config} = readGlobalFlags([], {appRole: role, runbook, migrationPlan: planFile, interval: '2s'});
	// 200 columns: the evidence column then holds the role's whole reason and the runbook's whole path (at 160 the item titles take that room)
	const app = await console_({screen: 'checklist', size: {columns: 200, rows: 50}, config});
	return {app, runbook};
}

test('the console checklist checks the --app-role it was given, not intowork_app', async t => {
	const {app} = await setup(t);
	const frame = plain(await app.waitForFrame(f => /statement_timeout for \w+/.test(plain(f)), 'item 2 evidence', 20_000));
	// the role's 7 s in this database is what item 2 judges: it passes on it
	assert.match(frame, new RegExp(`^ +2 Query timeout configured +PASS +\\S+ statement_timeout for ${role}: 7s \\(role in data`, 'm'));
	assert.doesNotMatch(frame, /intowork_app/);
});

test('item 1 and the overview name the revision of the --migration-plan in force', async t => {
	const {app} = await setup(t);
	const frame = plain(await app.waitForFrame(f => /^[ ›]*1 Migration \S+ applied/m.test(plain(f)), 'item 1', 20_000));
	assert.match(frame, new RegExp(`^[ ›]*1 Migration ${revision} applied`, 'm'));
	assert.match(frame, new RegExp(`alembic_version ${previousRevision}, needs ${revision} or later`));
	assert.doesNotMatch(frame, new RegExp(migrationRevision));
	app.press('1');
	const overview = plain(await app.waitForFrame(f => /Migration +at /.test(plain(f)), 'the overview', 20_000));
	assert.match(overview, new RegExp(`Migration +at ${previousRevision}, ${revision} not applied`));
});

test('the console checklist finds the --runbook it was given', async t => {
	const {app, runbook} = await setup(t);
	// the machine's half of the evidence (runbook, sign-offs) is read after the screen shows
	const passing = new RegExp(`^ +9 Runbooks created for common issues +PASS +\\S+ runbook ${runbook.replace(/[.]/g, '\\.')}`, 'm');
	await app.waitForFrame(f => passing.test(plain(f)), 'item 9 passing on the given runbook', 20_000);
});
