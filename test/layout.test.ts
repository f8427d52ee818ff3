import assert from 'node:assert/strict';
import {test} from 'node:test';
import stringWidth from 'string-width';
import {alertLine} from '../source/components/fleet-strip.js';
import {footerHints} from '../source/components/footer.js';
import {cellText, fitColumns, sortedColumns, type Column} from '../source/components/table.js';
import {groupWorkers, waitLabel, type Backend} from '../source/db/connections.js';
import {fit, fitIdent, sharedPrefix} from '../source/format.js';
import {activeCommands} from '../source/keymap.js';

type Row = {name: string; rows: number; size: string};
const columns: Column<Row>[] = [
	{key: 'name', title: 'table', width: 14, grow: 1, ident: true, value: r => r.name},
	{key: 'rows', title: 'seq rows', width: 8, align: 'right', value: r => r.rows.toLocaleString('en-US')},
	{key: 'size', title: 'size', width: 9, align: 'right', priority: 1, value: r => r.size},
];
const rows: Row[] = [
	{name: 'jobs', rows: 846_340_012, size: '135 MB'},
	{name: 'job_applications', rows: 160_859_213, size: '131 MB'},
];

/** Every cell of every row, as the table prints it. */
const cells = (width: number) => {
	const fitted = fitColumns(columns, width, rows);
	return {fitted, lines: rows.map(r => fitted.columns.map(c => cellText(c, c.value(r))).join(' '))};
};

test('a number column gets the width of its widest value first; the name takes what is left', () => {
	const {fitted, lines} = cells(200);
	assert.equal(fitted.hidden, 0);
	assert.equal(fitted.columns.find(c => c.key === 'rows')!.actual, '846,340,012'.length);
	assert.match(lines[0]!, /846,340,012/);
	const narrow = cells(30);
	assert.deepEqual(
		narrow.fitted.columns.map(c => c.key),
		['name', 'rows'],
		'the low-priority column goes first',
	);
	assert.equal(narrow.fitted.hidden, 1);
	for (const line of narrow.lines) assert.doesNotMatch(line, /\d…/);
	assert.match(narrow.lines[1]!, / 160,859,213$/);
});

test('a number that cannot fit drops its column, never a cut number', () => {
	const {fitted, lines} = cells(12);
	assert.deepEqual(
		fitted.columns.map(c => c.key),
		['name'],
	);
	assert.equal(fitted.hidden, 2, 'the header marks both hidden columns');
	for (const line of lines) assert.doesNotMatch(line, /\d/);
});

test('the sort column is marked and kept', () => {
	const sorted = sortedColumns(columns, {key: 'size', descending: true});
	const fitted = fitColumns(sorted, 22, rows);
	assert.deepEqual(
		fitted.columns.map(c => c.title),
		['table', 'size↓'],
		'the sort key stays; the other number column goes instead',
	);
});

test('a sort column of text (a start time) keeps its width: another text column gives it up', () => {
	type Backup = {file: string; started: string};
	const backups: Backup[] = [{file: 'intowork_20261201T170512Z.dump', started: '2026-12-01 17:05'}];
	const backupColumns: Column<Backup>[] = [
		{key: 'file', title: 'File', width: 30, grow: 1, ident: true, value: b => b.file},
		{key: 'started', title: 'Started', width: 16, priority: 2, value: b => b.started},
	];
	const fitted = fitColumns(sortedColumns(backupColumns, {key: 'started', descending: true}), 40, backups);
	assert.deepEqual(
		fitted.columns.map(c => [c.title, c.actual]),
		[
			['File', 23],
			['Started↓', 16],
		],
	);
	const line = fitted.columns.map(c => cellText(c, c.value(backups[0]!))).join(' ');
	assert.match(line, / 2026-12-01 17:05$/);
	assert.doesNotMatch(line, /\d…/);
});

test('cut text never leaves a digit before the …, not even a whole word that ends in one', () => {
	assert.equal(fit('SELECT current_setting($2, true)', 26), 'SELECT current_setting(…  ');
	assert.equal(fit('p95 17.4ms over target', 9), 'p95 …    ');
	assert.equal(fit('started 2026-12-01 17:05', 19), 'started …          ');
	assert.equal(fit('read 18:09:41 · pool', 9), 'read …   ', 'a cut after a number\'s separator is a cut number too');
	assert.equal(fit('avg query 3.7ms', 15), 'avg query 3.7ms');
	assert.equal(fit('avg query 3.7ms', 14), 'avg query …   ');
	assert.equal(fit('wait 0.00ms · avg', 11), 'wait …     ', 'nor a unit cut off its number');
	assert.equal(fit('SELECT a FROM t', 10), 'SELECT a …', 'text without a digit is cut where it falls');
});

