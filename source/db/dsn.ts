import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {ClientConfig} from 'pg';
import {UsageError} from '../errors.js';

export type Target = {
	host: string;
	port: number;
	user: string;
	password?: string;
	database: string;
	sslmode?: string;
	/** a file of CA certificates the server's must chain to, or "system" for the operating system's store */
	sslrootcert?: string;
	/** the client certificate and its key, for pg_hba `cert` (or clientcert=verify-*) */
	sslcert?: string;
	sslkey?: string;
	source: 'argument' | 'DATABASE_URL' | 'libpq' | 'default';
	passwordSource?: 'url' | 'PGPASSWORD' | 'pgpass';
	/** why the password file was not read (its mode, not a file), for the error when the server then wants a password */
	passfileIgnored?: string;
};

export type ResolveOptions = {
	/** Positional argument or --dsn: a URL or a libpq keyword/value string. */
	dsn?: string;
	env?: NodeJS.ProcessEnv;
	pgpassPath?: string;
	osUser?: string;
	/** Receives libpq-style warnings, e.g. a password file with loose permissions. */
	onWarning?: (message: string) => void;
};

const sslModes = new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);

/** Fields a connection string can set; anything left out falls back to PG* variables. */
type Parts = {
	host?: string;
	port?: number;
	user?: string;
	password?: string;
	database?: string;
	sslmode?: string;
	sslrootcert?: string;
	sslcert?: string;
	sslkey?: string;
	passfile?: string;
};

// Thrown by the parsers with a detail that never quotes a value that could be
// the password; parseDsn turns it into a UsageError naming where it came from.
class SyntaxProblem extends Error {}

function fail(detail: string): never {
	throw new SyntaxProblem(detail);
}

function parsePort(raw: string): number {
	const t = raw.trim();
	if (/^\d+$/.test(t)) {
		const n = Number(t);
		if (n >= 1 && n <= 65535) return n;
	}
	// Only echo values that are plainly meant as numbers.
	const shown = /^\d{1,12}$/.test(t) ? ` ${t}` : '';
	fail(`port${shown} is not a number from 1 to 65535`);
}

function checkSslmode(raw: string): string {
	const v = raw.trim().toLowerCase();
	if (!sslModes.has(v)) fail('sslmode must be disable, allow, prefer, require, verify-ca or verify-full');
	return v;
}

function checkHost(raw: string): string {
	if (raw.includes(',')) fail('multiple hosts are not supported; give one host');
	return raw;
}

// SQLAlchemy and hand-written URLs often carry a stray '%' in a password;
// decode what is valid and keep the rest literally, as SQLAlchemy's unquote does.
function percentDecode(s: string): string {
	if (!s.includes('%')) return s;
	try {
		return decodeURIComponent(s);
	} catch {
		const bytes: number[] = [];
		for (let i = 0; i < s.length; i++) {
			if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
				bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
				i += 2;
			} else {
				const cp = s.codePointAt(i)!;
				const ch = String.fromCodePoint(cp);
				bytes.push(...Buffer.from(ch, 'utf8'));
				i += ch.length - 1;
			}
		}
		return Buffer.from(bytes).toString('utf8');
	}
}

// The shape SQLAlchemy's make_url accepts, since the backend writes its URLs
// that way: the password runs to the first '@', so '/', ':', '?' and '#' in
// it survive unencoded; only '@' must be written as %40.
const userinfoPattern = /^([^:/?]*)(?::([^@]*))?@/s;
const hostPortPattern = /^(?:\[([^\]/?]*)\]|([^/:?]*))(?::([^/?]*))?/;

