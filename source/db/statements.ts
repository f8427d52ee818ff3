import pg from 'pg';
import {RingBuffer} from '../ring-buffer.js';
import {tokenize} from '../format-sql.js';
import type {LoadContext, Loader} from '../store/poller.js';
import {detectCapabilities, type Capabilities} from './capabilities.js';
import {pgConfig, type Target} from './dsn.js';
import type {Queryable} from './monitor.js';
import {quoteIdent, quoteLiteral} from './sql.js';
import {errorText} from '../errors.js';

export type StatementsCaps = Capabilities['statements'];

/** Extension versions compare part by part: 1.10 is after 1.9. */
export function versionAtLeast(version: string, wanted: string): boolean {
	const a = version.split('.').map(Number);
	const b = wanted.split('.').map(Number);
	for (let i = 0; i < Math.max(a.length, b.length); i++) {
		const d = (a[i] ?? 0) - (b[i] ?? 0);
		if (d !== 0) return d > 0;
	}
	return true;
}

/** What pg_stat_statements says about one statement, cumulative since its entry was created or reset. */
export type Statement = {
	/** pg_stat_statements' identity: user, query id, top level or nested */
	key: string;
	userid: number;
	role: string | null;
	queryid: string;
	/** false: run inside a function (pg_stat_statements.track = all) */
	toplevel: boolean;
	/** the normalized text, cut for the list (Enter reads it whole) */
	text: string;
	calls: number;
	totalMs: number;
	meanMs: number;
	maxMs: number;
	stddevMs: number;
	rows: number;
	sharedHit: number;
	sharedRead: number;
	/** block read and write time; 0 unless track_io_timing is on */
	ioMs: number;
	/** stats_since (1.11+): a change means the entry was evicted or reset and started again */
	since?: number;
	/** this many entries of another role summed: without pg_read_all_stats their texts and query ids are hidden */
	hidden?: number;
	/** pg_stat_statements would not give its text (StatementsReady.textsError says why); asked again on the next refresh */
	unreadable?: boolean;
};

/** One statement over the last refresh interval. */
export type IntervalStatement = {
	key: string;
	calls: number;
	totalMs: number;
	meanMs: number;
	rows: number;
	sharedHit: number;
	sharedRead: number;
	ioMs: number;
	callsPerSecond: number;
	/** milliseconds of execution per second of wall time: 1000 is one backend busy all the time */
	msPerSecond: number;
};

export type Probe = {
	serverTime: number;
	dbid: number;
	database: string;
	/** installed extension version in this database */
	version?: string;
	schema?: string;
	preloaded: boolean;
	/** shared_preload_libraries as set; undefined when this role may not read it */
	preload?: string;
	startedAt: number;
	/** pg_stat_statements.track; undefined when the library is not loaded */
	track?: string;
	max?: number;
	ioTiming: boolean;
};

export type Load = {at: number; msPerSecond: number; callsPerSecond: number};

export type StatementsUnavailable = {
	kind: 'unavailable';
	caps: StatementsCaps;
	probe: Probe;
	fix: string[];
};

export type StatementsReady = {
	kind: 'ready';
	caps: StatementsCaps;
	probe: Probe;
	version: string;
	schema: string;
	/** set when the extension is older than the server's (created before an upgrade) */
	fix?: string[];
	/** pg_stat_statements_info (1.9+): entries evicted for room, and when everything was last reset */
	info?: {dealloc: number; statsReset?: number};
	statements: Statement[];
	/** from the second sample on */
	interval?: {
		seconds: number;
		statements: IntervalStatement[];
		/** entries evicted during the interval: pg_stat_statements.max is too small */
		evicted?: number;
	};
	/** database-wide execution time and calls per second, newest last */
	load: RingBuffer<Load>;
	/** texts this role may not read (another role's statements, without pg_read_all_stats) */
	hiddenTexts: number;
	/** why the texts of new statements could not be read this time (the numbers still were) */
	textsError?: string;
	/** the SQL_ASCII database through which texts were read as bytes, because this database's connection could not convert them */
	textsVia?: string;
};

export type StatementsData = StatementsUnavailable | StatementsReady;

const hiddenText = '<insufficient privilege>';
const listTextLength = 500;
const loadHistory = 120;

