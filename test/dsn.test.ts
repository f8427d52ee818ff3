import {test, describe, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
	libpqEnv,
	passwordFromPgpass,
	pgConfig,
	redactDsn,
	redactTarget,
	resolveTarget,
	systemCaBundle,
	type ResolveOptions,
	type Target,
} from '../source/db/dsn.js';
import {UsageError} from '../source/errors.js';

let dir: string;
let noPgpass: string;

before(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-dsn-'));
	noPgpass = path.join(dir, 'does-not-exist');
});

after(() => {
	fs.rmSync(dir, {recursive: true, force: true});
});

// Never let a test see the real environment or the real ~/.pgpass.
function resolve(opts: ResolveOptions = {}): Target {
	return resolveTarget({env: {}, pgpassPath: noPgpass, osUser: 'alice', ...opts});
}

let pgpassCount = 0;
function pgpass(content: string, mode = 0o600): string {
	const file = path.join(dir, `pgpass-${pgpassCount++}`);
	fs.writeFileSync(file, content);
	fs.chmodSync(file, mode);
	return file;
}

function assertUsage(fn: () => unknown, secret: string, match?: RegExp): void {
	assert.throws(fn, (err: unknown) => {
		assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
		assert.ok(!err.message.includes(secret), `message leaks the password: ${err.message}`);
		assert.ok(!err.message.includes('\n'), 'message must be one line');
		if (match) assert.match(err.message, match);
		return true;
	});
}

describe('resolveTarget: source order', () => {
	test('defaults: localhost:5432, OS user, database = user', () => {
		assert.deepEqual(resolve(), {host: 'localhost', port: 5432, user: 'alice', database: 'alice', source: 'default'});
	});

	test('libpq variables', () => {
		const t = resolve({
			env: {PGHOST: 'pg.internal', PGPORT: '6432', PGUSER: 'bob', PGPASSWORD: 'pw1', PGDATABASE: 'app', PGSSLMODE: 'require'},
		});
		assert.deepEqual(t, {
			host: 'pg.internal',
			port: 6432,
			user: 'bob',
			password: 'pw1',
			database: 'app',
			sslmode: 'require',
			source: 'libpq',
			passwordSource: 'PGPASSWORD',
		});
	});

	test('database defaults to PGUSER, not the OS user', () => {
		const t = resolve({env: {PGUSER: 'carol'}});
		assert.equal(t.database, 'carol');
		assert.equal(t.source, 'libpq');
	});

	test('DATABASE_URL beats libpq variables', () => {
		const t = resolve({env: {DATABASE_URL: 'postgres://dan:pw2@db.example:5433/intowork', PGHOST: 'other', PGUSER: 'eve'}});
		assert.equal(t.source, 'DATABASE_URL');
		assert.equal(t.host, 'db.example');
		assert.equal(t.port, 5433);
		assert.equal(t.user, 'dan');
		assert.equal(t.password, 'pw2');
		assert.equal(t.passwordSource, 'url');
		assert.equal(t.database, 'intowork');
	});

	test('an explicit DSN beats DATABASE_URL', () => {
		const t = resolve({dsn: 'postgres://frank@arg.example/argdb', env: {DATABASE_URL: 'postgres://dan@db.example/intowork'}});
		assert.equal(t.source, 'argument');
		assert.equal(t.host, 'arg.example');
		assert.equal(t.user, 'frank');
		assert.equal(t.database, 'argdb');
	});

	test('blank DSN and DATABASE_URL count as unset', () => {
		assert.equal(resolve({dsn: '  ', env: {DATABASE_URL: ''}}).source, 'default');
		assert.equal(resolve({dsn: '', env: {DATABASE_URL: ' ', PGHOST: 'h'}}).source, 'libpq');
	});

	test('libpq variables fill what the URL leaves out', () => {
		const t = resolve({
			env: {DATABASE_URL: 'postgresql://db.example/intowork', PGPORT: '6543', PGUSER: 'gina', PGPASSWORD: 'envpw', PGSSLMODE: 'verify-full'},
		});
		assert.deepEqual(t, {
			host: 'db.example',
			port: 6543,
			user: 'gina',
			password: 'envpw',
			database: 'intowork',
			sslmode: 'verify-full',
			source: 'DATABASE_URL',
			passwordSource: 'PGPASSWORD',
		});
	});

	test('URL password beats PGPASSWORD', () => {
		const t = resolve({dsn: 'postgres://u:urlpw@h/d', env: {PGPASSWORD: 'envpw'}});
		assert.equal(t.password, 'urlpw');
		assert.equal(t.passwordSource, 'url');
	});

	test('URL without a database: PGDATABASE, else the user', () => {
		assert.equal(resolve({dsn: 'postgres://u@h', env: {PGDATABASE: 'fromenv'}}).database, 'fromenv');
		assert.equal(resolve({dsn: 'postgres://u@h:5432/'}).database, 'u');
	});
});

