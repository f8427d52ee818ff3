import assert from 'node:assert/strict';
import {spawn, type ChildProcess} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import pg from 'pg';
import stringWidth from 'string-width';
import {findPgTools} from '../source/actions/backup/pg-tools.js';
import {appQueries, appQueryContext} from '../source/db/app-queries.js';
import {findLatencyEntries, sampleLatency} from '../source/db/sampler.js';
import {loadStatements, statementText, type StatementsReady} from '../source/db/statements.js';
import {openTerminal, type Terminal} from '../scripts/terminal.js';
import {startCluster, stopCluster, templateDatabase} from './helpers/cluster.js';
import {runCli} from './helpers/cli.js';
import {waitFor} from './helpers/db.js';
import {see} from './helpers/operator.js';
import {loadContext} from './statements-helpers.js';

// Role names, database names, application_name and query texts full of terminal escapes, C1
// controls, bidi overrides, invisible characters and wide characters, and a SQL_ASCII database
// with bytes that are not UTF-8, on a real server; the built CLI in tmux, every byte it writes
// recorded. Role and database names are the whole cluster's and a SQL_ASCII statement in
// pg_stat_statements breaks texts for every database, so this file runs its own server.

const ESC = '\u001b';
const BEL = '\u0007';
const ST = `${ESC}\\`;
/** Everything that could act on a terminal. The marker PWNED is only ever inside a sequence: its payload must never show. */
const payloads = {
	oscBel: `${ESC}]0;PWNED-osc${BEL}`,
	oscSt: `${ESC}]2;PWNED-st${ST}`,
	osc52: `${ESC}]52;c;UFdORUQ=${BEL}`,
	csi: `${ESC}[2J${ESC}[5;5H${ESC}[6n${ESC}[?1000h${ESC}[38;5;196m${ESC}[1;31m`,
	dcs: `${ESC}P1$qPWNED-dcs${ST}`,
	apc: `${ESC}_Gapc-PWNED${BEL}`,
	charset: `${ESC}(0${ESC}c\u000e`,
	c1: `\u009d0;PWNED-c1${'\u009c'}\u009b2J\u0090PWNED-c1dcs\u009c\u0085`,
	bidi: '\u202e\u2066gnp.exe\u2069\u202c',
	invisible: '\u200b\u200d\ufeff\u{e0041}\u{e0042}',
	surrogate: '\ud800',
	wide: '日本語🐘👩‍💻',
	unterminated: `${ESC}]0;PWNED-unterminated`,
};
const everything = Object.values(payloads).join(' ');
/** Over 10 kB of hostile text: every payload again and again, wide characters between. */
const tenKb = Array.from({length: 60}, (_, i) => `${i} ${Object.entries(payloads).filter(([k]) => k !== 'unterminated').map(([, v]) => v).join(' ')} 表`).join('\n');

// Identifiers hold at most 63 bytes.
const loginRole = `r${payloads.oscBel.replace('osc', 'r')}\u009d0;PWNED-c\u009c\u202e日🐘`;
const otherRole = `s${payloads.dcs}${payloads.bidi}${payloads.charset}`;
const hostileDb = `d${ESC}]2;PWNED-d${ST}\u009b31m${ESC}[6n\u200b\u{e0041}語`;
const asciiDb = `ascii${ESC}]0;PWNED-a${BEL}`;
const password = 'hostile-pw';
for (const name of [loginRole, otherRole, hostileDb, asciiDb]) assert.ok(Buffer.byteLength(name) <= 63, `${JSON.stringify(name)} fits an identifier`);

// Raw bytes, not UTF-8: 0x9b and 0x9d are the 8-bit CSI and OSC, 0xff is no character at all.
const rawBytes = Buffer.from([0x9b, 0x32, 0x4a, 0x9d, 0x30, 0x3b, ...Buffer.from('raw-bytes'), 0x9c, 0xff, 0xe9]);

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
const columnsTitle = ['Overview', 'Connections', 'Queries', 'Cache', 'Tables', 'Migration', 'Backups', 'Checklist', 'Activity'];