const probeSql = `
SELECT now() AS server_time, d.oid AS dbid, d.datname AS database,
	e.extversion AS version, n.nspname AS schema,
	-- readable by superusers and pg_read_all_settings only: NULL for other roles rather than an error
	-- (pg_settings builds a row for every setting on each call to show this one)
	CASE WHEN pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') THEN current_setting('shared_preload_libraries') END AS preload,
	pg_postmaster_start_time() AS started_at,
	current_setting('pg_stat_statements.track', true) AS track,
	-- the library defines its settings only when loaded at server start, and every role may read them
	current_setting('pg_stat_statements.max', true) AS max,
	current_setting('track_io_timing') = 'on' AS io_timing
FROM pg_database d
LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE d.datname = current_database()`;

type ProbeRow = {
	server_time: Date;
	dbid: number;
	database: string;
	version: string | null;
	schema: string | null;
	preload: string | null;
	started_at: Date;
	track: string | null;
	max: string | null;
	io_timing: boolean;
};

const toplevelColumn = (version: string) => (versionAtLeast(version, '1.9') ? 's.toplevel' : 'true');

/**
 * The numbers, without texts (showtext false: the texts file is not read on
 * every refresh). Column names follow the extension version: *_time became
 * *_exec_time in 1.8, blk_*_time became shared_/local_blk_*_time in 1.11.
 */
function statementsSql(version: string, schema: string): string {
	const exec = versionAtLeast(version, '1.8');
	const time = (stat: string) => (exec ? `s.${stat}_exec_time` : `s.${stat}_time`);
	const io = versionAtLeast(version, '1.11')
		? 's.shared_blk_read_time + s.shared_blk_write_time + s.local_blk_read_time + s.local_blk_write_time'
		: 's.blk_read_time + s.blk_write_time';
	const since = versionAtLeast(version, '1.11') ? 's.stats_since' : 'NULL::timestamptz';
	return `SELECT s.userid, r.rolname, s.queryid::text AS queryid, ${toplevelColumn(version)} AS toplevel, s.calls,
	${time('total')} AS total_ms, ${time('mean')} AS mean_ms, ${time('max')} AS max_ms, ${time('stddev')} AS stddev_ms,
	s.rows, s.shared_blks_hit, s.shared_blks_read, ${io} AS io_ms, ${since} AS since
FROM ${quoteIdent(schema)}.pg_stat_statements(false) s
LEFT JOIN pg_roles r ON r.oid = s.userid
WHERE s.dbid = $1`;
}

/** Texts of the given query ids: run only for statements new since the last refresh. */
function textsSql(version: string, schema: string): string {
	return `SELECT s.userid, s.queryid::text AS queryid, ${toplevelColumn(version)} AS toplevel, left(s.query, $3) AS query
FROM ${quoteIdent(schema)}.pg_stat_statements(true) s
WHERE s.dbid = $1 AND s.queryid = ANY ($2::bigint[])`;
}

/**
 * The same texts as their bytes in hex, for a connection to a SQL_ASCII
 * database: there pg_stat_statements checks no text against an encoding, and
 * hex keeps the bytes out of the conversion to the client's. left() counts
 * bytes there, so $3 allows four per character.
 */
function textBytesSql(version: string, schema: string): string {
	return `SELECT s.userid, s.queryid::text AS queryid, ${toplevelColumn(version)} AS toplevel, encode(convert_to(left(s.query, $3), 'SQL_ASCII'), 'hex') AS query
FROM ${quoteIdent(schema)}.pg_stat_statements(true) s
WHERE s.dbid = $1 AND s.queryid = ANY ($2::bigint[])`;
}

function infoSql(schema: string): string {
	return `SELECT dealloc, stats_reset FROM ${quoteIdent(schema)}.pg_stat_statements_info`;
}

type StatementRow = {
	userid: number;
	rolname: string | null;
	/** null for other roles' entries without pg_read_all_stats */
	queryid: string | null;
	toplevel: boolean;
	calls: string;
	total_ms: number;
	mean_ms: number;
	max_ms: number;
	stddev_ms: number;
	rows: string;
	shared_blks_hit: string;
	shared_blks_read: string;
	io_ms: number | null;
	since: Date | null;
};

