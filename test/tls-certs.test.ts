import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, before, test} from 'node:test';
import pg from 'pg';
import {runBackup} from '../source/actions/backup/backup.js';
import {connectFor} from '../source/actions/backup/session.js';
import {libpqEnv, pgConfig, resolveTarget, type Target} from '../source/db/dsn.js';
import {PgServer, cacheRoot, freePort, serverUser} from '../source/demo/pg-server.js';
import {runCli} from './helpers/cli.js';

// A server of this file's own: ssl=on with a certificate from a CA made here,
// and a role that can only log in with a client certificate from that CA.
const root = path.join(cacheRoot(), 'test', `tls-${process.pid}-${Date.now()}`);
const certs = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-tls-'));
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-tls-state-'));
const server = new PgServer({major: 15, dataDir: path.join(root, 'data'), port: await freePort(), settings: {ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key', ssl_ca_file: 'ca.crt'}, preloadStatements: false});
const file = (name: string) => path.join(certs, name);

function openssl(...args: string[]): void {
	execFileSync('openssl', args, {cwd: certs, stdio: 'ignore'});
}

/** A key and a certificate signed by `ca`; `san` for server certificates. */
function issue(name: string, cn: string, ca: string, san?: string): void {
	openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
	const ext = san ? ['-extfile', file(`${name}.ext`)] : [];
	if (san) fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
	openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...ext);
	fs.chmodSync(file(`${name}.key`), 0o600);
}

before(async () => {
	for (const ca of ['ca', 'other-ca']) openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=intowork test ${ca}`);
	// named for localhost only: verify-full to 127.0.0.1 must fail on the name, verify-ca must not care
	issue('server', 'localhost', 'ca', 'DNS:localhost');
	issue('client', 'certuser', 'ca');
	await server.initialise();
	const ids = serverUser();
	for (const name of ['server.crt', 'server.key', 'ca.crt']) {
		const to = path.join(server.dataDir, name);
		fs.copyFileSync(file(name), to);
		fs.chmodSync(to, 0o600);
		if (ids) fs.chownSync(to, ids.uid, ids.gid);
	}
	const hba = path.join(server.dataDir, 'pg_hba.conf');
	fs.writeFileSync(hba, `hostssl all certuser 127.0.0.1/32 cert\nhostssl all certuser ::1/128 cert\n${fs.readFileSync(hba, 'utf8')}`);
	await server.start();
	const admin = new pg.Client({connectionString: server.url()});
	await admin.connect();
	await admin.query('CREATE ROLE certuser LOGIN');
	await admin.query('CREATE DATABASE certdb OWNER certuser');
	await admin.end();
	const owner = new pg.Client({connectionString: server.url('certdb')});
	await owner.connect();
	await owner.query('SET ROLE certuser');
	await owner.query('CREATE TABLE notes AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 500) g');
	await owner.end();
});
after(async () => {
	await server.stop();
	fs.rmSync(root, {recursive: true, force: true});
	fs.rmSync(certs, {recursive: true, force: true});
	fs.rmSync(state, {recursive: true, force: true});
});

const url = (host: string, query: string) => `postgresql://certuser@${host}:${server.port}/certdb?${query}`;
const certQuery = `sslrootcert=${file('ca.crt')}&sslcert=${file('client.crt')}&sslkey=${file('client.key')}`;

/** What the server says about our own connection: TLS on, and the client certificate it saw. */
async function sslOf(client: pg.Client): Promise<{ssl: boolean; client_dn: string | null; user: string}> {
	return (await client.query('SELECT s.ssl, s.client_dn, current_user AS user FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()')).rows[0];
}

test('verify-full with a private CA and a client certificate: the console connection and an action connection log in by certificate', async () => {
	const target = resolveTarget({dsn: url('localhost', `sslmode=verify-full&${certQuery}`), env: {}});
	assert.deepEqual([target.sslmode, target.sslrootcert, target.sslcert, target.sslkey], ['verify-full', file('ca.crt'), file('client.crt'), file('client.key')]);
	const client = new pg.Client(pgConfig(target));
	await client.connect();
	try {
		assert.deepEqual(await sslOf(client), {ssl: true, client_dn: '/CN=certuser', user: 'certuser'});
	} finally {
		await client.end();
	}
	const action = await connectFor(target, 'intowork-db/test');
	try {
		assert.deepEqual(await sslOf(action), {ssl: true, client_dn: '/CN=certuser', user: 'certuser'});
	} finally {
		await action.end();
	}
});

test('PGSSLROOTCERT, PGSSLCERT and PGSSLKEY as libpq reads them; require with a root certificate verifies the chain (verify-ca) and not the host name', async () => {
	const target = resolveTarget({dsn: `postgresql://certuser@127.0.0.1:${server.port}/certdb`, env: {PGSSLMODE: 'require', PGSSLROOTCERT: file('ca.crt'), PGSSLCERT: file('client.crt'), PGSSLKEY: file('client.key')}});
	assert.equal(target.sslmode, 'verify-ca');
	const client = new pg.Client(pgConfig(target));
	await client.connect();
	assert.equal((await sslOf(client)).client_dn, '/CN=certuser');
	await client.end();
	// the certificate names localhost, not 127.0.0.1: verify-full refuses it
	const full = new pg.Client(pgConfig({...target, sslmode: 'verify-full'}));
	full.on('error', () => undefined);
	await assert.rejects(full.connect(), /does not match certificate's altnames|IP: 127\.0\.0\.1 is not in the cert's list/);
	assert.deepEqual(
		Object.entries(libpqEnv(target)).filter(([k]) => k.startsWith('PGSSL')),
		[
			['PGSSLMODE', 'verify-ca'],
			['PGSSLROOTCERT', file('ca.crt')],
			['PGSSLCERT', file('client.crt')],
			['PGSSLKEY', file('client.key')],
		],
	);
});

test('pg_dump gets the same root, certificate and key in its environment: a backup by certificate login', async () => {
	const target: Target = resolveTarget({dsn: url('localhost', `sslmode=verify-full&${certQuery}`), env: {}});
	const env = {...process.env, INTOWORK_DB_STATE: state};
	const record = await runBackup({target, dir: path.join(state, 'b'), env});
	assert.deepEqual(record.rowCounts, {'public.notes': 500});
});

test('a server certificate from another CA: exit 6, and the advice names the root certificate setting, never dropping verification', async () => {
	const r = await runCli(['backup', '--dir', path.join(state, 'x')], {
		env: {DATABASE_URL: url('localhost', `sslmode=verify-full&sslrootcert=${file('other-ca.crt')}&sslcert=${file('client.crt')}&sslkey=${file('client.key')}`), INTOWORK_DB_STATE: state},
	});
	assert.equal(r.code, 6, r.stderr);
	assert.match(r.stderr, new RegExp(`SSL certificate verification failed \\(.*\\); check that ${file('other-ca.crt').replaceAll('/', '\\/')} \\(sslrootcert\\) holds the CA that signed the server's certificate, and that the host name is one the certificate names`));
	assert.doesNotMatch(r.stderr, /sslmode=require/);
	const none = await runCli(['backup', '--dir', path.join(state, 'x')], {env: {DATABASE_URL: url('localhost', 'sslmode=verify-full'), INTOWORK_DB_STATE: state}});
	assert.equal(none.code, 6, none.stderr);
	assert.match(none.stderr, /give the CA that signed the server's certificate as sslrootcert=FILE in the DSN, or PGSSLROOTCERT=FILE/);
	assert.doesNotMatch(none.stderr, /sslmode=require/);
});

test('bad TLS settings are usage errors before any connection, as libpq refuses them', () => {
	const loose = file('loose.key');
	fs.copyFileSync(file('client.key'), loose);
	fs.chmodSync(loose, 0o644);
	assert.throws(() => resolveTarget({dsn: url('localhost', `sslcert=${file('client.crt')}&sslkey=${loose}`), env: {}}), /sslkey .*loose\.key: private key file has group or world access; it must be mode 0600 or less/);
	assert.throws(() => resolveTarget({dsn: url('localhost', 'sslmode=require&sslrootcert=system'), env: {}}), /sslrootcert=system: sslmode "require" may not be used with it \(use verify-full/);
	assert.equal(resolveTarget({dsn: url('localhost', 'sslrootcert=system'), env: {}}).sslmode, 'verify-full');
	assert.throws(() => resolveTarget({dsn: url('localhost', 'sslmode=verify-ca'), env: {PGSSLROOTCERT: file('nope.crt')}}), /sslrootcert: cannot read the root certificate file .*nope\.crt/);
});
