import {test} from 'node:test';
import assert from 'node:assert/strict';
import {freePort} from '../source/demo/pg-server.js';
import {cluster, urlFor} from './helpers/db.js';
import {runCli} from './helpers/cli.js';

const info = await cluster();
const secret = 'S3cr3t-pw';

async function expectFailure(args: string[], code: number, line: RegExp, env: NodeJS.ProcessEnv = {}) {
	const r = await runCli(args, {env});
	assert.equal(r.code, code, `exit code for ${args.join(' ')}: ${r.stderr}`);
	const lines = r.stderr.trimEnd().split('\n');
	assert.equal(lines.length, 1, `one line, no stack trace:\n${r.stderr}`);
	assert.match(lines[0]!, line);
	assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), 'the password never appears');
	return lines[0]!;
}

test('refused: exit 3, names the target redacted', async () => {
	const port = await freePort();
	await expectFailure([`postgresql://app:${secret}@127.0.0.1:${port}/intowork`], 3, new RegExp(`^cannot connect to app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/intowork: connection refused`));
});

test('unknown host: exit 3', async () => {
	await expectFailure([`postgresql+asyncpg://app:${secret}@no-such-host.invalid/intowork`], 3, /no-such-host\.invalid.*(unknown host|not resolve|lookup)/i);
});

test('wrong password: exit 4', async () => {
	await expectFailure([urlFor(info, 'postgres', info.user, secret)], 4, /authentication failed/i);
});

test('no such database: exit 5', async () => {
	await expectFailure([urlFor(info, 'no_such_db')], 5, /no_such_db.*does not exist/);
});

test('SSL required by the client, not offered by the server: exit 6', async () => {
	await expectFailure([`${urlFor(info, 'postgres', info.user, secret)}?sslmode=require`], 6, /SSL/);
});

test('the target from DATABASE_URL and from PG* variables', async () => {
	await expectFailure([], 5, /no_env_db/, {DATABASE_URL: urlFor(info, 'no_env_db')});
	await expectFailure([], 5, new RegExp(`${info.user}:\\*\\*\\*@127\\.0\\.0\\.1:${info.port}/no_pg_db`), {
		PGHOST: '127.0.0.1',
		PGPORT: String(info.port),
		PGUSER: info.user,
		PGDATABASE: 'no_pg_db',
		PGPASSWORD: info.password,
	});
});

test('bad input: one line, exit 2', async () => {
	await expectFailure(['mysql://root:S3cr3t-pw@host/db'], 2, /unsupported URL scheme/);
	await expectFailure(['--interval', 'soon'], 2, /^--interval: "soon" is not a duration/);
	await expectFailure(['--no-such-flag'], 2, /^unknown option --no-such-flag/);
	await expectFailure(['--demo', 'postgres://x@y/z'], 2, /either a DSN or --demo/);
	await expectFailure(['a', 'b'], 2, /unexpected argument "b"/);
});

test('a negative --interval is exit 2 whatever its spelling, and never swallows the DSN', async () => {
	// a DSN that would connect (exit 0 is impossible here: the console needs a terminal) must not be reached
	const dsn = urlFor(info, 'no_such_db');
	for (const args of [
		['--interval', '-5s', dsn],
		['--interval', '-5s', '--dsn', dsn],
		['--interval=-5s', dsn],
		['--interval', '-5', dsn],
		['--interval', '-0.5s', dsn],
		[dsn, '--interval', '-5s'],
		['check', '--interval', '-5s', dsn],
	]) {
		const line = await expectFailure(args, 2, /^--interval: /);
		assert.match(line, /-5|-0\.5/, `names the value given: ${line}`);
	}
	await expectFailure(['--app-pool', '-3', dsn], 2, /^--app-pool: "-3"/);
});

test('--help lists the options and exit codes', async () => {
	const r = await runCli(['--help']);
	assert.equal(r.code, 0);
	assert.match(r.stdout, /--read-only/);
	assert.match(r.stdout, /Exit codes: 0 ok/);
});