const statementKey = (userid: number, queryid: string, toplevel: boolean) => `${userid}/${queryid}/${toplevel ? 'top' : 'nested'}`;

/** The exact steps for an operator, from the state and what this server has configured. */
function fixSteps(caps: StatementsCaps, probe: Probe): string[] {
	const inDatabase = `in database ${probe.database}`;
	switch (caps.state) {
		case 'not-preloaded': {
			// Keep what is already preloaded: setting only pg_stat_statements would unload the rest at the restart.
			// One literal per library: a single 'a, b' literal is taken as one library named "a, b".
			const libraries = (probe.preload ?? '')
				.split(',')
				.map(s => s.trim().replace(/^"|"$/g, ''))
				.filter(s => s && s !== 'pg_stat_statements');
			const set = `ALTER SYSTEM SET shared_preload_libraries = ${[...libraries, 'pg_stat_statements'].map(quoteLiteral).join(', ')};`;
			return [
				probe.preload === undefined ? `add pg_stat_statements to shared_preload_libraries (this role cannot read its current value), e.g. ${set}` : set,
				'then restart PostgreSQL (a reload is not enough)',
				...(probe.version ? [] : [`then, ${inDatabase}: CREATE EXTENSION pg_stat_statements;`]),
			];
		}
		case 'not-created':
			return [`CREATE EXTENSION pg_stat_statements;  -- ${inDatabase}, as a superuser`];
		case 'outdated':
			return [`ALTER EXTENSION pg_stat_statements UPDATE;  -- ${inDatabase}: ${caps.version} -> ${caps.availableVersion}`];
		default:
			return caps.fix ? [caps.fix] : [];
	}
}

async function probe(db: Queryable): Promise<Probe> {
	const r = await db.query<ProbeRow>(probeSql);
	const row = r.rows[0];
	if (!row) throw new Error('this database is missing from pg_database');
	return {
		serverTime: new Date(row.server_time).getTime(),
		dbid: row.dbid,
		database: row.database,
		version: row.version ?? undefined,
		schema: row.schema ?? undefined,
		preloaded: row.max !== null,
		preload: row.preload ?? undefined,
		startedAt: new Date(row.started_at).getTime(),
		track: row.track ?? undefined,
		max: row.max === null ? undefined : Number(row.max),
		ioTiming: row.io_timing,
	};
}

/**
 * The extension's state as of now: CREATE EXTENSION, ALTER EXTENSION UPDATE or
 * a restart with new settings show up on the next refresh, without
 * reconnecting, while unchanged polls cost nothing extra.
 */
async function currentCaps(ctx: LoadContext, p: Probe, previous: StatementsData | undefined): Promise<StatementsCaps> {
	const fingerprint = (x: Pick<Probe, 'version' | 'preloaded' | 'startedAt'>) => `${x.version ?? ''}|${x.preloaded}|${x.startedAt}`;
	const known = previous
		? fingerprint(previous.probe) === fingerprint(p) && previous.caps
		: fingerprint({...ctx.caps.statements, startedAt: new Date(ctx.caps.startedAt).getTime()}) === fingerprint(p) && ctx.caps.statements;
	return known || (await detectCapabilities(ctx.db)).statements;
}

function statementOf(row: StatementRow & {queryid: string}, text: string): Statement {
	return {
		key: statementKey(row.userid, row.queryid, row.toplevel),
		userid: row.userid,
		role: row.rolname,
		queryid: row.queryid,
		toplevel: row.toplevel,
		text,
		calls: Number(row.calls),
		totalMs: row.total_ms,
		meanMs: row.mean_ms,
		maxMs: row.max_ms,
		stddevMs: row.stddev_ms,
		rows: Number(row.rows),
		sharedHit: Number(row.shared_blks_hit),
		sharedRead: Number(row.shared_blks_read),
		ioMs: row.io_ms ?? 0,
		since: row.since ? new Date(row.since).getTime() : undefined,
	};
}

// invalid byte sequence, and a character with no equivalent in this database's encoding
const encodingErrors = new Set(['22021', '22P05']);
export const isEncodingError = (error: unknown) => {
	const code = (error as {code?: unknown} | undefined)?.code;
	return typeof code === 'string' && encodingErrors.has(code);
};