test('the alert strip, cut to the terminal, never ends in a number cut short', () => {
	const since = new Date(2026, 11, 1, 17, 46, 35).getTime();
	const alerts = [
		{key: 'p:slow', target: 'primary', kind: 'latency' as const, text: 'job list p95≈1576ms (> 100ms)', since},
		{key: 'p:cache', target: 'primary', kind: 'cache' as const, text: 'cache hit 45.3% over 1m20s (< 95%)', since},
	];
	const whole = alertLine(alerts, 200);
	assert.equal(whole, '▲ 2 alerts: cache hit 45.3% over 1m20s (< 95%) since 17:46:35 · job list p95≈1576ms (> 100ms) since 17:46:35');
	for (let width = 20; width < stringWidth(whole); width++) {
		const line = alertLine(alerts, width);
		assert.ok(stringWidth(line) <= width, line);
		assert.doesNotMatch(line, /\d…/, `at ${width}: ${line}`);
	}
});

test('identifiers lose a shared prefix or their middle, never their end', () => {
	assert.equal(sharedPrefix(['intowork-reports', 'intowork-admin', 'intowork-api']), 'intowork-');
	assert.equal(sharedPrefix(['intowork-reports', 'postgres']), '');
	assert.equal(sharedPrefix(['t_13877_23405_0', 't_13877_23405_0']), '', 'the same name on every row keeps its start');
	assert.equal(fitIdent('t_13877_23405_0', 10, sharedPrefix(['t_13877_23405_0', 't_13877_23405_0'])), 't_…23405_0');
	assert.equal(fitIdent('intowork-reports', 12, 'intowork-'), '…-reports   ');
	assert.equal(fitIdent('intowork-admin', 12, 'intowork-'), '…-admin     ');
	assert.equal(fitIdent('intowork-api', 12, 'intowork-'), 'intowork-api', 'a name that fits stays whole');
	assert.equal(fitIdent('job_applications', 11), 'job_a…tions');
	assert.equal(fitIdent('job_applications', 11).length, 11);
});

test('wait events keep the part that tells them apart', () => {
	assert.equal(waitLabel({waitEventType: 'Lock', waitEvent: 'transactionid'}), 'Lock:txid');
	assert.equal(waitLabel({waitEventType: 'Client', waitEvent: 'ClientRead'}), 'Client:Read');
	assert.equal(waitLabel({waitEventType: 'Lock', waitEvent: 'tuple'}), 'Lock:tuple');
	assert.equal(waitLabel({waitEventType: 'Timeout', waitEvent: 'PgSleep'}), 'Timeout:Sleep');
	assert.equal(waitLabel({waitEventType: 'IO', waitEvent: 'DataFileRead'}), 'IO:DataFileRead');
	assert.equal(waitLabel({waitEventType: null, waitEvent: null}), '');
});

const backend = (pid: number, leaderPid: number | null = null): Backend =>
	({key: `${pid}@t`, pid, leaderPid, application: 'intowork-reports', state: 'active'}) as Backend;

test('parallel workers are counted under their leader and listed only when expanded', () => {
	const list = [backend(10), backend(11, 10), backend(20), backend(12, 10), backend(30, 99)];
	const folded = groupWorkers(list, new Set());
	assert.deepEqual(
		folded.rows.map(b => b.pid),
		[10, 20, 30],
		'workers of a listed leader are folded; one whose leader is not listed stays',
	);
	assert.equal(folded.workers.get(10), 2);
	const open = groupWorkers(list, new Set(['10@t']));
	assert.deepEqual(
		open.rows.map(b => b.pid),
		[10, 11, 12, 20, 30],
	);
	assert.deepEqual([...open.nested], ['11@t', '12@t']);
});

test('the footer keeps q quit and ? help whole at 80 columns; the screen hints give way', () => {
	const line = footerHints(activeCommands('migration', false), activeCommands('global', false), 80);
	assert.ok(line.length <= 80, line);
	assert.match(line, /│ {2}q quit {2}\? help {2}p pause$/);
	assert.match(line, /^m apply .*…/);
});
