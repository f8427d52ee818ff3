import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {runCli} from './helpers/cli.js';
import {testDatabase} from './helpers/db.js';

const db = await testDatabase({empty: true});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-pgpass-'));
after(() => fs.rmSync(dir, {recursive: true, force: true}));
const passfile = path.join(dir, 'pgpass');
fs.writeFileSync(passfile, `127.0.0.1:${db.info.port}:*:${db.info.user}:${db.info.password}\n`);
const noPassword = `postgresql://${db.info.user}@127.0.0.1:${db.info.port}/${db.name}`;

test('a .pgpass ignored for its mode is named, with why and the fix, when the server then wants a password', async () => {
	fs.chmodSync(passfile, 0o644);
	const r = await runCli(['migrate', '--status'], {env: {DATABASE_URL: noPassword, PGPASSFILE: passfile}});
	assert.equal(r.code, 4);
	assert.equal(
		r.stderr,
		`cannot connect to ${db.info.user}@127.0.0.1:${db.info.port}/${db.name}: authentication failed: the server wants a password and none was given (use the URL, PGPASSWORD or ~/.pgpass); password file "${passfile}" was ignored: it has group or world access (mode 0644); libpq reads it only at u=rw (0600) or less: chmod 600 ${passfile}\n`,
	);

	// the same file at 0600 is read, and the command gets past authentication
	fs.chmodSync(passfile, 0o600);
	const ok = await runCli(['migrate', '--status'], {env: {DATABASE_URL: noPassword, PGPASSFILE: passfile}});
	assert.doesNotMatch(ok.stderr, /authentication failed|password file/);
	assert.match(ok.stdout, /^Migration h8c2d6e5f4g3/);
});