/**
 * Bytes as text: valid UTF-8 as it is, every other byte as \xNN. A SQL_ASCII
 * database stores whatever bytes it was sent; nothing here can fail.
 */
export function bytesText(bytes: Uint8Array): string {
	let out = '';
	let run = 0; // start of the valid UTF-8 not yet copied
	const continuation = (i: number, low = 0x80, high = 0xbf) => i < bytes.length && bytes[i]! >= low && bytes[i]! <= high;
	let i = 0;
	while (i < bytes.length) {
		const b = bytes[i]!;
		let n = 0;
		if (b < 0x80) n = 1;
		// the second byte's range rules out overlong forms, surrogates and code points past U+10FFFF
		else if (b >= 0xc2 && b <= 0xdf) n = continuation(i + 1) ? 2 : 0;
		else if (b >= 0xe0 && b <= 0xef)
			n = continuation(i + 1, b === 0xe0 ? 0xa0 : 0x80, b === 0xed ? 0x9f : 0xbf) && continuation(i + 2) ? 3 : 0;
		else if (b >= 0xf0 && b <= 0xf4)
			n = continuation(i + 1, b === 0xf0 ? 0x90 : 0x80, b === 0xf4 ? 0x8f : 0xbf) && continuation(i + 2) && continuation(i + 3) ? 4 : 0;
		if (n > 0) {
			i += n;
			continue;
		}
		out += Buffer.from(bytes.subarray(run, i)).toString('utf8') + `\\x${b.toString(16).padStart(2, '0')}`;
		i++;
		run = i;
	}
	return out + Buffer.from(bytes.subarray(run)).toString('utf8');
}

const sqlAsciiDatabasesSql = `SELECT d.datname, d.datname = current_database() AS current FROM pg_database d
WHERE d.encoding = pg_char_to_encoding('SQL_ASCII') AND d.datallowconn AND NOT d.datistemplate AND has_database_privilege(d.oid, 'CONNECT')
ORDER BY current DESC, d.datname
LIMIT 3`;
/** The schema pg_stat_statements is created in, on this connection's database (undefined: not created there). */
export async function statementsSchema(db: Queryable): Promise<string | undefined> {
	const r = await db.query<{schema: string}>(`SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'`);
	return r.rows[0]?.schema;
}
const sideTimeoutMs = 5000;

/**
 * In a SQL_ASCII database PostgreSQL checks no text it reads against an
 * encoding, so there pg_stat_statements gives every entry's bytes as they
 * are. Runs `read` on this connection when its database is one, else on a
 * connection of its own to one (same settings, only the database changed,
 * its own timeouts), closed at once. Up to three databases are tried; the
 * result says which one served, or why none could.
 */
export async function throughSqlAscii<T>(
	db: Queryable,
	target: Target | undefined,
	read: (via: Queryable, schema: string) => Promise<T>,
): Promise<{value: T; via: string} | {error: string}> {
	const databases = (await db.query<{datname: string; current: boolean}>(sqlAsciiDatabasesSql)).rows;
	if (databases.length === 0) return {error: 'no SQL_ASCII database this role may connect to, through which to read them as bytes'};
	const why: string[] = [];
	for (const {datname: name, current} of databases) {
		if (current) {
			const schema = await statementsSchema(db);
			if (schema) return {value: await read(db, schema), via: name};
			why.push(`${name}: pg_stat_statements is not created there`);
			continue;
		}
		if (!target) {
			why.push(`${name}: this console has no connection settings to reach it`);
			continue;
		}
		const config = pgConfig({...target, database: name}, {applicationName: 'intowork-db texts', connectTimeoutMs: sideTimeoutMs, statementTimeoutMs: sideTimeoutMs, lockTimeoutMs: 1000});
		const client = new pg.Client({...config, query_timeout: sideTimeoutMs + 2000});
		client.on('error', () => undefined);
		try {
			await client.connect();
			const schema = await statementsSchema(client);
			if (schema) return {value: await read(client, schema), via: name};
			why.push(`${name}: CREATE EXTENSION pg_stat_statements there lets the console read them`);
		} catch (error) {
			why.push(`${name}: ${errorText(error)}`);
		} finally {
			await client.end().catch(() => undefined);
		}
	}
	return {error: `no SQL_ASCII database served them as bytes (${why.join('; ')})`};
}