function parseUrl(s: string): Parts {
	const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(s);
	if (!m) fail('not a URL');
	const scheme = m[1]!.toLowerCase();
	const plus = scheme.indexOf('+');
	const base = plus === -1 ? scheme : scheme.slice(0, plus);
	const driver = plus === -1 ? undefined : scheme.slice(plus + 1);
	if ((base !== 'postgres' && base !== 'postgresql') || (driver !== undefined && !/^[a-z0-9_]+$/.test(driver))) {
		fail(`unsupported URL scheme "${m[1]}://": use postgres://, postgresql:// or SQLAlchemy's postgresql+<driver>://`);
	}

	const parts: Parts = {};
	let rest = m[2]!;

	const ui = userinfoPattern.exec(rest);
	if (ui) {
		if (ui[1]) parts.user = percentDecode(ui[1]);
		if (ui[2]) parts.password = percentDecode(ui[2]);
		rest = rest.slice(ui[0].length);
	}

	const hp = hostPortPattern.exec(rest)!;
	const rawHost = hp[1] ?? hp[2] ?? '';
	const rawPort = hp[3];
	rest = rest.slice(hp[0].length);
	if (rawHost.includes('@')) fail('unexpected "@" in the host; write "@" in a user name or password as %40');
	if (rawHost.includes(',') || rawPort?.includes(',')) fail('multiple hosts are not supported; give one host');
	if (rawHost) parts.host = percentDecode(rawHost);
	if (rawPort) parts.port = parsePort(rawPort);

	if (rest.startsWith('/')) {
		const q = rest.indexOf('?');
		const rawDb = q === -1 ? rest.slice(1) : rest.slice(1, q);
		if (rawDb) parts.database = percentDecode(rawDb);
		rest = q === -1 ? '' : rest.slice(q);
	}
	if (rest.startsWith('?')) {
		applyQuery(parts, rest.slice(1));
		rest = '';
	}
	if (rest !== '') fail('unexpected text after the host');
	return parts;
}

/** The keywords a URL's query and a keyword string share; an empty value leaves the field to the environment. */
function applyConnectionKeyword(parts: Parts, key: string, value: string): boolean {
	const fields: Record<string, (v: string) => void> = {
		host: v => (parts.host = checkHost(v)),
		port: v => (parts.port = parsePort(v)),
		user: v => (parts.user = v),
		password: v => (parts.password = v),
		dbname: v => (parts.database = v),
		passfile: v => (parts.passfile = v),
		sslrootcert: v => (parts.sslrootcert = v),
		sslcert: v => (parts.sslcert = v),
		sslkey: v => (parts.sslkey = v),
	};
	const set = fields[key];
	if (!set) return false;
	if (value) set(value);
	return true;
}

function applyQuery(parts: Parts, query: string): void {
	let ssl: string | undefined;
	let sslmode: string | undefined;
	for (const pair of query.split('&')) {
		if (pair === '') continue;
		const eq = pair.indexOf('=');
		if (eq === -1) fail('missing "=" in a URL query parameter');
		const key = percentDecode(pair.slice(0, eq)).toLowerCase();
		const value = percentDecode(pair.slice(eq + 1));
		switch (key) {
			case 'sslmode':
				sslmode = checkSslmode(value);
				break;
			case 'ssl':
				ssl = asyncpgSsl(value);
				break;
			default:
				if (applyConnectionKeyword(parts, key, value)) break;
				// application_name: the console sets its own. Driver options such as
				// asyncpg's prepared_statement_cache_size mean nothing to us.
				break;
		}
	}
	const mode = sslmode ?? ssl;
	if (mode) parts.sslmode = mode;
}

// asyncpg spells it ssl=true/require (or an sslmode name) in SQLAlchemy URLs.
function asyncpgSsl(value: string): string {
	const v = value.trim().toLowerCase();
	if (['true', '1', 'yes', 'on'].includes(v)) return 'require';
	if (['false', '0', 'no', 'off'].includes(v)) return 'disable';
	if (sslModes.has(v)) return v;
	fail('invalid ssl parameter in URL: use ssl=true, ssl=false or an sslmode name');
}