const server = await startCluster(15);
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-sanitize-'));
const env = {INTOWORK_DB_STATE: path.join(base, 'state'), INTOWORK_DB_CACHE: path.join(base, 'cache'), CI: 'true'};
const admin = new pg.Client({connectionString: server.url()});
admin.on('error', () => undefined);
const clients: pg.Client[] = [admin];
const monitors: Array<{close(): Promise<void>}> = [];
const children: ChildProcess[] = [];
async function cleanup() {
	for (const monitor of monitors) await monitor.close();
	await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = $1', ['client backend']).catch(() => undefined);
	for (const c of clients) await c.end().catch(() => undefined);
	for (const child of children) child.kill('SIGKILL');
	await stopCluster(server);
	fs.rmSync(base, {recursive: true, force: true});
}
after(cleanup);

const dsn = `postgresql://${encodeURIComponent(loginRole)}:${password}@127.0.0.1:${server.port}/${encodeURIComponent(hostileDb)}`;

async function connect(user: string, database: string, application: string): Promise<pg.Client> {
	// Not a URL: pg's own parser leaves %3B and friends in the database name.
	const client = new pg.Client({host: '127.0.0.1', port: server.port, user, password: user === server.user ? server.password : password, database, application_name: application});
	client.on('error', () => undefined);
	await client.connect();
	clients.push(client);
	return client;
}

// The server turns every byte of application_name outside printable ASCII into '?': what is left is plain text, without the marker.
const shown = (text: string) => text.replaceAll('PWNED', 'shown');