type TextRow = {userid: number; queryid: string; toplevel: boolean; query: string | null};

async function readTexts(
	ctx: LoadContext,
	version: string,
	schema: string,
	dbid: number,
	queryids: string[],
): Promise<{texts: Map<string, string>; error?: string; via?: string}> {
	const texts = new Map<string, string>();
	if (queryids.length === 0) return {texts};
	try {
		const r = await ctx.db.query<TextRow>(textsSql(version, schema), [dbid, queryids, listTextLength]);
		for (const row of r.rows) texts.set(statementKey(row.userid, row.queryid, row.toplevel), row.query ?? '');
		return {texts};
	} catch (error) {
		// pg_stat_statements converts the text of every entry on the server to this database's encoding
		// before anything filters them (and the server converts what it sends to the client's), so one
		// statement from a SQL_ASCII database holding bytes that are not UTF-8 fails the call for all
		// texts, whatever SQL wraps it. The numbers come from the call without texts, which never
		// converts; the texts come as bytes through a SQL_ASCII database, or the screen says why not.
		if (!isEncodingError(error)) throw error;
		const message = errorText(error);
		const bytes = await throughSqlAscii(ctx.db, ctx.target, async (db, viaSchema) => {
			const r = await db.query<TextRow>(textBytesSql(version, viaSchema), [dbid, queryids, listTextLength * 4]);
			return r.rows;
		});
		if ('error' in bytes) return {texts, error: `${message}; ${bytes.error}`};
		for (const row of bytes.value) texts.set(statementKey(row.userid, row.queryid, row.toplevel), [...bytesText(Buffer.from(row.query ?? '', 'hex'))].slice(0, listTextLength).join(''));
		return {texts, via: bytes.via};
	}
}

/**
 * Other roles' entries without pg_read_all_stats have neither text nor query
 * id, so they cannot be told apart; their cost still counts, summed per role
 * under a key that stays the same from one refresh to the next.
 */
function hiddenPerRole(rows: readonly StatementRow[]): Statement[] {
	const byRole = new Map<number, Statement>();
	for (const row of rows) {
		const s = statementOf({...row, queryid: 'hidden', toplevel: true}, hiddenText);
		const sum = byRole.get(row.userid);
		byRole.set(
			row.userid,
			sum
				? {
						...sum,
						calls: sum.calls + s.calls,
						totalMs: sum.totalMs + s.totalMs,
						maxMs: Math.max(sum.maxMs, s.maxMs),
						rows: sum.rows + s.rows,
						sharedHit: sum.sharedHit + s.sharedHit,
						sharedRead: sum.sharedRead + s.sharedRead,
						ioMs: sum.ioMs + s.ioMs,
						hidden: (sum.hidden ?? 0) + 1,
					}
				: {...s, since: undefined, hidden: 1},
		);
	}
	// a mean of the sums; the spread of several statements together means nothing
	return [...byRole.values()].map(s => ({...s, meanMs: s.calls > 0 ? s.totalMs / s.calls : 0, stddevMs: Number.NaN}));
}

const zero = {calls: 0, totalMs: 0, rows: 0, sharedHit: 0, sharedRead: 0, ioMs: 0};

/** What ran between two samples; statements that did not run are left out. */
export function intervalStatements(current: readonly Statement[], previous: readonly Statement[], seconds: number): IntervalStatement[] {
	const before = new Map(previous.map(s => [s.key, s]));
	const out: IntervalStatement[] = [];
	for (const s of current) {
		const old = before.get(s.key);
		// new, evicted and re-added, or reset: everything it has counted is from this interval
		const restarted = !old || s.calls < old.calls || s.since !== old.since;
		const base = restarted ? zero : old;
		const calls = s.calls - base.calls;
		if (calls <= 0) continue;
		const totalMs = Math.max(0, s.totalMs - base.totalMs);
		out.push({
			key: s.key,
			calls,
			totalMs,
			meanMs: totalMs / calls,
			rows: s.rows - base.rows,
			sharedHit: s.sharedHit - base.sharedHit,
			sharedRead: s.sharedRead - base.sharedRead,
			ioMs: Math.max(0, s.ioMs - base.ioMs),
			callsPerSecond: calls / seconds,
			msPerSecond: totalMs / seconds,
		});
	}
	return out;
}