// Keywords libpq knows that do not change where or as whom we connect.
const ignoredKeywords = new Set([
	'application_name',
	'fallback_application_name',
	'connect_timeout',
	'client_encoding',
	'options',
	'keepalives',
	'keepalives_idle',
	'keepalives_interval',
	'keepalives_count',
	'tcp_user_timeout',
	'target_session_attrs',
	'load_balance_hosts',
	'channel_binding',
	'gssencmode',
	'gsslib',
	'gssdelegation',
	'krbsrvname',
	'sslnegotiation',
	'sslcompression',
	'sslpassword',
	'sslcertmode',
	'sslcrl',
	'sslcrldir',
	'sslsni',
	'ssl_min_protocol_version',
	'ssl_max_protocol_version',
	'requirepeer',
	'require_auth',
]);

function isSpace(ch: string | undefined): boolean {
	return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
}

// libpq's conninfo_parse: `key = value` pairs separated by whitespace, values
// either bare (backslash escapes the next char) or single-quoted (\' and \\).
function parseKeywords(s: string): Parts {
	const values = new Map<string, string>();
	let i = 0;
	const n = s.length;
	while (i < n) {
		while (i < n && isSpace(s[i])) i++;
		if (i >= n) break;
		const keyStart = i;
		while (i < n && !isSpace(s[i]) && s[i] !== '=') i++;
		const key = s.slice(keyStart, i);
		while (i < n && isSpace(s[i])) i++;
		// Name only the previous key: this token might be part of a password.
		if (s[i] !== '=') fail(values.size === 0 ? 'expected key=value pairs' : `missing "=" after the value of "${[...values.keys()].pop()}"`);
		if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) fail('expected key=value pairs');
		i++;
		while (i < n && isSpace(s[i])) i++;
		let value = '';
		if (s[i] === "'") {
			i++;
			let closed = false;
			while (i < n) {
				const ch = s[i]!;
				if (ch === '\\' && i + 1 < n) {
					value += s[i + 1];
					i += 2;
				} else if (ch === "'") {
					i++;
					closed = true;
					break;
				} else {
					value += ch;
					i++;
				}
			}
			if (!closed) fail(`unterminated quoted value for "${key}"`);
		} else {
			while (i < n && !isSpace(s[i])) {
				if (s[i] === '\\' && i + 1 < n) i++;
				value += s[i];
				i++;
			}
		}
		values.set(key.toLowerCase(), value);
	}

	const parts: Parts = {};
	for (const [key, value] of values) {
		switch (key) {
			case 'hostaddr':
				break; // applied below, only when host is absent
			case 'sslmode':
				if (value) parts.sslmode = checkSslmode(value);
				break;
			case 'requiressl':
				if (value === '1' && !values.has('sslmode')) parts.sslmode = 'require';
				break;
			default:
				if (applyConnectionKeyword(parts, key, value)) break;
				// libpq rejects unknown keywords too; a typo like "dbnme" must not
				// silently connect to the default database.
				if (!ignoredKeywords.has(key)) fail(`unknown or unsupported keyword "${key}"`);
		}
	}
	const hostaddr = values.get('hostaddr');
	if (parts.host === undefined && hostaddr) parts.host = checkHost(hostaddr);
	return parts;
}

function parseDsn(s: string, label: string): Parts {
	try {
		if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(s)) return parseUrl(s);
		if (s.includes('=')) return parseKeywords(s);
		fail('expected a postgres:// URL or key=value pairs');
	} catch (err) {
		if (err instanceof SyntaxProblem) throw new UsageError(`invalid ${label}: ${err.message}`);
		throw err;
	}
}

function defaultOsUser(env: NodeJS.ProcessEnv): string {
	try {
		return os.userInfo().username;
	} catch {
		// No passwd entry, e.g. an arbitrary uid in a container.
		return env.USER || env.USERNAME || 'postgres';
	}
}

function defaultPgpassPath(env: NodeJS.ProcessEnv): string {
	if (process.platform === 'win32') {
		return path.join(env.APPDATA || os.homedir(), 'postgresql', 'pgpass.conf');
	}
	return path.join(env.HOME || os.homedir(), '.pgpass');
}