describe('resolveTarget: URLs', () => {
	const drivers = ['postgres', 'postgresql', 'postgresql+asyncpg', 'postgresql+psycopg2', 'postgresql+psycopg', 'postgresql+pg8000'];
	for (const scheme of drivers) {
		test(`${scheme}://`, () => {
			const t = resolve({dsn: `${scheme}://app:s3cret@db.example:5433/intowork`});
			assert.deepEqual(t, {
				host: 'db.example',
				port: 5433,
				user: 'app',
				password: 's3cret',
				database: 'intowork',
				source: 'argument',
				passwordSource: 'url',
			});
		});
	}

	test('scheme is case-insensitive', () => {
		assert.equal(resolve({dsn: 'PostgreSQL+AsyncPG://u@h/d'}).host, 'h');
	});

	test('percent-decoding of user, password, database and host', () => {
		const t = resolve({dsn: 'postgresql+psycopg2://us%40er:p%40ss%3Aw%2Frd%25@%2Fvar%2Frun%2Fpostgresql/my%20db'});
		assert.equal(t.user, 'us@er');
		assert.equal(t.password, 'p@ss:w/rd%');
		assert.equal(t.database, 'my db');
		assert.equal(t.host, '/var/run/postgresql');
	});

	test('a stray % in a password is kept, as SQLAlchemy does', () => {
		assert.equal(resolve({dsn: 'postgres://u:100%sure%41@h/d'}).password, '100%sureA');
	});

	test('unencoded / : ? # in a password survive (SQLAlchemy rules)', () => {
		const t = resolve({dsn: 'postgresql+asyncpg://u:a/b:c?d#e@h:5432/d'});
		assert.equal(t.password, 'a/b:c?d#e');
		assert.equal(t.host, 'h');
		assert.equal(t.database, 'd');
	});

	test('Azure-style user@server user names', () => {
		const t = resolve({dsn: 'postgres://admin@myserver:pw@myserver.postgres.database.azure.com/db'});
		assert.equal(t.user, 'admin@myserver');
		assert.equal(t.password, 'pw');
		assert.equal(t.host, 'myserver.postgres.database.azure.com');
	});

	test('IPv6 host', () => {
		const t = resolve({dsn: 'postgres://u@[::1]:6000/d'});
		assert.equal(t.host, '::1');
		assert.equal(t.port, 6000);
	});

	test('query: sslmode, asyncpg ssl=, host= socket dir, port=', () => {
		assert.equal(resolve({dsn: 'postgres://u@h/d?sslmode=verify-ca'}).sslmode, 'verify-ca');
		assert.equal(resolve({dsn: 'postgresql+asyncpg://u@h/d?ssl=true'}).sslmode, 'require');
		assert.equal(resolve({dsn: 'postgresql+asyncpg://u@h/d?ssl=require'}).sslmode, 'require');
		assert.equal(resolve({dsn: 'postgresql+asyncpg://u@h/d?ssl=false'}).sslmode, 'disable');
		assert.equal(resolve({dsn: 'postgres://u@h/d?ssl=true&sslmode=verify-full'}).sslmode, 'verify-full');
		const t = resolve({dsn: 'postgresql://u@/d?host=/var/run/postgresql&port=5434'});
		assert.equal(t.host, '/var/run/postgresql');
		assert.equal(t.port, 5434);
	});

	test('application_name and driver options are ignored', () => {
		const t = resolve({dsn: 'postgresql+asyncpg://u@h/d?application_name=backend&prepared_statement_cache_size=0'});
		assert.deepEqual(t, {host: 'h', port: 5432, user: 'u', database: 'd', source: 'argument'});
	});

	test('empty password in the URL means none', () => {
		const t = resolve({dsn: 'postgres://u:@h/d', env: {PGPASSWORD: 'envpw'}});
		assert.equal(t.password, 'envpw');
		assert.equal(t.passwordSource, 'PGPASSWORD');
	});
});