export const loadStatements: Loader<StatementsData> = async (ctx, previous) => {
	const p = await probe(ctx.db);
	const caps = await currentCaps(ctx, p, previous);
	const {version, schema} = p;
	if ((caps.state !== 'ok' && caps.state !== 'outdated') || !version || !schema) {
		// a known state, rendered as such: no error on every refresh
		return {kind: 'unavailable', caps, probe: p, fix: fixSteps(caps, p)};
	}
	const r = await ctx.db.query<StatementRow>(statementsSql(version, schema), [p.dbid]);
	const visible = r.rows.filter((row): row is StatementRow & {queryid: string} => row.queryid !== null);
	const ready = previous?.kind === 'ready' && previous.version === version ? previous : undefined;
	const known = new Map(ready?.statements.filter(s => !s.unreadable).map(s => [s.key, s.text]));
	const missing = [...new Set(visible.filter(row => !known.has(statementKey(row.userid, row.queryid, row.toplevel))).map(row => row.queryid))];
	const {texts, error: textsError, via} = await readTexts(ctx, version, schema, p.dbid, missing);
	const statements = visible.map(row => {
		const key = statementKey(row.userid, row.queryid, row.toplevel);
		const text = known.get(key) ?? texts.get(key);
		return text === undefined && textsError ? {...statementOf(row, ''), unreadable: true} : statementOf(row, text ?? '');
	});
	const hidden = hiddenPerRole(r.rows.filter(row => row.queryid === null));
	statements.push(...hidden);
	let info: StatementsReady['info'];
	if (versionAtLeast(version, '1.9')) {
		const i = await ctx.db.query<{dealloc: string; stats_reset: Date | null}>(infoSql(schema));
		const row = i.rows[0];
		if (row) info = {dealloc: Number(row.dealloc), statsReset: row.stats_reset ? new Date(row.stats_reset).getTime() : undefined};
	}
	let interval: StatementsReady['interval'];
	let load = RingBuffer.from(ready?.load, loadHistory);
	const seconds = ready ? (p.serverTime - ready.probe.serverTime) / 1000 : 0;
	if (ready && seconds > 0) {
		const list = intervalStatements(statements, ready.statements, seconds);
		const evicted = info && ready.info ? info.dealloc - ready.info.dealloc : undefined;
		interval = {seconds, statements: list, evicted: evicted !== undefined && evicted > 0 ? evicted : undefined};
		const sum = (f: (s: IntervalStatement) => number) => list.reduce((n, s) => n + f(s), 0);
		load = load.push({at: p.serverTime, msPerSecond: sum(s => s.msPerSecond), callsPerSecond: sum(s => s.callsPerSecond)});
	}
	return {
		kind: 'ready',
		caps,
		probe: p,
		version,
		schema,
		fix: caps.state === 'outdated' ? fixSteps(caps, p) : undefined,
		info,
		statements,
		interval,
		load,
		hiddenTexts: hidden.reduce((n, s) => n + (s.hidden ?? 0), 0) + statements.filter(s => !s.hidden && s.text === hiddenText).length,
		textsError,
		// texts kept from earlier refreshes came through the same database
		textsVia: missing.length > 0 ? via : ready?.textsVia,
	};
};

/** The whole normalized text of one statement, for the detail view; as bytes through a SQL_ASCII database when it must be. */
export async function statementText(db: Queryable, data: StatementsReady, s: Statement, target?: Target): Promise<string | undefined> {
	const toplevel = versionAtLeast(data.version, '1.9') ? ' AND s.toplevel = $4' : '';
	const params: unknown[] = [data.probe.dbid, s.userid, s.queryid];
	if (toplevel) params.push(s.toplevel);
	const sql = (schema: string, query: string) =>
		`SELECT ${query} AS query FROM ${quoteIdent(schema)}.pg_stat_statements(true) s WHERE s.dbid = $1 AND s.userid = $2 AND s.queryid = $3::bigint${toplevel}`;
	try {
		const r = await db.query<{query: string | null}>(sql(data.schema, 's.query'), params);
		return r.rows[0]?.query ?? undefined;
	} catch (error) {
		if (!isEncodingError(error)) throw error;
		const bytes = await throughSqlAscii(db, target, async (via, schema) => {
			const r = await via.query<{query: string | null}>(sql(schema, "encode(convert_to(s.query, 'SQL_ASCII'), 'hex')"), params);
			return r.rows[0]?.query ?? undefined;
		});
		if ('error' in bytes) throw error;
		return bytes.value === undefined ? undefined : bytesText(Buffer.from(bytes.value, 'hex'));
	}
}