// libpq maps connections through its default socket directory to the
// "localhost" entries; distributions build it with one of these.
const defaultSocketDirs = new Set(['/tmp', '/var/run/postgresql', '/run/postgresql']);

/**
 * The password libpq would take from a password file for this connection, or
 * undefined. A missing or unreadable file is not an error; on POSIX a file
 * with any group/world permission bits is ignored, as libpq does.
 */
export function passwordFromPgpass(
	file: string,
	conn: {host: string; port: number; database: string; user: string},
	onWarning?: (message: string) => void,
): string | undefined {
	let text: string;
	try {
		const st = fs.statSync(file);
		if (!st.isFile()) {
			onWarning?.(`password file "${file}" is not a plain file; ignoring it`);
			return undefined;
		}
		if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
			onWarning?.(`password file "${file}" was ignored: it has group or world access (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); libpq reads it only at u=rw (0600) or less: chmod 600 ${file}`);
			return undefined;
		}
		text = fs.readFileSync(file, 'utf8');
	} catch {
		return undefined;
	}

	let host = conn.host;
	if (host === '' || (host.startsWith('/') && defaultSocketDirs.has(host.replace(/\/+$/, '')))) host = 'localhost';
	const fields = [host, String(conn.port), conn.database, conn.user];

	for (const raw of text.split('\n')) {
		const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
		if (line === '' || line.startsWith('#')) continue;
		let pos = 0;
		for (const value of fields) {
			pos = matchField(line, pos, value);
			if (pos < 0) break;
		}
		if (pos < 0) continue;
		// First match wins, even if its password is empty (then there is none).
		const password = unescapeField(line, pos);
		return password === '' ? undefined : password;
	}
	return undefined;
}

/** Position after the field if it matches `value` (or is `*`), else -1. */
function matchField(line: string, pos: number, value: string): number {
	if (line[pos] === '*' && line[pos + 1] === ':') return pos + 2;
	let i = pos;
	let j = 0;
	while (i < line.length && line[i] !== ':') {
		if (line[i] === '\\' && i + 1 < line.length) i++;
		if (line[i] !== value[j]) return -1;
		i++;
		j++;
	}
	return line[i] === ':' && j === value.length ? i + 1 : -1;
}

function unescapeField(line: string, pos: number): string {
	let out = '';
	for (let i = pos; i < line.length && line[i] !== ':'; i++) {
		if (line[i] === '\\' && i + 1 < line.length) i++;
		out += line[i];
	}
	return out;
}

/**
 * Where to connect, resolved like libpq: an explicit DSN, else DATABASE_URL,
 * else the PG* variables, else defaults; PG* variables and the password file
 * fill whatever the chosen source leaves out. Throws UsageError on bad input.
 */
