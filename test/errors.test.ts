import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import type {Target} from '../source/db/dsn.js';
import {CliError, ExitCode, UsageError} from '../source/errors.js';
import {classifyConnectError} from '../source/db/connect-error.js';
import {formatFatal} from '../source/fatal.js';

const secret = 'Tr0ub4dor&3';
const target: Target = {
	host: 'db.example',
	port: 5432,
	user: 'postgres',
	password: secret,
	database: 'intowork',
	source: 'argument',
	passwordSource: 'url',
};
const prefix = 'cannot connect to postgres:***@db.example:5432/intowork: ';

// Shaped like what node-postgres and net hand back.
function pgError(message: string, code?: string, extra: Record<string, unknown> = {}): Error {
	return Object.assign(new Error(message), code === undefined ? {} : {code}, extra);
}

function check(err: unknown, exitCode: number, ...fragments: RegExp[]): string {
	const e = classifyConnectError(err, target);
	assert.ok(e instanceof CliError);
	assert.equal(e.exitCode, exitCode, e.message);
	assert.ok(e.message.startsWith(prefix), e.message);
	assert.ok(!/[\r\n]/.test(e.message), 'one line');
	assert.ok(!e.message.includes(secret), `leaks password: ${e.message}`);
	assert.ok(!e.message.includes(encodeURIComponent(secret)), `leaks encoded password: ${e.message}`);
	for (const f of fragments) assert.match(e.message, f);
	return e.message;
}