/**
 * The statement without a trailing ';', or undefined when the text holds more
 * than one statement: a second one could COMMIT out of the read-only
 * transaction and write.
 */
export function singleStatement(text: string): string | undefined {
	const trimmed = text.trim();
	const tokens = tokenize(trimmed);
	const semicolons = tokens.filter(t => t.kind === 'semicolon').length;
	if (tokens.length === 0 || semicolons > 1 || (semicolons === 1 && tokens[tokens.length - 1]!.kind !== 'semicolon')) return undefined;
	return semicolons ? trimmed.slice(0, trimmed.lastIndexOf(';')) : trimmed;
}

const plannable = new Set(['select', 'with', 'insert', 'update', 'delete', 'merge', 'values', 'table']);

export type GenericPlan = {plan: string[]} | {unavailable: string} | {error: string};

/**
 * EXPLAIN (GENERIC_PLAN) of a normalized text ($1 placeholders, PostgreSQL
 * 16+). Planning alone can run functions (constant folding), so it runs in a
 * read-only transaction with its own statement timeout, as one query string
 * so that nothing else on the monitor connection lands inside that
 * transaction, and the implicit transaction ends with the string even when
 * EXPLAIN fails.
 */
export async function genericPlan(db: Queryable, major: number, text: string, timeoutMs = 2000): Promise<GenericPlan> {
	if (major < 16) return {unavailable: `generic plans need PostgreSQL 16 or later (this is ${major})`};
	if (text === hiddenText) return {unavailable: "the text is another role's: GRANT pg_read_all_stats to see it"};
	const statement = singleStatement(text);
	if (!statement) return {unavailable: 'the text is not exactly one statement'};
	const keyword = tokenize(statement)
		.find(t => t.kind !== 'comment')
		?.text.toLowerCase();
	if (!keyword || !plannable.has(keyword)) return {unavailable: `${(keyword ?? 'this').toUpperCase()} statements have no plan`};
	try {
		const r = (await db.query(`SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = ${Math.max(1, Math.round(timeoutMs))}; EXPLAIN (GENERIC_PLAN) ${statement}`)) as unknown as
			| pg.QueryResult
			| pg.QueryResult[];
		const results = Array.isArray(r) ? r : [r];
		const rows = (results[results.length - 1]?.rows ?? []) as Array<{'QUERY PLAN': string}>;
		return {plan: rows.map(row => row['QUERY PLAN'])};
	} catch (error) {
		return {error: errorText(error)};
	}
}

/** What to grant when the reset is refused: the signature changed in 1.11. */
export function resetGrant(version: string, schema: string, role: string): string {
	const args = versionAtLeast(version, '1.11') ? 'oid, oid, bigint, boolean' : 'oid, oid, bigint';
	return `GRANT EXECUTE ON FUNCTION ${quoteIdent(schema)}.pg_stat_statements_reset(${args}) TO ${quoteIdent(role)};`;
}

/**
 * pg_stat_statements_reset for this database only (other databases on the
 * server keep their statistics). Before 1.7 the function takes no arguments
 * and resets the whole server, so it is refused.
 */
export async function resetStatements(db: Queryable, data: StatementsReady): Promise<void> {
	if (!versionAtLeast(data.version, '1.7'))
		throw new Error(`pg_stat_statements ${data.version} can only reset every database at once; ALTER EXTENSION pg_stat_statements UPDATE first`);
	await db.query(`SELECT ${quoteIdent(data.schema)}.pg_stat_statements_reset(0::oid, $1::oid, 0::bigint)`, [data.probe.dbid]);
}