export function resolveTarget(opts: ResolveOptions = {}): Target {
	const env = opts.env ?? process.env;
	// An empty variable (common in .env files) means "not set".
	const envOf = (name: string): string | undefined => {
		const v = env[name];
		return v === undefined || v.trim() === '' ? undefined : v;
	};

	let parts: Parts = {};
	let source: Target['source'];
	const dsn = opts.dsn?.trim();
	const databaseUrl = envOf('DATABASE_URL')?.trim();
	if (dsn) {
		parts = parseDsn(dsn, 'connection string');
		source = 'argument';
	} else if (databaseUrl) {
		parts = parseDsn(databaseUrl, 'DATABASE_URL');
		source = 'DATABASE_URL';
	} else if (['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE'].some(name => envOf(name) !== undefined)) {
		source = 'libpq';
	} else {
		source = 'default';
	}

	const fromEnv = <T>(name: string, convert: (v: string) => T): T | undefined => {
		const v = envOf(name);
		if (v === undefined) return undefined;
		try {
			return convert(v);
		} catch (err) {
			if (err instanceof SyntaxProblem) throw new UsageError(`invalid ${name}: ${err.message}`);
			throw err;
		}
	};

	const host = parts.host ?? fromEnv('PGHOST', checkHost) ?? 'localhost';
	const port = parts.port ?? fromEnv('PGPORT', parsePort) ?? 5432;
	const user = parts.user ?? envOf('PGUSER') ?? opts.osUser ?? defaultOsUser(env);
	const database = parts.database ?? envOf('PGDATABASE') ?? user;
	const tls = resolveTls(parts, envOf, env);

	let password: string | undefined;
	let passwordSource: Target['passwordSource'];
	let passfileIgnored: string | undefined;
	const envPassword = env.PGPASSWORD; // a password may legitimately be all spaces
	if (parts.password !== undefined) {
		password = parts.password;
		passwordSource = 'url';
	} else if (envPassword !== undefined && envPassword !== '') {
		password = envPassword;
		passwordSource = 'PGPASSWORD';
	} else {
		const file = opts.pgpassPath ?? parts.passfile ?? envOf('PGPASSFILE') ?? defaultPgpassPath(env);
		password = passwordFromPgpass(file, {host, port, database, user}, message => {
			passfileIgnored = message;
			opts.onWarning?.(message);
		});
		if (password !== undefined) passwordSource = 'pgpass';
	}

	// Optional keys only when set, so deepEqual and JSON output stay clean.
	return {
		host,
		port,
		user,
		...(password !== undefined && {password}),
		database,
		...tls,
		source,
		...(passwordSource !== undefined && {passwordSource}),
		...(passfileIgnored !== undefined && {passfileIgnored}),
	};
}

function hostForDisplay(host: string): string {
	return host.includes(':') ? `[${host}]` : host;
}

/** `user:***@host:port/db`, or `user@host:port/db` without a password. */
export function redactTarget(t: Target): string {
	const secret = t.password !== undefined && t.password !== '' ? ':***' : '';
	return `${t.user}${secret}@${hostForDisplay(t.host)}:${t.port}/${t.database}`;
}

/**
 * Replaces passwords in any URLs or keyword strings inside `s` with `***`.
 * Errs towards hiding too much: in a URL everything from the user name's
 * colon to the last '@' of that word goes.
 */
export function redactDsn(s: string): string {
	return s
		.replace(/\S+/g, word => (word.includes('://') ? redactUrlsInWord(word) : word))
		.replace(/(?<![A-Za-z0-9_])([A-Za-z0-9_]*password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|(?:\\.|[^\s\\])+)/gi, '$1***');
}

// Index scans rather than one regex: a backtracking `:\S*@` goes quadratic on
// a long word full of "://" and no "@", and error text can hold anything.
function redactUrlsInWord(word: string): string {
	const lastAt = word.lastIndexOf('@');
	let out = '';
	let from = 0;
	for (;;) {
		const sep = word.indexOf('://', from);
		if (sep === -1) break;
		const start = sep + 3;
		if (lastAt < start) break;
		let i = start;
		while (i < lastAt && !':/?#'.includes(word[i]!)) i++;
		if (word[i] === ':' && i < lastAt) {
			out += word.slice(from, i + 1) + '***';
			from = lastAt;
		} else {
			out += word.slice(from, start);
			from = start;
		}
	}
	return out + word.slice(from);
}

const home = (env: NodeJS.ProcessEnv) => env.HOME || os.homedir();

/** The operating system's CA bundle, for tools whose libpq (before 16) does not know sslrootcert=system. */
export function systemCaBundle(): string | undefined {
	return ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem', '/etc/ssl/ca-bundle.pem'].find(f => fs.existsSync(f));
}

function readable(file: string, what: string, setting: string): void {
	try {
		fs.accessSync(file, fs.constants.R_OK);
	} catch {
		throw new UsageError(`${setting}: cannot read the ${what} ${file}`);
	}
}