describe('resolveTarget: keyword/value strings', () => {
	test('plain pairs', () => {
		const t = resolve({dsn: 'host=x port=5433 dbname=y user=z password=w sslmode=require'});
		assert.deepEqual(t, {
			host: 'x',
			port: 5433,
			user: 'z',
			password: 'w',
			database: 'y',
			sslmode: 'require',
			source: 'argument',
			passwordSource: 'url',
		});
	});

	test('single-quoted values with escapes, spaces around =', () => {
		const t = resolve({dsn: String.raw`host = 'db host' dbname='my db' password='it\'s a \\ secret' user=a\ b`});
		assert.equal(t.host, 'db host');
		assert.equal(t.database, 'my db');
		assert.equal(t.password, String.raw`it's a \ secret`);
		assert.equal(t.user, 'a b');
	});

	test('libpq-only keywords are ignored, hostaddr stands in for host', () => {
		const t = resolve({dsn: 'hostaddr=10.0.0.5 connect_timeout=5 application_name=x dbname=d'});
		assert.equal(t.host, '10.0.0.5');
		assert.equal(t.database, 'd');
		assert.equal(resolve({dsn: 'host=h hostaddr=10.0.0.5'}).host, 'h');
	});

	test('requiressl=1 means sslmode=require', () => {
		assert.equal(resolve({dsn: 'host=h requiressl=1'}).sslmode, 'require');
	});

	test('libpq variables fill keyword strings too', () => {
		const t = resolve({dsn: 'host=h', env: {PGUSER: 'u', PGPASSWORD: 'p'}});
		assert.equal(t.user, 'u');
		assert.equal(t.password, 'p');
		assert.equal(t.database, 'u');
	});
});

describe('resolveTarget: bad input', () => {
	const secret = 'Zq9-hunter2';
	const cases: Array<[string, string, RegExp]> = [
		['unknown scheme', `mysql://root:${secret}@h/d`, /scheme "mysql:\/\/"/],
		['unknown driver scheme', `mysql+pymysql://root:${secret}@h/d`, /scheme/],
		['port out of range', `postgres://u:${secret}@h:99999/d`, /port 99999/],
		['port not a number', `postgres://u:${secret}@h:abc/d`, /port/],
		['port zero', `postgres://u:${secret}@h:0/d`, /port 0/],
		['unparsable', `garbage-${secret}`, /expected a postgres:\/\/ URL or key=value/],
		['keyword without =', `host=h password=${secret} ${secret}`, /missing "="/],
		['unterminated quote', `host=h password='${secret}`, /unterminated/],
		['unknown keyword', `host=h dbnme=x password=${secret}`, /unknown or unsupported keyword "dbnme"/],
		['bad keyword port', `port=abc password=${secret}`, /port/],
		['port swallowing the next pair', `port= password=${secret}`, /port/],
		['multiple hosts', `postgres://u:${secret}@a:5432,b:5433/d`, /multiple hosts/],
		['bad sslmode', `postgres://u:${secret}@h/d?sslmode=sometimes`, /sslmode/],
		['bad ssl', `postgres://u:${secret}@h/d?ssl=maybe`, /ssl/],
		['raw @ in host', `postgres://u:a@${secret}@h/d`, /%40/],
	];
	for (const [name, dsn, match] of cases) {
		test(name, () => assertUsage(() => resolve({dsn}), secret, match));
	}

	test('errors in DATABASE_URL name it', () => {
		assertUsage(() => resolve({env: {DATABASE_URL: `mysql://u:${secret}@h/d`}}), secret, /^invalid DATABASE_URL: /);
	});

	test('bad PGPORT and PGSSLMODE', () => {
		assertUsage(() => resolve({env: {PGPORT: '70000'}}), secret, /^invalid PGPORT: port 70000/);
		assertUsage(() => resolve({env: {PGSSLMODE: 'on'}}), secret, /^invalid PGSSLMODE: /);
	});
});