describe('classifyConnectError', () => {
	test('unknown host', () => {
		check(pgError('getaddrinfo ENOTFOUND db.example', 'ENOTFOUND', {syscall: 'getaddrinfo', hostname: 'db.example'}), 3, /unknown host "db\.example"/);
		check(pgError('getaddrinfo EAI_AGAIN db.example', 'EAI_AGAIN'), 3, /unknown host/);
	});

	test('connection refused', () => {
		const msg = check(pgError('connect ECONNREFUSED 10.0.0.1:5432', 'ECONNREFUSED'), 3);
		assert.equal(msg, `${prefix}connection refused (is the server running and listening on that port?)`);
	});

	test('connection refused inside an AggregateError (happy eyeballs)', () => {
		const agg = Object.assign(
			new AggregateError([pgError('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED'), pgError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')], ''),
			{code: 'ECONNREFUSED'},
		);
		check(agg, 3, /connection refused/);
		check(new AggregateError([pgError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')], ''), 3, /connection refused/);
	});

	test('timeouts', () => {
		check(pgError('timeout expired'), 3, /timed out/);
		check(pgError('Connection terminated due to connection timeout'), 3, /timed out/);
		check(pgError('connect ETIMEDOUT 10.0.0.1:5432', 'ETIMEDOUT'), 3, /timed out/);
		check(pgError('connect EHOSTUNREACH 10.0.0.1:5432', 'EHOSTUNREACH'), 3, /timed out/, /unreachable/);
		check(pgError('connect ENETUNREACH 10.0.0.1:5432', 'ENETUNREACH'), 3, /timed out/, /unreachable/);
	});

	test('bad password', () => {
		check(pgError('password authentication failed for user "postgres"', '28P01', {severity: 'FATAL'}), 4, /authentication failed/, /for user "postgres"/);
	});

	test('pg_hba rejection', () => {
		const m = check(
			pgError('no pg_hba.conf entry for host "10.1.2.3", user "postgres", database "intowork", SSL encryption', '28000'),
			ExitCode.auth,
			/pg_hba\.conf/,
		);
		assert.doesNotMatch(m, /sslmode=require/);
	});

	test('pg_hba rejection without encryption hints at SSL', () => {
		check(
			pgError('no pg_hba.conf entry for host "10.1.2.3", user "postgres", database "intowork", no encryption', '28000'),
			ExitCode.ssl,
			/pg_hba\.conf/,
			/SSL/,
			/sslmode=require/,
		);
	});

	test('other 28000 is an auth failure', () => {
		check(pgError('role "postgres" does not exist', '28000'), 4, /authentication failed/, /role "postgres" does not exist/);
	});

	test('no password available', () => {
		check(pgError('fe_sendauth: no password supplied'), 4, /none was given/);
		check(pgError('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), 4, /none was given/);
	});

	test('database does not exist', () => {
		check(pgError('database "intowork" does not exist', '3D000'), 5, /database "intowork" does not exist/);
	});

	test('server without SSL', () => {
		check(pgError('The server does not support SSL connections'), 6, /SSL not supported by server/, /sslmode=disable/);
	});

	test('certificate verification', () => {
		// the fix is the root certificate, never dropping verification
		check(pgError('self-signed certificate in certificate chain', 'SELF_SIGNED_CERT_IN_CHAIN'), 6, /certificate/, /sslrootcert=FILE in the DSN, or PGSSLROOTCERT=FILE/);
	});

	test('no free connection slots', () => {
		check(pgError('sorry, too many clients already', '53300'), 3, /no free connection slots/, /reserved for superusers/);
		check(pgError('remaining connection slots are reserved for roles with the SUPERUSER attribute', '53300'), 3, /no free connection slots/);
		check(pgError('remaining connection slots are reserved for non-replication superuser connections'), 3, /no free connection slots/);
	});

	test('starting up / shutting down', () => {
		check(pgError('the database system is starting up', '57P03'), 3, /starting up or shutting down/);
		check(pgError('the database system is shutting down', '57P03'), 3, /starting up or shutting down/);
	});

	test('anything else: the message, one line', () => {
		const m = check(pgError('Connection terminated unexpectedly\n  at somewhere\r\n  more'), 3);
		assert.equal(m, `${prefix}Connection terminated unexpectedly at somewhere more`);
		check('a thrown string', 3, /a thrown string$/);
		check(undefined, 3);
		check({weird: true}, 3);
	});

	test('never echoes the password, literal or in a DSN', () => {
		check(pgError(`could not parse postgres://postgres:${secret}@db.example/intowork`), 3);
		check(pgError(`bad option password=${secret} here`), 3);
		check(pgError(`something mentioned ${secret} verbatim`), 3, /something mentioned \*\*\* verbatim/);
		check(pgError(`url-encoded ${encodeURIComponent(secret)} too`), 3);
	});

	test('terminal escapes from the server are stripped', () => {
		const m = check(pgError('database "x\u001b]0;pwned\u0007" does not exist', '3D000'), 5);
		assert.ok(!m.includes('\u001b'));
		assert.ok(!m.includes('pwned'));
	});

	test('target without password shows no ***', () => {
		const {password: _p, passwordSource: _s, ...noPw} = target;
		const e = classifyConnectError(pgError('connect ECONNREFUSED 10.0.0.1:5432', 'ECONNREFUSED'), noPw);
		assert.match(e.message, /^cannot connect to postgres@db\.example:5432\/intowork: connection refused/);
	});
});

describe('formatFatal', () => {
	test('UsageError', () => {
		assert.deepEqual(formatFatal(new UsageError('unknown option --frob')), {line: 'unknown option --frob', exitCode: 2});
		assert.equal(new UsageError('x').exitCode, ExitCode.usage);
	});

	test('CliError keeps its code', () => {
		assert.deepEqual(formatFatal(new CliError('cannot connect to x: refused', 3)), {line: 'cannot connect to x: refused', exitCode: 3});
	});

	test('anything else is an internal error, without a stack', () => {
		const r = formatFatal(new TypeError('cannot read properties of undefined'));
		assert.deepEqual(r, {line: 'intowork-db: internal error: cannot read properties of undefined', exitCode: 70});
		assert.deepEqual(formatFatal('boom'), {line: 'intowork-db: internal error: boom', exitCode: 70});
		const multi = formatFatal(new Error('first\nsecond'));
		assert.equal(multi.line, 'intowork-db: internal error: first second');
		assert.doesNotMatch(formatFatal(new Error('x')).line, /\bat\b/);
	});

	test('scrubs DSNs that slipped into a message', () => {
		const r = formatFatal(new Error(`failed on postgres://u:${secret}@h/d`));
		assert.ok(!r.line.includes(secret), r.line);
	});

	test('exit codes', () => {
		assert.deepEqual(ExitCode, {ok: 0, failed: 1, usage: 2, unreachable: 3, auth: 4, noDatabase: 5, ssl: 6, internal: 70});
	});
});
