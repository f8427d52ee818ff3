import {detectCapabilities, type Capabilities} from '../db/capabilities.js';
import type {Queryable} from '../db/monitor.js';
import {quoteIdent} from '../db/sql.js';
import {statementsSchema} from '../db/statements.js';
import {formatNumber} from '../format.js';
import type {Verdict} from './items.js';

export type MonitoringEvidence = {
	serverVersion: string;
	statements: Capabilities['statements'];
	/** pg_stat_statements.track: 'none' collects nothing even when everything else is right */
	track?: string;
	entries?: number;
	calls?: number;
};

/** Read afresh each time, not from the console's start: someone may be running CREATE EXTENSION right now. */
export async function readMonitoring(db: Queryable): Promise<MonitoringEvidence> {
	const caps = await detectCapabilities(db);
	const evidence: MonitoringEvidence = {serverVersion: caps.serverVersion, statements: caps.statements};
	if (caps.statements.state !== 'ok') return evidence;
	const schema = (await statementsSchema(db)) ?? 'public';
	const r = await db.query<{track: string | null; entries: string; calls: string}>(
		// without texts: the view reads them all, and one SQL_ASCII statement with bytes not valid here fails it for every database
		`SELECT current_setting('pg_stat_statements.track', true) AS track, count(*) AS entries, coalesce(sum(calls), 0) AS calls FROM ${quoteIdent(schema)}.pg_stat_statements(false)`,
	);
	const row = r.rows[0]!;
	return {...evidence, track: row.track ?? undefined, entries: Number(row.entries), calls: Number(row.calls)};
}

export function judgeMonitoring(e: MonitoringEvidence): {verdict: Verdict; evidence: string[]; fix?: string[]} {
	const s = e.statements;
	const server = e.serverVersion.split(' ')[0];
	const evidence = [
		`shared_preload_libraries ${s.preloaded ? 'includes' : 'lacks'} pg_stat_statements`,
		s.version ? `extension ${s.version} created (this server's files: ${s.availableVersion ?? 'not installed'}, PostgreSQL ${server})` : 'extension not created in this database',
	];
	if (s.state !== 'ok') return {verdict: 'fail', evidence, fix: s.fix ? [s.fix] : undefined};
	const collecting = e.track !== 'none' && (e.calls ?? 0) > 0;
	evidence.push(`collecting: ${formatNumber(e.entries)} statements, ${formatNumber(e.calls)} calls (track = ${e.track ?? 'top'})`);
	if (e.track === 'none') return {verdict: 'fail', evidence, fix: ["ALTER SYSTEM SET pg_stat_statements.track = 'top'; SELECT pg_reload_conf();"]};
	return {verdict: collecting ? 'pass' : 'fail', evidence};
}