/**
 * sslmode, sslrootcert, sslcert and sslkey as libpq settles them: the
 * connection string, else PGSSLMODE/PGSSLROOTCERT/PGSSLCERT/PGSSLKEY, else
 * ~/.postgresql/root.crt, postgresql.crt and postgresql.key when they exist.
 * A root certificate makes sslmode=require verify the chain (verify-ca), as
 * libpq does; sslrootcert=system allows only verify-full (libpq 16), and
 * makes it the default. Files are checked here, so a wrong path is a usage
 * error before any connection, and a private key others can read is refused
 * as libpq refuses it.
 */
function resolveTls(parts: Parts, envOf: (name: string) => string | undefined, env: NodeJS.ProcessEnv): Pick<Target, 'sslmode' | 'sslrootcert' | 'sslcert' | 'sslkey'> {
	let sslmode = parts.sslmode;
	if (sslmode === undefined) {
		const v = envOf('PGSSLMODE');
		if (v !== undefined) {
			try {
				sslmode = checkSslmode(v);
			} catch (err) {
				if (err instanceof SyntaxProblem) throw new UsageError(`invalid PGSSLMODE: ${err.message}`);
				throw err;
			}
		}
	}
	const dotDir = path.join(home(env), '.postgresql');
	const orDefault = (file: string) => (fs.existsSync(path.join(dotDir, file)) ? path.join(dotDir, file) : undefined);
	const explicitRoot = parts.sslrootcert ?? envOf('PGSSLROOTCERT');
	const sslrootcert = explicitRoot ?? orDefault('root.crt');
	const sslcert = parts.sslcert ?? envOf('PGSSLCERT') ?? orDefault('postgresql.crt');
	const sslkey = parts.sslkey ?? envOf('PGSSLKEY') ?? (sslcert ? orDefault('postgresql.key') : undefined);
	if (sslrootcert === 'system') {
		sslmode ??= 'verify-full';
		if (sslmode !== 'verify-full') throw new UsageError(`sslrootcert=system: sslmode "${sslmode}" may not be used with it (use verify-full, as libpq does)`);
	} else if (sslrootcert !== undefined) {
		if (explicitRoot !== undefined) readable(sslrootcert, 'root certificate file', 'sslrootcert');
		// libpq: with a root certificate, require verifies the chain like verify-ca
		if (sslmode === 'require') sslmode = 'verify-ca';
	}
	if (sslcert !== undefined) {
		readable(sslcert, 'client certificate file', 'sslcert');
		if (sslkey === undefined) throw new UsageError(`sslcert ${sslcert}: give its private key with sslkey (or PGSSLKEY)`);
	}
	if (sslkey !== undefined) {
		readable(sslkey, 'private key file', 'sslkey');
		const st = fs.statSync(sslkey);
		// libpq's rule: u=rw or less when the key is ours, u=rw,g=r or less when root owns it
		const loose = st.uid === 0 && st.uid !== process.getuid?.() ? (st.mode & 0o037) !== 0 : (st.mode & 0o077) !== 0;
		if (loose) throw new UsageError(`sslkey ${sslkey}: private key file has group or world access; it must be mode 0600 or less (chmod 600 ${sslkey})`);
	}
	return {
		...(sslmode !== undefined && {sslmode}),
		...(sslrootcert !== undefined && {sslrootcert}),
		...(sslcert !== undefined && {sslcert}),
		...(sslkey !== undefined && {sslkey}),
	};
}

export type PgConfigExtra = {
	applicationName?: string;
	connectTimeoutMs?: number;
	statementTimeoutMs?: number;
	lockTimeoutMs?: number;
};