describe('pgpass', () => {
	const conn = {host: 'db.example', port: 5432, database: 'intowork', user: 'app'};

	test('exact match', () => {
		const file = pgpass('db.example:5432:intowork:app:pw-exact\n');
		assert.equal(passwordFromPgpass(file, conn), 'pw-exact');
	});

	test('wildcards', () => {
		const file = pgpass('*:*:*:app:pw-wild\n');
		assert.equal(passwordFromPgpass(file, conn), 'pw-wild');
		assert.equal(passwordFromPgpass(file, {...conn, user: 'other'}), undefined);
	});

	test('a * inside a field is literal', () => {
		const file = pgpass('db.*:5432:intowork:app:nope\n');
		assert.equal(passwordFromPgpass(file, conn), undefined);
	});

	test('first match wins; comments and blank lines skipped', () => {
		const file = pgpass(['# db.example:5432:intowork:app:commented', '', 'other:5432:*:*:not-this', '*:5432:intowork:app:first', '*:*:*:*:second'].join('\n'));
		assert.equal(passwordFromPgpass(file, conn), 'first');
	});

	test('\\: and \\\\ escapes in fields and password', () => {
		const file = pgpass(String.raw`db.example:5432:in\:to\\work:app:p\:w\\d:ignored` + '\n');
		assert.equal(passwordFromPgpass(file, {...conn, database: String.raw`in:to\work`}), String.raw`p:w\d`);
		assert.equal(passwordFromPgpass(file, conn), undefined);
	});

	test('CRLF line endings', () => {
		const file = pgpass('db.example:5432:intowork:app:crlf\r\n*:*:*:*:other\r\n');
		assert.equal(passwordFromPgpass(file, conn), 'crlf');
	});

	test('an empty password on the first matching line means none', () => {
		const file = pgpass('*:*:*:app:\n*:*:*:*:later\n');
		assert.equal(passwordFromPgpass(file, conn), undefined);
	});

	test('default socket directories match localhost', () => {
		const file = pgpass('localhost:5432:*:*:socketpw\n');
		assert.equal(passwordFromPgpass(file, {...conn, host: '/var/run/postgresql'}), 'socketpw');
		assert.equal(passwordFromPgpass(file, {...conn, host: '/tmp'}), 'socketpw');
		assert.equal(passwordFromPgpass(file, {...conn, host: '/srv/pg'}), undefined);
	});

	test('missing file is not an error', () => {
		assert.equal(passwordFromPgpass(noPgpass, conn), undefined);
	});

	test('a directory is ignored', () => {
		assert.equal(passwordFromPgpass(dir, conn), undefined);
	});

	test('group/world accessible file is ignored, with a warning', {skip: process.platform === 'win32'}, () => {
		const file = pgpass('*:*:*:*:loose\n', 0o644);
		const warnings: string[] = [];
		assert.equal(passwordFromPgpass(file, conn, w => warnings.push(w)), undefined);
		assert.equal(warnings.length, 1);
		assert.match(warnings[0]!, /group or world access/);
		assert.ok(!warnings[0]!.includes('loose'));
		fs.chmodSync(file, 0o640);
		assert.equal(passwordFromPgpass(file, conn), undefined);
		fs.chmodSync(file, 0o400);
		assert.equal(passwordFromPgpass(file, conn), 'loose');
	});

	test('resolveTarget uses it when nothing else gives a password', () => {
		const file = pgpass('db.example:5433:intowork:app:from-file\n');
		const t = resolve({dsn: 'postgresql+asyncpg://app@db.example:5433/intowork', pgpassPath: file});
		assert.equal(t.password, 'from-file');
		assert.equal(t.passwordSource, 'pgpass');
	});

	test('matching uses the port and database libpq would use', () => {
		const file = pgpass('localhost:6000:alice:alice:defaults\n');
		const t = resolve({env: {PGPORT: '6000'}, pgpassPath: file});
		assert.equal(t.password, 'defaults');
	});

	test('not consulted when the URL or PGPASSWORD has a password', () => {
		const file = pgpass('*:*:*:*:from-file\n');
		assert.equal(resolve({dsn: 'postgres://u:urlpw@h/d', pgpassPath: file}).password, 'urlpw');
		assert.equal(resolve({dsn: 'postgres://u@h/d', env: {PGPASSWORD: 'envpw'}, pgpassPath: file}).password, 'envpw');
	});

	test('PGPASSFILE and passfile= choose the file; the option beats both', () => {
		const a = pgpass('*:*:*:*:from-env\n');
		const b = pgpass('*:*:*:*:from-param\n');
		const c = pgpass('*:*:*:*:from-option\n');
		const env = {PGPASSFILE: a};
		assert.equal(resolveTarget({env, osUser: 'u'}).password, 'from-env');
		assert.equal(resolveTarget({env, osUser: 'u', dsn: `host=h passfile=${b}`}).password, 'from-param');
		assert.equal(resolveTarget({env, osUser: 'u', dsn: `host=h passfile=${b}`, pgpassPath: c}).password, 'from-option');
	});

	test('~/.pgpass under HOME by default', {skip: process.platform === 'win32'}, () => {
		const home = fs.mkdtempSync(path.join(dir, 'home-'));
		fs.writeFileSync(path.join(home, '.pgpass'), '*:*:*:*:from-home\n', {mode: 0o600});
		fs.chmodSync(path.join(home, '.pgpass'), 0o600);
		assert.equal(resolveTarget({env: {HOME: home}, osUser: 'u'}).password, 'from-home');
	});
});

