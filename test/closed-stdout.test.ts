import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {cliPath} from '../scripts/terminal.js';
import {splitProgress} from './helpers/cli.js';
import {testDatabase} from './helpers/db.js';

const state = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-closed-stdout-'));
after(() => fs.rmSync(state, {recursive: true, force: true}));
const db = await testDatabase();

/**
 * Like `intowork-db ARGS | head -0`: the reader of stdout is gone before the
 * command writes its first line, so every write fails with EPIPE.
 */
function runIntoClosedPipe(args: string[]): Promise<{code: number | null; stderr: string}> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [cliPath, ...args], {
			env: {PATH: process.env.PATH, HOME: process.env.HOME, INTOWORK_DB_STATE: state, DATABASE_URL: db.url},
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		child.stdout.destroy();
		let stderr = '';
		child.stderr.on('data', d => (stderr += d));
		child.on('error', reject);
		child.on('close', code => resolve({code, stderr}));
	});
}

for (const args of [['migrate', '--plan'], ['migrate', '--status'], ['backup', '--dir', path.join(state, 'b')], ['--help']]) {
	test(`${args.join(' ')} into a closed pipe: no stack trace, the command still ends with its own exit code`, async () => {
		const r = await runIntoClosedPipe(args);
		// stderr holds the progress phase lines and nothing else: no stack trace, no error
		assert.equal(splitProgress(r.stderr).stderr, '');
		// --status exits 1 while the migration is not applied, as it does on a terminal
		assert.equal(r.code, args[1] === '--status' ? 1 : 0);
	});
}

test('the backup written while stdout was closed is complete and in the catalog', () => {
	const files = fs.readdirSync(path.join(state, 'b'));
	assert.equal(files.filter(f => f.endsWith('.dump')).length, 1);
	assert.equal(files.filter(f => f.endsWith('.partial')).length, 0);
});