// libpq's "prefer" and "allow" try one mode and fall back to the other;
// node-postgres cannot retry like that, so they mean no SSL, as the old
// libpq default "prefer" does against a server without SSL. Users who need
// encryption say require or verify-*. Unix sockets never use SSL in libpq.
function sslFor(t: Target): ClientConfig['ssl'] {
	if (t.host.startsWith('/')) return false;
	const client = t.sslcert && t.sslkey ? {cert: fs.readFileSync(t.sslcert), key: fs.readFileSync(t.sslkey)} : {};
	// The given root replaces Node's bundle, as libpq trusts only its root file. "system", or no root
	// at all (where libpq would refuse verify-*), is the operating system's bundle: the file the tools get too.
	const root = t.sslrootcert && t.sslrootcert !== 'system' ? t.sslrootcert : systemCaBundle();
	const ca = root ? {ca: fs.readFileSync(root)} : {};
	switch (t.sslmode) {
		case 'require':
			return {rejectUnauthorized: false, ...client};
		case 'verify-ca':
			// the chain is checked, the host name is not
			return {rejectUnauthorized: true, checkServerIdentity: () => undefined, ...ca, ...client};
		case 'verify-full':
			return {rejectUnauthorized: true, ...ca, ...client};
		default:
			return false;
	}
}

function millis(v: number | undefined): number | undefined {
	return v === undefined || !Number.isFinite(v) || v < 0 ? undefined : Math.round(v);
}

// Without a password node-postgres would fall back to the real PGPASSWORD
// and its own (deprecated, stderr-warning) pgpass reader, second-guessing
// resolveTarget. Failing like libpq does keeps the outcome ours; it only
// runs if the server actually asks for a password.
function noPassword(): string {
	throw new Error('fe_sendauth: no password supplied');
}

export function pgConfig(t: Target, extra: PgConfigExtra = {}): ClientConfig {
	const config: ClientConfig = {
		host: t.host,
		port: t.port,
		user: t.user,
		password: t.password !== undefined && t.password !== '' ? t.password : noPassword,
		database: t.database,
		application_name: extra.applicationName ?? 'intowork-db',
		connectionTimeoutMillis: millis(extra.connectTimeoutMs) ?? 10_000,
		ssl: sslFor(t),
	};
	// Startup options rather than SET: they hold before our first query and
	// survive a RESET ALL.
	const options: string[] = [];
	const statementTimeout = millis(extra.statementTimeoutMs);
	const lockTimeout = millis(extra.lockTimeoutMs);
	if (statementTimeout !== undefined) options.push(`-c statement_timeout=${statementTimeout}`);
	if (lockTimeout !== undefined) options.push(`-c lock_timeout=${lockTimeout}`);
	if (options.length > 0) config.options = options.join(' ');
	return config;
}

/** The TLS settings as a URL query ("" when none), for URLs handed to other programs. */
export function tlsQuery(t: Target): string {
	const pairs = (['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const).filter(k => t[k] !== undefined).map(k => `${k}=${encodeURIComponent(t[k]!)}`);
	return pairs.length ? `?${pairs.join('&')}` : '';
}

/** Environment for pg_dump/psql, so the password never appears in argv. */
export function libpqEnv(t: Target): Record<string, string> {
	const env: Record<string, string> = {
		PGHOST: t.host,
		PGPORT: String(t.port),
		PGUSER: t.user,
		PGDATABASE: t.database,
	};
	if (t.password !== undefined && t.password !== '') env.PGPASSWORD = t.password;
	if (t.sslmode !== undefined) env.PGSSLMODE = t.sslmode;
	// libpq before 16 reads "system" as a file name: the same store, by its path; and verify-* without a root
	// trusts what the console trusts rather than failing on a missing ~/.postgresql/root.crt
	const verifies = t.sslmode === 'verify-ca' || t.sslmode === 'verify-full';
	const root = t.sslrootcert === 'system' || (t.sslrootcert === undefined && verifies) ? systemCaBundle() : t.sslrootcert;
	if (root !== undefined) env.PGSSLROOTCERT = root;
	if (t.sslcert !== undefined) env.PGSSLCERT = t.sslcert;
	if (t.sslkey !== undefined) env.PGSSLKEY = t.sslkey;
	return env;
}