describe('redaction', () => {
	const t: Target = {host: 'db.example', port: 5432, user: 'app', password: 'pw-secret', database: 'intowork', source: 'argument', passwordSource: 'url'};

	test('redactTarget', () => {
		assert.equal(redactTarget(t), 'app:***@db.example:5432/intowork');
		const {password: _p, passwordSource: _s, ...noPw} = t;
		assert.equal(redactTarget(noPw), 'app@db.example:5432/intowork');
		assert.equal(redactTarget({...t, host: '::1'}), 'app:***@[::1]:5432/intowork');
	});

	test('redactDsn: URLs', () => {
		assert.equal(redactDsn('postgres://u:pw-secret@h:5432/d'), 'postgres://u:***@h:5432/d');
		assert.equal(redactDsn('postgresql+asyncpg://u:p%40ss@h/d?ssl=true'), 'postgresql+asyncpg://u:***@h/d?ssl=true');
		assert.equal(redactDsn('error: bad postgres://u:a/b:c@h/d here'), 'error: bad postgres://u:***@h/d here');
		assert.equal(redactDsn('postgres://admin@srv:pw-secret@h/d'), 'postgres://admin@srv:***@h/d');
	});

	test('redactDsn leaves password-less text alone', () => {
		for (const s of ['postgres://u@h:5432/d', 'password authentication failed for user "x"', 'host=h user=u', '']) {
			assert.equal(redactDsn(s), s);
		}
	});

	test('redactDsn: keyword strings and env assignments', () => {
		assert.equal(redactDsn('host=h password=pw-secret user=u'), 'host=h password=*** user=u');
		assert.equal(redactDsn(String.raw`host=h password = 'pw \' secret' user=u`), 'host=h password = *** user=u');
		assert.equal(redactDsn('PGPASSWORD=pw-secret psql'), 'PGPASSWORD=*** psql');
		assert.equal(redactDsn('sslpassword=pw-secret'), 'sslpassword=***');
		assert.equal(redactDsn('postgres://h/d?password=pw-secret&sslmode=require').includes('pw-secret'), false);
	});

	test('no output of resolveTarget-derived helpers leaks the password except where it must', () => {
		assert.ok(!redactTarget(t).includes('pw-secret'));
		assert.ok(!JSON.stringify(redactDsn(`postgres://app:${t.password}@db.example/intowork`)).includes('pw-secret'));
	});
});