async function setup() {
	await admin.connect();
	await admin.query(`CREATE ROLE ${quoteIdent(loginRole)} LOGIN PASSWORD '${password}' IN ROLE pg_monitor, pg_signal_backend, pg_read_all_data`);
	await admin.query(`CREATE ROLE ${quoteIdent(otherRole)} LOGIN PASSWORD '${password}'`);
	await admin.query(`CREATE DATABASE ${quoteIdent(hostileDb)} TEMPLATE ${templateDatabase}`);
	await admin.query(`CREATE DATABASE ${quoteIdent(asciiDb)} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);

	// A table and an index with hostile names, for the Tables, Cache and Checklist screens.
	const owner = await connect(server.user, hostileDb, 'setup');
	const table = `t${payloads.oscBel}${payloads.c1.slice(0, 12)}表`;
	await owner.query(`CREATE TABLE ${quoteIdent(table)} (id int PRIMARY KEY, note text)`);
	await owner.query(`INSERT INTO ${quoteIdent(table)} SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g`);
	await owner.query(`CREATE INDEX ${quoteIdent(`i${payloads.dcs}${payloads.bidi}`)} ON ${quoteIdent(table)} (note)`);
	await owner.query(`ANALYZE ${quoteIdent(table)}`);

	// Sessions of both roles in the hostile database: a hanging query and an idle transaction whose texts are hostile,
	// statements of a hostile 10 kB text and hostile column names in pg_stat_statements.
	const sleeper = await connect(loginRole, hostileDb, `app${shown(everything)}`);
	const sleeperPid = (await sleeper.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
	void sleeper.query(`SELECT pg_sleep(600) /* ${everything} */`).catch(() => undefined);
	const idle = await connect(otherRole, hostileDb, shown(`${payloads.c1}${payloads.bidi}`));
	await idle.query('BEGIN');
	await idle.query(`SELECT count(*) AS ${quoteIdent(payloads.oscSt)} FROM pg_class /* ${everything} */`);
	const runner = await connect(loginRole, hostileDb, payloads.wide);
	await runner.query(`SELECT 1 AS ${quoteIdent(`${payloads.c1}${payloads.wide}`)} /* ${tenKb} */`);
	await runner.query(`SELECT 2 AS x -- ${payloads.unterminated}`);
	await waitFor(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = $2', [sleeperPid, 'active'])).rowCount === 1, {message: 'the hostile sleeper is active'});

	// The Queries loader as the hostile role, while every text can still be read.
	const statementsCtx = await loadContext(dsn);
	monitors.push(statementsCtx.monitor);
	const readable = (await loadStatements(statementsCtx, undefined)) as StatementsReady;
	assert.equal(readable.kind, 'ready');
	assert.equal(readable.textsError, undefined);
	return {sleeperPid, runner, statementsCtx, readable, psql: (await findPgTools(15)).psql};
}

// A setup that fails still stops the server it started.
const {sleeperPid, runner, statementsCtx, readable, psql} = await setup().catch(async (error: unknown) => {
	await cleanup();
	throw error;
});
const asciiUrl = server.url(asciiDb);

/**
 * Raw bytes, which only psql sends, in the SQL_ASCII database: a session whose query holds them, which
 * also puts them in pg_stat_statements; from then on no database can read texts with showtext.
 */
async function poison() {
	const rawSleep = spawn(psql, [asciiUrl, '-X', '-q'], {env: {...process.env, PGCLIENTENCODING: 'SQL_ASCII'}, stdio: ['pipe', 'ignore', 'ignore']});
	children.push(rawSleep);
	// pg_stat_statements lists only what has run, but converts the running one's text as well
	rawSleep.stdin.write(Buffer.concat([Buffer.from('SELECT 1 AS "'), rawBytes, Buffer.from('";\nSELECT pg_sleep(600) AS "'), rawBytes, Buffer.from('";\n')]));
	await waitFor(async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(600) AS %' AND state = 'active'")).rowCount === 1, {
		timeout: 20_000,
		message: 'the SQL_ASCII sleeper is active',
	});
}

type Violation = string;

/** Escape sequences the console itself writes: colours, cursor moves and erases, the cursor, the alternate screen. */
const ownSgr = new Set(['', '0', '1', '2', '3', '4', '7', '22', '23', '24', '27', '39', '49', ...Array.from({length: 8}, (_, i) => String(30 + i)), ...Array.from({length: 8}, (_, i) => String(90 + i))]);
function ownCsi(params: string, final: string): boolean {
	if (final === 'm') return params.split(';').every(p => ownSgr.has(p)) && !params.includes(';');
	if ('ABCDG'.includes(final)) return /^\d*$/.test(params);
	if (final === 'K') return /^[02]?$/.test(params);
	if (final === 'J') return /^[023]?$/.test(params);
	if (final === 'H') return params === '';
	// ?2026: synchronized output, so the terminal shows a frame only once it is whole
	if (final === 'h' || final === 'l') return params === '?25' || params === '?1049' || params === '?2026';
	return false;
}

/** What in these bytes did not come from the console: foreign escapes, C0/C1 controls, bidi and invisible characters, the marker. */
function violations(bytes: Buffer, options: {escapes: boolean}): Violation[] {
	const found: Violation[] = [];
	let text: string;
	try {
		text = new TextDecoder('utf-8', {fatal: true}).decode(bytes);
	} catch {
		return ['bytes that are not UTF-8'];
	}
	const seqs = new Map<string, number>();
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (c === 0x1b) {
			const csi = /^\u001b\[([0-?]*)([ -/]*)([@-~])/.exec(text.slice(i, i + 40));
			const seq = csi ? csi[0] : text.slice(i, i + 2);
			if (!options.escapes || !csi || csi[2] !== '' || !ownCsi(csi[1]!, csi[3]!)) seqs.set(JSON.stringify(seq), (seqs.get(JSON.stringify(seq)) ?? 0) + 1);
			i += seq.length - 1;
			continue;
		}
		if ((c < 0x20 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f)) found.push(`control U+${c.toString(16).padStart(4, '0')} at ${i}`);
	}
	for (const [seq, n] of seqs) found.push(`escape ${seq} x${n}`);
	const invisible = text.match(/[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|\udb40[\udc00-\udc7f]/g);
	if (invisible) found.push(`${invisible.length} bidi, zero-width or tag characters`);
	// A payload shown without its introducer: the sanitizer dropped a sequence's first character and left the rest.
	// (The marker may show in other forms, none of them an escape: percent-encoded in a DSN, made a file name.)
	const marker = text.search(/(?:\d;|\$q|Gapc-)PWNED/);
	if (options.escapes && marker >= 0) found.push(`the text of an escape sequence is on the screen: ${JSON.stringify(text.slice(Math.max(0, marker - 200), marker + 40))}`);
	return found.slice(0, 20);
}

function paneTitle(term: Terminal): string {
	return term.display('#{pane_title}');
}

/** The header on the first line, the connection state on the second, nothing wider than the terminal. */
function assertLayout(screen: string, columns: number, label: string) {
	const lines = screen.split('\n');
	// the role and the database as the sanitizer leaves them: r日🐘 and d語
	assert.match(lines[0] ?? '', /^intowork-db r日🐘:\*\*\*@127\.0\.0\.1:\d+\/d語 {2}PG 15\.\d+ {2}up /, `${label}: the header is the first line\n${screen}`);
	assert.match(lines[1] ?? '', /^● live every /, `${label}: the state is the second line\n${screen}`);
	for (const [i, line] of lines.entries()) assert.ok(stringWidth(line) <= columns, `${label}: line ${i} is ${stringWidth(line)} columns wide: ${line}`);
}

/** Only the hostile sleeper: the server turned its application_name's controls into '?'. */
const sleeperFilter = '^app\\?';
const filtered = /filter \/\^app\\\?\/ 1 of \d+/;

// Text each screen shows once it has its data.
const signatures: Record<string, RegExp> = {
	'1': /Cache hit ratio/,
	'2': /\d+ sessions: \d+ active/,
	'3': /statements/,
	'4': /Database\s+[\d.]+%/,
	'5': /\d+ tables/,
	'6': /Pre-flight for an apply/,
	'7': /Backups in /,
	'8': /Score \d+\/100/,
	'9': /actions? on this database/,
};

/**
 * The console as the hostile role on the hostile database: every screen, help, a session's details and
 * the kill dialog on the hostile query, then quit; returns the screens seen and every byte written.
 */
async function tour(size: {columns: number; rows: number}, queries: (term: Terminal, label: string) => Promise<void>): Promise<{bytes: Buffer; titleBefore: string; titleAfter: string}> {
	const record = path.join(base, `bytes-${size.columns}x${size.rows}`);
	const term = openTerminal([dsn], {...size, env, name: 'sanitize', record});
	try {
		const titleBefore = paneTitle(term);
		const label = (what: string) => `${what} at ${size.columns}x${size.rows}`;
		assertLayout(await see(term, [/● live/, signatures['1']!], 60_000), size.columns, label('overview'));
		for (const key of ['2', '3', '4', '5', '6', '7', '8', '9', '1']) {
			term.send(key);
			const title = columnsTitle[Number(key) - 1]!;
			const screen = await see(term, [new RegExp(`${key} ${title}`), signatures[key]!], 60_000);
			assertLayout(screen, size.columns, label(title));
			assert.doesNotMatch(screen, /Cannot load/, label(title));
			if (key === '3') await queries(term, label(title));
			// the hostile table, the largest, first by size
			if (key === '5') assert.match(screen, / t表 /, label(title));
		}
		term.send('?');
		assertLayout(await see(term, [/Target: r/, /role r/]), size.columns, label('help'));
		term.send('Escape');
		await see(term, [signatures['1']!]);

		// The hostile sleeper: its details, then the kill dialog, which is cancelled.
		term.send('2');
		await see(term, [/\d+ sessions: \d+ active/]);
		term.send('/');
		await see(term, [/Filter \(regex/]);
		term.type(sleeperFilter);
		await see(term, [/Filter \(regex[^:]*: \^app\\\?/]);
		term.send('Enter');
		await see(term, [filtered]);
		term.send('Enter');
		assertLayout(await see(term, [/pg_sleep\(600\)/, /application/]), size.columns, label('session details'));
		term.send('Escape');
		await see(term, [filtered]);
		term.send('c');
		assertLayout(await see(term, [/pg_sleep\(600\)/, /Esc/, new RegExp(`pid ${sleeperPid}`)]), size.columns, label('kill dialog'));
		term.send('Escape');
		await see(term, [filtered]);

		term.send('q');
		await see(term, [/^\[exit 0\]$/m]);
		const titleAfter = paneTitle(term);
		return {bytes: fs.readFileSync(record), titleBefore, titleAfter};
	} finally {
		term.kill();
	}
}

test('80x24: every screen of the console as a hostile role on a hostile database writes nothing but its own escapes', {timeout: 300_000}, async () => {
	// The hostile statements are readable yet: the list shows them, cleaned.
	const {bytes, titleBefore, titleAfter} = await tour({columns: 80, rows: 24}, async (term, label) => {
		// totals, the statements with a column alias, and the first one's whole text
		term.send('m');
		await see(term, [/Totals /]);
		term.send('/');
		await see(term, [/Filter \(text, role or query id\)/]);
		// "$1 AS": only the statements with a column alias, the runner's among them; "AS" alone also matched the
		// console's own, more of them than 80x24 shows on a busy machine, with the runner's tiny totals below the fold
		term.type('$1 AS');
		await see(term, [/Filter \(text, role or query id\): \$1 AS/]);
		term.send('Enter');
		const list = await see(term, [/Filter: \$1 AS/, /SELECT \$1 AS/]);
		assert.doesNotMatch(list, /unreadable/, label);
		term.send('Enter');
		assertLayout(await see(term, [/Normalized text/, /Query id -?\d+/]), 80, `${label} details`);
		term.send('Escape');
		await see(term, [/Filter: \$1 AS/]);
		term.send('Escape');
		await waitFor(() => !/Filter: \$1 AS/.test(term.capture()), {timeout: 10_000, message: 'the filter cleared'});
		term.send('m');
		await see(term, [/This interval/]);
	});
	assert.deepEqual(violations(bytes, {escapes: true}), []);
	assert.equal(titleAfter, titleBefore, 'the window title is unchanged');
	assert.ok(bytes.includes('日本語'), 'the wide characters reached the screen');
	assert.ok(bytes.includes('\u001b[?1049h'), 'the recording holds the console from its first write');
});

test('200x50: with a SQL_ASCII statement in pg_stat_statements, the Queries screen reads texts as bytes through the SQL_ASCII database, else keeps its numbers and says why', {timeout: 300_000}, async () => {
	await poison();
	const broken = await runner.query('SELECT query FROM pg_stat_statements(true)').then(
		() => undefined,
		(error: Error) => error.message,
	);
	assert.match(broken ?? 'no error', /invalid byte sequence for encoding "UTF8": 0x9b/, 'pg_stat_statements itself cannot give texts any more');

	// Loader level, while the SQL_ASCII database has no pg_stat_statements to read through: a refresh keeps the
	// texts it had, a statement new since then is marked, the numbers are all there, and it says what would help.
	// three constants: a query id of its own (column names are not part of it)
	await runner.query('SELECT 3 AS a, 4 AS b, 5 AS c /* fresh_after_poison */');
	const refreshed = (await loadStatements(statementsCtx, readable)) as StatementsReady;
	assert.equal(refreshed.kind, 'ready');
	assert.match(refreshed.textsError ?? '', /invalid byte sequence for encoding "UTF8": 0x9b/);
	assert.ok(refreshed.textsError?.includes(`${asciiDb}: CREATE EXTENSION pg_stat_statements there`), refreshed.textsError);
	assert.equal(refreshed.textsVia, undefined);
	const wide = refreshed.statements.find(st => st.text.includes('日本語🐘'));
	assert.ok(wide && !wide.unreadable && wide.calls >= 1, 'a text read before stays');
	const fresh = refreshed.statements.filter(st => st.unreadable);
	assert.ok(fresh.length >= 1 && fresh.every(st => st.text === '' && st.calls >= 1), 'new statements: numbers, no text');
	const cold = (await loadStatements(statementsCtx, undefined)) as StatementsReady;
	assert.equal(cold.kind, 'ready');
	assert.ok(cold.statements.length >= readable.statements.length, 'every statement is still listed');
	assert.ok(cold.statements.filter(st => !st.hidden).every(st => st.unreadable), 'without earlier texts, all are marked');

	// With the extension in the SQL_ASCII database, every text comes as bytes through a connection to it.
	const asciiAdmin = await connect(server.user, asciiDb, 'setup');
	await asciiAdmin.query('CREATE EXTENSION pg_stat_statements');
	const through = (await loadStatements(statementsCtx, undefined)) as StatementsReady;
	assert.equal(through.kind, 'ready');
	assert.equal(through.textsError, undefined);
	assert.equal(through.textsVia, asciiDb);
	const listed = through.statements.filter(st => !st.hidden);
	assert.deepEqual(listed.filter(st => st.unreadable), [], 'no text is missing');
	assert.ok(listed.some(st => st.text === 'SELECT $1 AS a, $2 AS b, $3 AS c /* fresh_after_poison */'), 'the statement new since the poison has its text');
	const tenKbStatement = listed.find(st => st.text.startsWith('SELECT $1 AS') && st.text.includes('日本語🐘'));
	assert.ok(tenKbStatement, 'the hostile statement read as bytes keeps its UTF-8');
	assert.equal([...tenKbStatement.text].length, 500, 'cut to the list length in characters, not bytes');
	// the detail view's whole text, through the same database
	const whole = await statementText(statementsCtx.db, through, tenKbStatement, statementsCtx.target);
	// exactly as sent, but for the lone surrogate, which the client sent as U+FFFD
	assert.equal(whole, `SELECT $1 AS ${quoteIdent(`${payloads.c1}${payloads.wide}`)} /* ${tenKb} */`.replaceAll(payloads.surrogate, '\ufffd'), 'the whole 10 kB text');
	// the p95 sampler behind the alerts, the header and watch reads the same way
	await runner.query(appQueries.job_list.sql, appQueries.job_list.params(await appQueryContext(runner), () => 0.42));
	// its entries are found by their texts, through the SQL_ASCII database; the counters are then read by queryid, texts unread
	const entries = await findLatencyEntries(statementsCtx.db, through.schema, statementsCtx.target);
	assert.ok([...entries.values()].includes('job_list'), JSON.stringify([...entries]));
	const latency = await sampleLatency(statementsCtx.db, through.version, through.schema, entries);
	assert.ok((latency.queries.job_list?.calls ?? 0) >= 1, JSON.stringify(latency));
	await assert.rejects(findLatencyEntries(statementsCtx.db, through.schema), /invalid byte sequence for encoding "UTF8": 0x9b/, 'without a way to the SQL_ASCII database');
	const next = (await loadStatements(statementsCtx, through)) as StatementsReady;
	assert.equal(next.textsVia, asciiDb, 'texts kept from the last refresh still say where they came from');

	const {bytes, titleBefore, titleAfter} = await tour({columns: 200, rows: 50}, async (term, label) => {
		// the database name as the sanitizer leaves it
		const list = await see(term, [/Texts read as bytes through SQL_ASCII database ascii: a statement holds bytes that are not UTF-8 \(shown as \\xNN\)/], 60_000);
		assertLayout(list, 200, label);
		assert.doesNotMatch(list, /unreadable/, label);
		// the statement new since the poison, among the totals
		term.send('m');
		await see(term, [/Totals /]);
		term.send('/');
		await see(term, [/Filter \(text, role or query id\)/]);
		term.type('fresh_after');
		term.send('Enter');
		assert.doesNotMatch(await see(term, [/Filter: fresh_after/, /SELECT \$1 AS a, \$2 AS b, \$3 AS c \/\* fresh_after_poison \*\//]), /unreadable/, label);
		term.send('Escape');
		await waitFor(() => !/Filter: fresh_after/.test(term.capture()), {timeout: 10_000, message: 'the filter cleared'});
		term.send('m');
		await see(term, [/This interval/]);
	});
	assert.deepEqual(violations(bytes, {escapes: true}), []);
	assert.equal(titleAfter, titleBefore, 'the window title is unchanged');
});

test('a console on the SQL_ASCII database shows its statement\'s bytes that are not UTF-8 as \\xNN, and the UTF-8 texts as they are', {timeout: 300_000}, async () => {
	// after the test above: the raw-bytes sleeper runs and the database has pg_stat_statements
	const utf8 = await connect(loginRole, asciiDb, 'utf8');
	await utf8.query('SELECT 1 AS "café_日本"');
	const asciiDsn = dsn.replace(encodeURIComponent(hostileDb), encodeURIComponent(asciiDb));
	const record = path.join(base, 'bytes-ascii');
	const term = openTerminal([asciiDsn], {columns: 200, rows: 50, env, name: 'sqlascii', record});
	try {
		await see(term, [/● live/], 60_000);
		term.send('3');
		await see(term, [/3 Queries/, /This interval/], 60_000);
		term.send('m');
		const screen = await see(term, [/Totals /, /SELECT \$1 AS "\\x9b2J\\x9d0;raw-bytes\\x9c\\xff\\xe9"/, /SELECT \$1 AS "café_日本"/, /Texts read as bytes through SQL_ASCII database ascii:/], 60_000);
		assert.doesNotMatch(screen, /unreadable|Cannot load/);
		// its whole text, read as bytes on the console's own connection
		term.send('/');
		await see(term, [/Filter \(text, role or query id\)/]);
		term.type('raw-bytes');
		term.send('Enter');
		await see(term, [/Filter: raw-bytes/, /›.*raw-bytes/]);
		term.send('Enter');
		assert.doesNotMatch(await see(term, [/Normalized text/, /^ {2}SELECT\s/m, /AS "\\x9b2J\\x9d0;raw-bytes\\x9c\\xff\\xe9"/]), /could not read/);
		term.send('q');
		await see(term, [/^\[exit 0\]$/m]);
	} finally {
		term.kill();
	}
	assert.deepEqual(violations(fs.readFileSync(record), {escapes: true}), []);
});

test('headless commands print hostile names and texts with every control escaped, and --json stays exact', {timeout: 300_000}, async () => {
	const clean = (label: string, out: {stdout: string; stderr: string}) => {
		for (const [stream, text] of Object.entries({stdout: out.stdout, stderr: out.stderr})) assert.deepEqual(violations(Buffer.from(text), {escapes: false}), [], `${label} ${stream}:\n${text}`);
	};
	const kill = await runCli(['kill', dsn, '--hanging', '--older-than', '1s', '--dry-run'], {env});
	assert.equal(kill.code, 0, kill.stderr);
	assert.match(kill.stdout, new RegExp(`pid ${sleeperPid} .*SELECT pg_sleep\\(600\\)`));
	assert.match(kill.stdout, /Dry run: would cancel \d+ sessions?; nothing was sent\./);
	clean('kill --dry-run', kill);
	// The target in the first line shows the database name's controls as escapes, not as what they do.
	assert.ok(kill.stdout.includes('\\u001b]2;PWNED-d\\u001b\\'), kill.stdout);

	const status = await runCli(['migrate', '--status', '--dsn', dsn], {env});
	assert.match(status.stdout, /Migration h8c2d6e5f4g3 .* NOT APPLIED/);
	clean('migrate --status', status);

	const check = await runCli(['check', '--json', '--dsn', dsn], {env, timeout: 240_000});
	clean('check --json', check);
	const report = JSON.parse(check.stdout) as {role: string; target: string; items: Array<{id: number; verdict: string; evidence: string[]}>};
	assert.equal(report.role, loginRole, 'the role comes back exactly from the JSON');
	// pg_stat_statements holds the SQL_ASCII statement by now (the test above): monitoring is still judged
	const monitoring = report.items.find(item => item.id === 7);
	assert.equal(monitoring?.verdict, 'pass', JSON.stringify(monitoring));
	assert.ok(monitoring.evidence.some(line => /^collecting: \d+ statements/.test(line)), JSON.stringify(monitoring));
	assert.ok(report.target.endsWith(`/${hostileDb}`), 'so does the database');

	const missing = await runCli(['migrate', '--status', '--dsn', dsn.replace(encodeURIComponent(hostileDb), encodeURIComponent(`${hostileDb}-gone`))], {env});
	assert.equal(missing.code, 5);
	assert.match(missing.stderr, /does not exist/);
	clean('no such database', missing);
});