describe('pgConfig', () => {
	const base: Target = {host: 'db.example', port: 5433, user: 'app', password: 'pw', database: 'intowork', source: 'argument'};

	test('fields, defaults and timeouts as startup options', () => {
		const c = pgConfig(base, {statementTimeoutMs: 5000, lockTimeoutMs: 1000});
		assert.equal(c.host, 'db.example');
		assert.equal(c.port, 5433);
		assert.equal(c.user, 'app');
		assert.equal(c.password, 'pw');
		assert.equal(c.database, 'intowork');
		assert.equal(c.application_name, 'intowork-db');
		assert.equal(c.connectionTimeoutMillis, 10000);
		assert.equal(c.options, '-c statement_timeout=5000 -c lock_timeout=1000');
		assert.equal(c.ssl, false);
	});

	test('extras', () => {
		const c = pgConfig(base, {applicationName: 'intowork-db/activity', connectTimeoutMs: 2500});
		assert.equal(c.application_name, 'intowork-db/activity');
		assert.equal(c.connectionTimeoutMillis, 2500);
		assert.equal(c.options, undefined);
		assert.equal(pgConfig(base, {lockTimeoutMs: 0}).options, '-c lock_timeout=0');
	});

	test('ssl per sslmode', () => {
		const ssl = (sslmode?: string) => pgConfig({...base, ...(sslmode && {sslmode})}).ssl;
		assert.equal(ssl(), false);
		assert.equal(ssl('disable'), false);
		assert.equal(ssl('allow'), false);
		assert.equal(ssl('prefer'), false);
		assert.deepEqual(ssl('require'), {rejectUnauthorized: false});
		// verify-ca checks the chain but not the host name
		const ca = ssl('verify-ca') as {rejectUnauthorized: boolean; checkServerIdentity(): unknown};
		assert.equal(ca.rejectUnauthorized, true);
		assert.equal(ca.checkServerIdentity(), undefined);
		// no root given: the operating system's bundle, the same file pg_dump gets in PGSSLROOTCERT
		const full = ssl('verify-full') as {rejectUnauthorized: boolean; ca?: Buffer};
		assert.equal(full.rejectUnauthorized, true);
		assert.equal(full.ca === undefined, systemCaBundle() === undefined);
	});

	test('no SSL over a unix socket', () => {
		assert.equal(pgConfig({...base, host: '/var/run/postgresql', sslmode: 'require'}).ssl, false);
	});

	test('without a password node-postgres gets a callback that fails like libpq', () => {
		const {password: _p, ...noPw} = base;
		const c = pgConfig(noPw);
		assert.equal(typeof c.password, 'function');
		assert.throws(() => (c.password as () => string)(), /no password supplied/);
	});
});

describe('libpqEnv', () => {
	test('with password and sslmode', () => {
		const t: Target = {host: 'h', port: 5433, user: 'u', password: 'pw', database: 'd', sslmode: 'require', source: 'argument'};
		assert.deepEqual(libpqEnv(t), {PGHOST: 'h', PGPORT: '5433', PGUSER: 'u', PGPASSWORD: 'pw', PGDATABASE: 'd', PGSSLMODE: 'require'});
	});

	test('without', () => {
		const t: Target = {host: 'h', port: 5432, user: 'u', database: 'd', source: 'default'};
		assert.deepEqual(libpqEnv(t), {PGHOST: 'h', PGPORT: '5432', PGUSER: 'u', PGDATABASE: 'd'});
	});
});
